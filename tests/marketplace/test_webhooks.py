"""Vendor webhooks against a real receiver on a loopback port: signed with the README's
recipe, retried with backoff, one event id across attempts, secrets rotated with an
overlap, failing endpoints disabled with a notification, private URLs refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import Invoice, Notification
from marketplace import outbox, webhooks
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.urls import UrlPolicy
from marketplace.webhook_models import (
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.billing.factories import buyer_actor, offered_plan, subscription_terms
from tests.catalog.factories import vendor_actor
from tests.factories import create_token, login
from tests.webhook_receiver import Receiver


# --- the README's recipe, copied as a vendor would ----------------------------------------
def verify_marketplace_signature(
    body: bytes, header: str, secret: str, tolerance: int = 300, now: float | None = None
) -> bool:
    pairs = [item.split("=", 1) for item in header.split(",") if "=" in item]
    timestamp = next((value for key, value in pairs if key == "t"), "")
    now = time.time() if now is None else now
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, value in pairs)


# -------------------------------------------------------------------------------------------


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    """The receiver listens on http://127.0.0.1: allowed here as in the demo (whose
    listings also need an upload folder for their screenshots)."""
    allow = {"OUTBOUND_URLS_ALLOW_PRIVATE": True, "OUTBOUND_URLS_ALLOW_HTTP": True}
    return {**config, **allow, "UPLOAD_FOLDER": str(tmp_path / "uploads")}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _add_endpoint(
    client: FlaskClient, token: str, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "event_types": events or ["contract.created"]},
        headers=_auth(token),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _start_plan(client: FlaskClient, session: Session, vendor: Actor) -> int:
    plan = offered_plan(session, subscription_terms(trial_days=14), vendor)
    buyer = buyer_actor(session)
    token = create_token(session, buyer.user, buyer.organization)
    session.commit()
    response = client.post(
        "/api/v1/contracts",
        json={"plan_id": plan.id, "accept_agreement_version": 1},
        headers=_auth(token),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _drain_at(app: Flask, moment: datetime) -> outbox.DrainReport:
    return outbox.drain(app, now=moment)


def test_contract_created_is_signed_retried_and_sent_with_one_event_id(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    vendor_token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    with Receiver(answers=[500, 500, 200], answer_body=b"x" * 5000) as receiver:
        endpoint = _add_endpoint(client, vendor_token, receiver.url)
        assert endpoint["secret"].startswith("whsec_")
        contract_id = _start_plan(client, session, vendor)
        assert receiver.requests == []  # never from inside the request

        start = utcnow()
        assert _drain_at(app, start).failed == 1
        assert _drain_at(app, start).handled == 0  # backing off
        assert _drain_at(app, start + timedelta(minutes=2)).failed == 1
        assert _drain_at(app, start + timedelta(minutes=10)).done == 1

    assert len(receiver.requests) == 3
    event_ids = {request.headers["Marketplace-Event-Id"] for request in receiver.requests}
    assert len(event_ids) == 1
    for request in receiver.requests:
        header = request.headers["Marketplace-Signature"]
        assert verify_marketplace_signature(request.body, header, endpoint["secret"])
        assert not verify_marketplace_signature(request.body, header, "whsec_wrong")
        event = json.loads(request.body)
        assert event["id"] == request.headers["Marketplace-Event-Id"]
        assert event["type"] == "contract.created"
        assert event["data"]["object"]["id"] == contract_id
        assert event["data"]["object"]["status"] == "trialing"
    assert len({request.body for request in receiver.requests}) == 1  # one body, resigned

    response = client.get(
        f"/api/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=_auth(vendor_token)
    )
    (delivery,) = response.get_json()["items"]
    assert delivery["status"] == "succeeded"
    assert delivery["event_id"] in event_ids
    assert json.loads(delivery["request_body"])["type"] == "contract.created"
    assert [a["response_status"] for a in delivery["attempts"]] == [500, 500, 200]
    assert all(len(a["response_body"]) == webhooks.MAX_RESPONSE_BYTES for a in delivery["attempts"])


def test_a_rotated_secret_signs_beside_the_old_one_for_24_hours(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    with Receiver() as receiver:
        endpoint = _add_endpoint(client, token, receiver.url, ["listing.approved"])
        old = endpoint["secret"]
        rotated = client.post(
            f"/api/v1/webhook-endpoints/{endpoint['id']}/rotate", headers=_auth(token)
        )
        assert rotated.status_code == 200
        new = rotated.get_json()["secret"]
        assert new != old

        def deliver_at(moment: datetime, key: str) -> tuple[bytes, str]:
            monkeypatch.setattr(webhooks, "utcnow", lambda: moment)
            webhooks.emit(
                session, vendor.organization.id, "listing.approved", {"k": key}, key=key, now=moment
            )
            session.commit()
            outbox.drain(app, now=moment)
            request = receiver.requests[-1]
            return request.body, request.headers["Marketplace-Signature"]

        rotated_at = utcnow()
        body, header = deliver_at(rotated_at + timedelta(hours=23), "during")
        at = (rotated_at + timedelta(hours=23)).timestamp()
        assert header.count("v1=") == 2
        assert verify_marketplace_signature(body, header, old, now=at)
        assert verify_marketplace_signature(body, header, new, now=at)

        body, header = deliver_at(rotated_at + timedelta(hours=25), "after")
        at = (rotated_at + timedelta(hours=25)).timestamp()
        assert header.count("v1=") == 1
        assert not verify_marketplace_signature(body, header, old, now=at)
        assert verify_marketplace_signature(body, header, new, now=at)


def test_an_endpoint_failing_for_three_days_is_disabled_and_the_vendor_told(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    with Receiver(answers=[503]) as receiver:
        endpoint = _add_endpoint(client, token, receiver.url, ["listing.approved"])
        webhooks.emit(
            session, vendor.organization.id, "listing.approved", {}, key="one", now=utcnow()
        )
        session.commit()
        start = utcnow()
        moment = start
        # Follow the outbox's own schedule: each try at the time it was put off to.
        while True:
            monkeypatch.setattr(webhooks, "utcnow", lambda moment=moment: moment)
            outbox.drain(app, now=moment)
            session.expire_all()
            found = session.get(WebhookEndpoint, endpoint["id"])
            assert found is not None
            if found.status is EndpointStatus.DISABLED:
                break
            job = session.scalar(
                sa.select(outbox.OutboxJob).where(outbox.OutboxJob.kind == "webhook")
            )
            assert job is not None and job.status is outbox.JobStatus.FAILED
            moment = moment + (job.next_attempt_at - utcnow()) + timedelta(seconds=1)
            assert moment - start < timedelta(days=4)

    assert moment - start >= webhooks.FAILING_WINDOW
    assert found.disabled_reason == "failing"
    assert len(receiver.requests) > 10  # backed off, not hammered: a few a day at the end
    delivery = session.scalar(sa.select(WebhookDelivery))
    assert delivery is not None and delivery.status is DeliveryStatus.FAILED
    (notice,) = session.scalars(
        sa.select(Notification).where(
            Notification.organization_id == vendor.organization.id,
            Notification.kind == "webhook_disabled",
        )
    )
    assert notice.params["url"] == receiver.url
    # A disabled endpoint is sent nothing more.
    webhooks.emit(session, vendor.organization.id, "listing.approved", {}, key="two", now=moment)
    session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.5/hooks",
        "https://localhost/hooks",
        "https://[::1]/hooks",
        "http://example.com/hooks",
    ],
)
def test_a_private_or_plain_http_url_is_refused_in_production(
    app: Flask, client: FlaskClient, session: Session, url: str
) -> None:
    app.config.update(OUTBOUND_URLS_ALLOW_PRIVATE=False, OUTBOUND_URLS_ALLOW_HTTP=False)
    vendor = vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    session.commit()
    response = client.post(
        "/api/v1/webhook-endpoints",
        json={"url": url, "event_types": ["invoice.paid"]},
        headers=_auth(token),
    )
    assert response.status_code == 422
    assert "url" in response.get_json()["error"]["fields"]
    assert session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_endpoints_belong_to_their_vendor_and_redelivery_resends_the_same_event(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    vendor, other = vendor_actor(session), vendor_actor(session)
    token = create_token(session, vendor.user, vendor.organization)
    other_token = create_token(session, other.user, other.organization)
    session.commit()
    with Receiver() as receiver:
        endpoint = _add_endpoint(client, token, receiver.url, ["invoice.paid"])
        path = f"/api/v1/webhook-endpoints/{endpoint['id']}"
        assert client.get(path, headers=_auth(other_token)).status_code == 404
        assert "secret" not in client.get(path, headers=_auth(token)).get_json()
        now = utcnow()
        webhooks.emit(session, vendor.organization.id, "invoice.paid", {"id": 1}, key="1", now=now)
        webhooks.emit(session, vendor.organization.id, "invoice.paid", {"id": 1}, key="1", now=now)
        session.commit()
        outbox.drain(app)
        assert len(receiver.requests) == 1  # the same key is one event
        (delivery,) = client.get(f"{path}/deliveries", headers=_auth(token)).get_json()["items"]
        again = f"/api/v1/webhook-deliveries/{delivery['id']}/redeliver"
        assert client.post(again, headers=_auth(other_token)).status_code == 404
        assert client.post(again, headers=_auth(token)).status_code == 202
        assert client.post(again, headers=_auth(token)).status_code == 409  # still pending
        outbox.drain(app)
        assert len(receiver.requests) == 2
        first, second = receiver.requests
        assert first.body == second.body
        assert first.headers["Marketplace-Event-Id"] == second.headers["Marketplace-Event-Id"]

        disabled = client.patch(path, json={"enabled": False}, headers=_auth(token))
        assert disabled.get_json()["status"] == "disabled"
        webhooks.emit(session, vendor.organization.id, "invoice.paid", {"id": 2}, key="2", now=now)
        session.commit()
        outbox.drain(app)
        assert len(receiver.requests) == 2
        assert client.delete(path, headers=_auth(token)).status_code == 204
        assert client.get(path, headers=_auth(token)).status_code == 404


def test_the_console_shows_the_secret_once_and_every_delivery_with_its_answer(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    session.commit()
    login(client, vendor.user)
    with Receiver(answers=[502, 200], answer_body=b'{"seen": "yes"}') as receiver:
        page = client.post(
            "/vendor/webhooks",
            data={"url": receiver.url, "event_types": ["listing.approved", "invoice.paid"]},
        )
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        (endpoint,) = session.scalars(sa.select(WebhookEndpoint))
        with app.app_context():
            secret = webhooks.decrypt(endpoint.secret_encrypted)
        assert secret in text
        assert secret not in client.get("/vendor/webhooks").get_data(as_text=True)
        assert secret not in client.get(f"/vendor/webhooks/{endpoint.id}").get_data(as_text=True)
        assert endpoint.secret_encrypted != secret  # kept encrypted

        webhooks.emit(
            session, vendor.organization.id, "invoice.paid", {"n": 7}, key="7", now=utcnow()
        )
        session.commit()
        outbox.drain(app)
        detail = client.get(f"/vendor/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "invoice.paid" in detail and "502" in detail and "&#34;n&#34;: 7" in detail
    english = client.get(f"/vendor/webhooks/{endpoint.id}", headers={"Accept-Language": "en"})
    assert english.status_code == 200


def test_the_demo_vendor_has_an_endpoint_whose_deliveries_show_in_the_console(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devtools.demo import webhooks as webhook_demo
    from devtools.demo.platform import DEMO_PASSWORD, load_demo
    from marketplace.models import User

    with Receiver() as receiver:
        monkeypatch.setattr(webhook_demo, "RECEIVER_URL", receiver.url)
        with app.app_context():
            load_demo(app)
        outbox.drain(app)
    assert receiver.requests, "the demo's listings and contracts are events for the vendor"
    types = {request.headers["Marketplace-Event-Type"] for request in receiver.requests}
    assert {"listing.approved", "contract.created"} <= types
    vendor = session.scalar(sa.select(User).where(User.email == "vendor@demo.local"))
    assert vendor is not None
    login(client, vendor, DEMO_PASSWORD)
    (endpoint,) = session.scalars(sa.select(WebhookEndpoint))
    page = client.get(f"/vendor/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "contract.created" in page and "成功" in page  # succeeded, in Chinese


def test_billing_services_emit_one_event_per_change(app: Flask, session: Session) -> None:
    from billing import contracts
    from billing.payments import bank_transfers
    from marketplace.webhook_models import EVENT_TYPES, VendorEvent
    from tests.billing.factories import COMMISSION_BP, T0
    from tests.catalog.factories import operator_actor

    vendor, operator, buyer = vendor_actor(session), operator_actor(session), buyer_actor(session)
    with app.app_context():
        webhooks.create_endpoint(
            session,
            organization_id=vendor.organization.id,
            user_id=vendor.user.id,
            url="https://93.184.216.34/hooks",
            event_types=list(EVENT_TYPES),
            policy=UrlPolicy(),
            now=T0,
        )
        plan = offered_plan(session, subscription_terms(trial_days=0), vendor)
        contract = contracts.start(
            session,
            actor=buyer,
            plan=plan,
            agreement_version=contracts.agreement_in_force(plan),
            now=T0,
            commission_bp=COMMISSION_BP,
        )
        (invoice,) = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id))
        bank_transfers.record_bank_transfer(
            session,
            invoice,
            amount_fen=invoice.total_fen,
            reference="W-1",
            actor=operator,
            now=T0 + timedelta(days=1),
        )
        contracts.cancel(
            session, contract, actor=buyer, at_period_end=False, now=T0 + timedelta(days=2)
        )
    events = session.scalars(
        sa.select(VendorEvent)
        .where(VendorEvent.organization_id == vendor.organization.id)
        .order_by(VendorEvent.id)
    )
    assert [(e.type, e.data["object"]) for e in events if e.type != "listing.approved"] == [
        ("contract.created", "contract"),
        ("invoice.issued", "invoice"),
        ("invoice.paid", "invoice"),
        ("contract.canceled", "contract"),
    ]
