"""The sign-up handoff as people meet it (issue 14): a buyer starts a plan in the browser,
the next-step page offers 前往服务商开通, which sends them to the vendor's page with a
one-time token; the vendor exchanges it exactly once, also when its servers race."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from billing import fulfillment
from billing.models import Contract
from tests.billing.factories import buyer_actor, offered_plan, subscription_terms
from tests.catalog.factories import vendor_actor
from tests.factories import create_token, login

SIGNUP = "https://8.8.8.8/marketplace/signup?from=mkt"
RACERS = 8


def _offer(session: Session) -> tuple[int, str, object]:
    """A plan whose listing names a sign-up page; (plan id, vendor token, buyer)."""
    vendor = vendor_actor(session)
    plan = offered_plan(session, subscription_terms(trial_days=14), vendor)
    plan.solution.fulfillment_url = SIGNUP
    token = create_token(session, vendor.user, vendor.organization)
    buyer = buyer_actor(session)
    session.commit()
    return plan.id, token, buyer


def _start_and_hand_off(app: Flask, plan_id: int, buyer: object) -> tuple[int, str]:
    browser = app.test_client()
    login(browser, buyer.user)  # type: ignore[attr-defined]
    started = browser.post(
        f"/billing/plans/{plan_id}/start", data={"accept_agreement": "y", "agreement_version": "1"}
    )
    assert started.status_code == 302
    next_steps = started.headers["Location"]
    assert next_steps.endswith("/next-steps")
    page = browser.get(next_steps).get_data(as_text=True)
    assert "前往服务商开通" in page
    contract_id = int(next_steps.rstrip("/").split("/")[-2])
    pressed = browser.post(f"/billing/contracts/{contract_id}/fulfillment")
    assert pressed.status_code == 303
    target = urlsplit(pressed.headers["Location"])
    assert (target.scheme, target.netloc, target.path) == (
        "https",
        "8.8.8.8",
        "/marketplace/signup",
    )
    query = parse_qs(target.query)
    assert query["from"] == ["mkt"]
    return contract_id, query[fulfillment.TOKEN_PARAMETER][0]


def test_buyer_starts_a_plan_goes_to_the_vendor_and_the_token_resolves_once(
    app: Flask, session: Session
) -> None:
    plan_id, vendor_token, buyer = _offer(session)
    contract_id, token = _start_and_hand_off(app, plan_id, buyer)
    vendor = app.test_client()
    headers = {"Authorization": f"Bearer {vendor_token}"}
    first = vendor.post("/api/v1/fulfillment/resolve", json={"token": token}, headers=headers)
    assert first.status_code == 200
    body = first.get_json()
    contract = session.get(Contract, contract_id)
    assert body["contract"]["id"] == contract_id and body["plan"]["id"] == plan_id
    assert body["buyer"]["uscc"] == contract.buyer.uscc
    again = vendor.post("/api/v1/fulfillment/resolve", json={"token": token}, headers=headers)
    assert again.status_code == 409


def test_racing_exchanges_of_one_token_give_exactly_one_answer(committed_app: Flask) -> None:
    app = committed_app
    sessions = app.extensions["marketplace.db"].sessions
    with app.app_context(), sessions() as session:
        plan_id, vendor_token, buyer = _offer(session)
        _contract_id, token = _start_and_hand_off(app, plan_id, buyer)

    barrier = threading.Barrier(RACERS)
    answers: list[int] = []

    def exchange() -> None:
        client = app.test_client()
        barrier.wait(30)
        response = client.post(
            "/api/v1/fulfillment/resolve",
            json={"token": token},
            headers={"Authorization": f"Bearer {vendor_token}"},
        )
        answers.append(response.status_code)

    threads = [threading.Thread(target=exchange) for _ in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200] + [409] * (RACERS - 1)
    with app.app_context(), sessions() as session:
        resolved = session.scalar(
            sa.select(sa.func.count())
            .select_from(fulfillment.FulfillmentToken)
            .where(fulfillment.FulfillmentToken.resolved_at.is_not(None))
        )
        assert resolved == 1
