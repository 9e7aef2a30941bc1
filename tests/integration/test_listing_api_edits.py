"""Listings by API beyond the first publication (issue 14): a draft's content and case
studies updated, a refused update leaving it as it was, a version in review withdrawn, a
screenshot removed, and an edit of a published listing reviewed again while the published
version stays on the storefront."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.billing.test_outcomes import png_bytes
from tests.catalog.factories import operator_actor, payload, publish_solution, vendor_actor
from tests.factories import create_token


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    return {**config, "UPLOAD_FOLDER": str(tmp_path / "uploads"), "RATELIMIT_ENABLED": False}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def content(**overrides: Any) -> dict[str, Any]:
    body = payload(**overrides)
    body.pop("plans")
    return body


def test_a_draft_is_updated_withdrawn_and_its_screenshot_removed(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    created = client.post("/api/v1/listings", json=payload(), headers=bearer(token)).get_json()
    url = f"/api/v1/listings/{created['id']}"

    study = {
        "customer_industry": "C34",
        "customer": "某阀门厂",
        "problem": "密封面划伤靠人工抽检",
        "result": "全检后客诉下降 60%",
    }
    changed = content(name="焊缝视觉检测", case_studies=[study])
    updated = client.put(url, json=changed, headers=bearer(token))
    assert updated.status_code == 200, updated.get_json()
    assert updated.get_json()["current"]["name"] == "焊缝视觉检测"
    assert updated.get_json()["current"]["case_studies"] == [study]

    refused = client.put(url, json=content(deploy_days=-1), headers=bearer(token))
    assert refused.status_code == 422
    assert list(refused.get_json()["error"]["fields"]) == ["deploy_days"]
    assert client.get(url, headers=bearer(token)).get_json() == updated.get_json()

    shot = client.post(
        f"{url}/screenshots",
        data={"file": (io.BytesIO(png_bytes()), "screen.png")},
        headers=bearer(token),
        content_type="multipart/form-data",
    ).get_json()
    assert (
        client.delete(f"{url}/screenshots/{shot['id']}", headers=bearer(token)).status_code == 204
    )
    assert client.get(url, headers=bearer(token)).get_json()["current"]["screenshots"] == []

    assert client.post(f"{url}/submit", headers=bearer(token)).get_json()["status"] == "submitted"
    in_review = client.put(url, json=changed, headers=bearer(token))
    assert in_review.status_code == 409  # wait for the decision or withdraw
    withdrawn = client.post(f"{url}/withdraw", headers=bearer(token))
    assert withdrawn.status_code == 200 and withdrawn.get_json()["status"] == "draft"
    assert client.post(f"{url}/withdraw", headers=bearer(token)).status_code == 409


def test_an_edit_of_a_published_listing_is_reviewed_while_the_old_one_stays(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = publish_solution(session, vendor, operator, slug="api-edit-live")
    old_name = solution.published.name
    token = create_token(session, vendor.user, vendor.organization)
    operator_token = create_token(session, operator.user, operator.organization)
    session.commit()
    url = f"/api/v1/listings/{solution.id}"

    edited = client.put(url, json=content(name="新版视觉质检"), headers=bearer(token)).get_json()
    assert edited["status"] == "published" and edited["current"]["name"] == "新版视觉质检"
    assert edited["published_revision"] == 1 and edited["current"]["number"] == 2
    client.post(f"{url}/submit", headers=bearer(token))
    page = client.get("/solutions/api-edit-live").get_data(as_text=True)
    assert old_name in page and "新版视觉质检" not in page

    approved = client.post(f"{url}/approve", headers=bearer(operator_token))
    assert approved.status_code == 200 and approved.get_json()["published_revision"] == 2
    assert "新版视觉质检" in client.get("/solutions/api-edit-live").get_data(as_text=True)
