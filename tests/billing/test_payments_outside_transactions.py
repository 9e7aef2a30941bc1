"""No Stripe call is made while the session holds a transaction (row locks, uncommitted
writes, or on SQLite the write lock): saving a card, paying by card and refunding all
commit before they call Stripe. Every create carries an idempotency key: the customer's is
the organization's (a retried create gives the same customer), a refund's is derived from
the refund."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import stripe

from billing.payments import card_payments, refunds
from billing.payments.saved_cards import customer_idempotency_key
from marketplace.db import utcnow
from tests.billing.conftest import LiveApp
from tests.billing.test_payments_e2e import VISA, save_card, subscribe
from tests.catalog.factories import operator_actor


def test_stripe_is_called_outside_any_transaction_with_idempotency_keys(
    live_app: LiveApp, monkeypatch: pytest.MonkeyPatch
):
    calls: list[tuple[str, str, str | None, bool]] = []
    watched: dict[str, Any] = {}
    send = stripe.RequestsClient.request

    def spy(self: Any, method: str, url: str, headers: Any, post_data: Any = None) -> Any:
        session = watched.get("session")
        in_transaction = session is not None and session.in_transaction()
        key = (headers or {}).get("Idempotency-Key")
        calls.append((method, urlsplit(url).path, key, in_transaction))
        return send(self, method, url, headers, post_data)

    monkeypatch.setattr(stripe.RequestsClient, "request", spy)
    with live_app.sessions() as session:
        operator = operator_actor(session)
        buyer, invoice = subscribe(session)
        watched["session"] = session  # from here on, as a request's session would be
        save_card(live_app, session, buyer, VISA)
        payment = card_payments.pay_by_card(session, live_app.stripe(), invoice, now=utcnow())
        session.commit()
        record = refunds.refund(
            session,
            live_app.stripe(),
            payment.payment,
            amount_fen=1_000,
            reason="部分退款",
            actor=operator,
            now=utcnow(),
        )
        session.commit()
        org = buyer.organization
        intent_id = payment.payment.stripe_payment_intent_id

    assert [c for c in calls if c[3]] == []  # none inside a transaction
    creates = {path: key for method, path, key, _ in calls if method == "post" and key}
    assert creates["/v1/customers"] == customer_idempotency_key(org)
    assert creates["/v1/refunds"] == f"refund-{record.id}-{intent_id}"
    assert record.status == "succeeded"
