"""Billing endpoints of the JSON API, through HTTP with bearer tokens."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import Contract, UsageEvent
from marketplace.db import utcnow
from tests.billing.factories import buyer_actor, offered_plan, subscription_terms, usage_terms
from tests.catalog.factories import vendor_actor
from tests.factories import create_token


def auth(session: Session, actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def test_buyer_starts_a_usage_contract_and_vendor_meters_it(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    plan = offered_plan(session, usage_terms(free_units=0), vendor)
    buyer = buyer_actor(session)
    response = client.post(
        "/api/v1/contracts",
        json={"plan_id": plan.id, "spend_cap_fen": 500_000, "accept_agreement_version": 1},
        headers=auth(session, buyer),
    )
    assert response.status_code == 201, response.get_json()
    contract = response.get_json()
    assert contract["status"] == "active" and contract["billing_model"] == "usage"

    vendor_headers = auth(session, vendor)
    now = utcnow()
    events = [
        {
            "id": f"evt-{i}",
            "contract_id": contract["id"],
            "meter": plan.meter,
            "quantity": 100,
            "occurred_at": (now + timedelta(seconds=i)).isoformat(),
        }
        for i in range(3)
    ]
    body = client.post(
        "/api/v1/usage-events", json={"events": events}, headers=vendor_headers
    ).get_json()
    assert body == {"accepted": 3, "duplicates": [], "rejected": []}
    again = client.post(
        "/api/v1/usage-events", json={"events": events[:1]}, headers=vendor_headers
    ).get_json()
    assert again == {"accepted": 0, "duplicates": ["evt-0"], "rejected": []}

    usage = client.get(
        f"/api/v1/contracts/{contract['id']}/usage", headers=auth(session, buyer)
    ).get_json()
    assert usage["quantity"] == "300" and usage["estimated_charge_fen"] == 600  # 300 x 2 fen


def test_usage_batch_limits_and_auth_order(client: FlaskClient, session: Session) -> None:
    vendor = vendor_actor(session)
    too_many = {"events": [{"id": str(i)} for i in range(1001)]}
    assert client.post("/api/v1/usage-events", json=too_many).status_code == 401  # auth first
    response = client.post("/api/v1/usage-events", json=too_many, headers=auth(session, vendor))
    assert response.status_code == 422 and "events" in response.get_json()["error"]["fields"]
    assert session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == 0


def test_malformed_events_are_rejected_one_by_one(client: FlaskClient, session: Session) -> None:
    vendor = vendor_actor(session)
    events = [
        {
            "id": "a",
            "contract_id": "x",
            "meter": "m",
            "quantity": 1,
            "occurred_at": utcnow().isoformat(),
        },
        {
            "id": "b",
            "contract_id": 1,
            "meter": "m",
            "quantity": -1,
            "occurred_at": utcnow().isoformat(),
        },
        {"id": "c", "contract_id": 1, "meter": "m", "quantity": 1, "occurred_at": "yesterday"},
        {
            "id": "d",
            "contract_id": 1,
            "meter": "m",
            "quantity": 1,
            "occurred_at": "2026-01-01T00:00:00",
        },
    ]
    body = client.post(
        "/api/v1/usage-events", json={"events": events}, headers=auth(session, vendor)
    ).get_json()
    assert body["accepted"] == 0
    assert [r["reason"].split(":")[0] for r in body["rejected"]] == [
        "invalid_contract_id",
        "invalid_quantity",
        "invalid_occurred_at",
        "invalid_occurred_at",
    ]


def test_only_buyers_start_contracts_and_only_parties_see_them(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    plan = offered_plan(session, subscription_terms(trial_days=0), vendor)
    assert (
        client.post(
            "/api/v1/contracts", json={"plan_id": plan.id}, headers=auth(session, vendor)
        ).status_code
        == 403
    )
    buyer = buyer_actor(session)
    contract = client.post(
        "/api/v1/contracts",
        json={"plan_id": plan.id, "accept_agreement_version": 1},
        headers=auth(session, buyer),
    ).get_json()
    stranger = buyer_actor(session)
    for path in (f"/api/v1/contracts/{contract['id']}",):
        assert client.get(path, headers=auth(session, stranger)).status_code == 404
        assert client.get(path, headers=auth(session, vendor)).status_code == 200
    invoices = client.get("/api/v1/invoices", headers=auth(session, buyer)).get_json()
    assert invoices["total"] == 1
    invoice = invoices["items"][0]
    assert invoice["total_fen"] == 99_900 and invoice["amount_due_fen"] == 99_900
    assert invoice["subtotal_fen"] + invoice["tax_fen"] == invoice["total_fen"]
    detail = client.get(
        f"/api/v1/invoices/{invoice['id']}", headers=auth(session, buyer)
    ).get_json()
    assert sum(line["amount_fen"] for line in detail["lines"]) == detail["total_fen"]
    assert (
        client.get(f"/api/v1/invoices/{invoice['id']}", headers=auth(session, stranger)).status_code
        == 404
    )


def test_duplicate_contract_is_a_conflict(client: FlaskClient, session: Session) -> None:
    plan = offered_plan(session, usage_terms())
    headers = auth(session, buyer_actor(session))
    body = {"plan_id": plan.id, "accept_agreement_version": 1}
    assert client.post("/api/v1/contracts", json=body, headers=headers).status_code == 201
    response = client.post("/api/v1/contracts", json=body, headers=headers)
    assert response.status_code == 409 and "plan_id" in response.get_json()["error"]["fields"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Contract)) == 1
