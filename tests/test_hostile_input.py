"""Hostile input through the real WSGI stack never answers 500: a NUL byte in a path, an
image that claims billions of pixels, a multipart body whose part header is broken, and a
method the route does not take. Pages answer in the user's language, the API in its error
shape."""

from __future__ import annotations

import struct
import zlib

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.outcomes import evidence
from catalog import screenshots
from marketplace.errors import DomainError
from tests.catalog.factories import create_solution
from tests.factories import create_token
from tests.vouchers.factories import vendor_actor


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header whose IHDR claims ``width`` x ``height`` pixels (68 bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


BOMB = png_claiming(100_000, 100_000)


def is_api_error(response, status: int) -> bool:
    body = response.get_json(silent=True) or {}
    return response.status_code == status and {"code", "message"} <= set(body.get("error", {}))


# --- NUL bytes in the path ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/solutions/a%00b",
        "/api/v1/solutions/a%00b/plans",
        "/api/v1/voucher-programs/a%00b",
    ],
)
def test_a_nul_byte_in_an_api_path_is_not_found(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert is_api_error(response, 404), response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(
    "path", ["/solutions/a%00b", "/solutions/a%00b/estimate", "/vendor/solutions/a%00b", "/a%00b"]
)
def test_a_nul_byte_in_a_page_path_is_not_found_in_the_users_language(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "未找到" in response.get_data(as_text=True)
    client.post("/language", data={"lang": "en"})
    english = client.get(path)
    assert english.status_code == 404
    assert "Not found" in english.get_data(as_text=True)


# --- images that claim too many pixels ----------------------------------------------------


def test_the_bomb_png_is_tiny() -> None:
    assert len(BOMB) < 100


def test_evidence_refuses_an_image_claiming_too_many_pixels() -> None:
    with pytest.raises(DomainError) as refused:
        evidence.sniff(BOMB)
    assert refused.value.field == "evidence"


@pytest.mark.parametrize("size", [(100_000, 100_000), (12_000, 12_000), (30_000, 1)])
def test_screenshot_refuses_an_image_claiming_too_many_pixels(size: tuple[int, int]) -> None:
    with pytest.raises(DomainError) as refused:
        screenshots.inspect_image(png_claiming(*size))
    assert refused.value.field == "screenshot"


def test_bomb_uploaded_as_evidence_through_the_api_is_a_422(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    from tests.billing.test_outcomes import agreed, reported

    contract, _buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    import io

    response = client.post(
        f"/api/v1/outcome-reports/{result.id}/evidence",
        data={"file": (io.BytesIO(BOMB), "bomb.png", "image/png")},
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert is_api_error(response, 422), response.get_data(as_text=True)[:300]
    assert (
        "evidence" in response.get_json()["error"]["fields"]
        or "file" in (response.get_json()["error"]["fields"])
    )


def test_bomb_uploaded_as_a_screenshot_is_refused_in_chinese(
    app: Flask, session: Session, tmp_path
) -> None:
    import io

    from tests.catalog.test_vendor_console import signed_in

    app.config["UPLOAD_FOLDER"] = str(tmp_path)
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    session.commit()
    client = signed_in(app, vendor)
    response = client.post(
        f"/vendor/solutions/{solution.id}/screenshots",
        data={"screenshot": (io.BytesIO(BOMB), "bomb.png", "image/png"), "caption": "x"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code in (200, 422)
    assert "像素" in response.get_data(as_text=True)


# --- malformed multipart ------------------------------------------------------------------

MALFORMED = b'--XyZ\r\nContent-Disposition: form-data; name="a\\"\r\n\r\nvalue\r\n--XyZ--\r\n'


@pytest.mark.parametrize(
    "path", ["/login", "/", "/register", "/api/v1/usage-events", "/billing/webhooks/stripe"]
)
def test_a_malformed_multipart_part_header_is_a_client_error(
    client: FlaskClient, path: str
) -> None:
    response = client.post(path, data=MALFORMED, content_type="multipart/form-data; boundary=XyZ")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(
    "body",
    [
        b"--XyZ\r\nContent-Disposition: form-data; name=\r\n\r\nv\r\n--XyZ--\r\n",
        b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--\r\n",
        b'--XyZ\r\nContent-Disposition: form-data; name="a"; filename="\\"\r\n\r\nv\r\n--XyZ',
        b"--XyZ\r\n\r\n\r\n--XyZ--\r\n",
        b"garbage without a boundary",
        b'--XyZ\r\nContent-Disposition: form-data; name="a\x00"\r\n\r\nv\r\n--XyZ--\r\n',
    ],
)
def test_other_broken_multipart_bodies_are_client_errors(client: FlaskClient, body: bytes) -> None:
    for path in ("/login", "/", "/api/v1/usage-events"):
        response = client.post(path, data=body, content_type="multipart/form-data; boundary=XyZ")
        # A login page that asks for the e-mail again is as good an answer as a 400.
        assert response.status_code < 500, (path, response.status_code)


# --- 405 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/solutions"),
        ("PUT", "/api/v1/usage-events"),
        ("PATCH", "/api/v1/vouchers"),
    ],
)
def test_api_405_says_which_methods_are_allowed(
    client: FlaskClient, method: str, path: str
) -> None:
    response = client.open(path, method=method)
    assert is_api_error(response, 405)
    assert response.headers.get("Allow")
    assert method not in response.headers["Allow"]
