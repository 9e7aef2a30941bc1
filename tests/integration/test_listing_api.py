"""Listings by API (issue 14): the whole path from draft to storefront through the API, with
the console's validation."""

from __future__ import annotations

import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog.models import Solution
from tests.billing.test_outcomes import png_bytes
from tests.catalog.factories import OUTCOME, USAGE, operator_actor, payload, vendor_actor
from tests.factories import create_token, login


@pytest.fixture
def config(config: dict[str, object], tmp_path: Any) -> dict[str, object]:
    config["UPLOAD_FOLDER"] = str(tmp_path / "uploads")
    config["RATELIMIT_ENABLED"] = False
    return config


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_listing_created_planned_submitted_and_approved_by_api_shows_on_the_storefront(
    client: FlaskClient, session: Session
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    vendor_token = create_token(session, vendor.user, vendor.organization)
    operator_token = create_token(session, operator.user, operator.organization)
    session.commit()
    draft = payload(slug="api-listed-qc")
    draft.pop("plans")
    created = client.post("/api/v1/listings", json=draft, headers=bearer(vendor_token))
    assert created.status_code == 201, created.get_json()
    listing = created.get_json()
    assert listing["status"] == "draft" and listing["current"]["plans"] == []
    listing_id = listing["id"]

    early = client.post(f"/api/v1/listings/{listing_id}/submit", headers=bearer(vendor_token))
    assert early.status_code == 422 and set(early.get_json()["error"]["fields"]) == {"plans"}

    planned = client.put(
        f"/api/v1/listings/{listing_id}/plans",
        json={"plans": [USAGE, OUTCOME]},
        headers=bearer(vendor_token),
    )
    assert planned.status_code == 200, planned.get_json()
    assert [p["billing_model"] for p in planned.get_json()["current"]["plans"]] == [
        "usage",
        "outcome",
    ]
    shot = client.post(
        f"/api/v1/listings/{listing_id}/screenshots",
        data={"file": (io.BytesIO(png_bytes()), "screen.png"), "caption": "检测界面"},
        headers=bearer(vendor_token),
        content_type="multipart/form-data",
    )
    assert shot.status_code == 201, shot.get_json()
    assert shot.get_json()["caption"] == "检测界面"

    submitted = client.post(f"/api/v1/listings/{listing_id}/submit", headers=bearer(vendor_token))
    assert submitted.get_json()["status"] == "submitted"
    assert client.get("/solutions/api-listed-qc").status_code == 404  # not before approval

    rejected = client.post(
        f"/api/v1/listings/{listing_id}/reject",
        json={"note": "请补充案例的量化结果"},
        headers=bearer(operator_token),
    )
    assert rejected.status_code == 200, rejected.get_json()
    review = client.get(f"/api/v1/listings/{listing_id}", headers=bearer(vendor_token)).get_json()
    assert review["status"] == "rejected"
    assert review["current"]["review_note"] == "请补充案例的量化结果"
    client.post(f"/api/v1/listings/{listing_id}/submit", headers=bearer(vendor_token))
    approved = client.post(f"/api/v1/listings/{listing_id}/approve", headers=bearer(operator_token))
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "published"

    storefront = client.get("/solutions/api-listed-qc")
    assert storefront.status_code == 200
    assert draft["name"] in storefront.get_data(as_text=True)
    detail = client.get("/api/v1/solutions/api-listed-qc").get_json()
    assert [p["billing_model"] for p in detail["plans"]] == ["usage", "outcome"]
    found = client.get("/api/v1/solutions", query_string={"q": "质检"}).get_json()
    assert "api-listed-qc" in [i["slug"] for i in found["items"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scenarios": ["pm.quality", "pm.energy", "pm.safety", "pm.maintenance"]}, "scenarios"),
        ({"deploy_days": 400}, "deploy_days"),
        ({"name": ""}, "name"),
        (
            {"case_studies": [{"customer_industry": "C33", "problem": "", "result": "好"}]},
            "case_studies[0].problem",
        ),
    ],
)
def test_invalid_input_names_the_field_with_the_consoles_message(
    app: Flask, client: FlaskClient, session: Session, change: dict[str, Any], field: str
) -> None:
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    body = {**payload(), **change}
    body.pop("plans")
    response = client.post("/api/v1/listings", json=body, headers=bearer(token))
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert list(fields) == [field]
    (message,) = fields[field]
    assert session.query(Solution).filter_by(vendor_id=vendor.organization.id).count() == 0

    login(client, vendor.user)
    form: dict[str, Any] = {
        key: body[key]
        for key in (
            "name",
            "summary",
            "description",
            "industries",
            "scenarios",
            "delivery",
            "deploy_days",
            "voucher_kinds",
        )
    }
    for row, study in enumerate(body["case_studies"]):
        for key, value in study.items():
            form[f"case_studies-{row}-{key}"] = value
    page = client.post("/vendor/solutions/new", data=form)
    assert page.status_code == 200  # the form again, with the refusal at its field
    assert message in page.get_data(as_text=True)


def test_another_vendors_listing_is_not_found(client: FlaskClient, session: Session) -> None:
    vendor, other = vendor_actor(session), vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    stranger = create_token(session, other.user, other.organization)
    session.commit()
    body = payload()
    listing = client.post("/api/v1/listings", json=body, headers=bearer(token)).get_json()
    url = f"/api/v1/listings/{listing['id']}"
    assert client.get(url, headers=bearer(stranger)).status_code == 404
    content = payload()
    content.pop("plans")
    assert client.put(url, json=content, headers=bearer(stranger)).status_code == 404
    assert client.post(f"{url}/submit", headers=bearer(stranger)).status_code == 404


def test_fulfillment_url_is_checked_by_the_shared_validator(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    listing = client.post("/api/v1/listings", json=payload(), headers=bearer(token)).get_json()
    url = f"/api/v1/listings/{listing['id']}/fulfillment-url"
    refused = client.put(
        url, json={"fulfillment_url": "https://127.0.0.1/x"}, headers=bearer(token)
    )
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == {"fulfillment_url"}
    accepted = client.put(
        url, json={"fulfillment_url": "https://8.8.8.8/signup"}, headers=bearer(token)
    )
    assert accepted.status_code == 200
    assert accepted.get_json()["fulfillment_url"] == "https://8.8.8.8/signup"
