"""A vendor's business licence (营业执照): its owner uploads it on the organization page
(checked by content), and the operator verifying the vendor sees it beside the USCC;
nobody outside the organization but the operator opens the file."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.licences import BusinessLicence
from marketplace.models import Role
from tests.billing.test_outcomes import png_bytes
from tests.catalog.factories import operator_actor, vendor_actor
from tests.factories import add_member, login


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    return config


def send(client: FlaskClient, data: bytes, name: str) -> Any:
    return client.post(
        "/organization/licence",
        data={"licence": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_the_operator_sees_the_uploaded_licence_beside_the_uscc(
    client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    vendor = vendor_actor(session, verified=False)
    vendor.user.locale = "en"  # the assertions quote English messages
    session.flush()
    login(client, vendor.user)
    own = client.get("/organization").get_data(as_text=True)
    assert 'data-licence="no"' in own and "data-licence-upload" in own

    refused = send(client, b"just some text, not a licence", "licence.png")
    assert refused.status_code == 303
    assert "PDF, PNG or JPEG" in client.get("/organization").get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(BusinessLicence)) == 0
    assert not (tmp_path / "uploads" / "licences").exists() or not any(
        (tmp_path / "uploads" / "licences").iterdir()
    )

    assert send(client, png_bytes(), "营业执照.png").status_code == 303
    licence = session.scalars(sa.select(BusinessLicence)).one()
    assert licence.organization_id == vendor.organization.id
    assert licence.content_type == "image/png" and licence.filename == "营业执照.png"

    operator = operator_actor(session)
    login(client, operator.user)
    html = client.get(f"/console/organizations/{vendor.organization.id}").get_data(as_text=True)
    assert vendor.organization.uscc in html
    assert "data-licence-image" in html
    href = f"/organizations/{vendor.organization.id}/licence"
    assert href in html
    image = client.get(href)
    assert image.status_code == 200 and image.data == png_bytes()
    assert image.headers["Content-Type"] == "image/png"
    image.close()

    # A PDF replaces it and is shown as a link.
    login(client, vendor.user)
    assert send(client, b"%PDF-1.7\n%%EOF\n", "licence.pdf").status_code == 303
    login(client, operator.user)
    html = client.get(f"/console/organizations/{vendor.organization.id}").get_data(as_text=True)
    assert "data-licence-link" in html and "data-licence-image" not in html

    # Another vendor does not find it; a plain member cannot replace it.
    other = vendor_actor(session)
    login(client, other.user)
    assert client.get(href).status_code == 404
    member = add_member(session, vendor.organization, Role.MEMBER)
    login(client, member)
    assert send(client, png_bytes(), "x.png").status_code == 403
