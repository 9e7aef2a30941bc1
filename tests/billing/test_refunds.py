"""Card refunds against localstripe, the way Stripe advises: the refund is committed pending
(its amount held) before Stripe is called, booked in a new transaction from Stripe's
answer, and a refund left pending by a request that died or got no answer is booked or
failed, once, by the worker's reconciliation job."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask.testing import FlaskClient

from billing import jobs, ledger
from billing.ledger_models import LedgerTransaction
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentStatus, Refund
from billing.payments import card_payments, refunds
from marketplace import services
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from tests.billing.conftest import LiveApp
from tests.billing.holding_proxy import HoldingProxy
from tests.billing.test_payments_e2e import (
    PRICE,
    VISA,
    assert_balanced,
    count,
    fresh,
    save_card,
    subscribe,
)
from tests.catalog.factories import operator_actor
from tests.conftest import POSTGRES_URL
from tests.stripe_server import free_port

REFUNDED = LedgerTransaction.kind == "payment.refunded"


class Died(BaseException):
    """The request's process ends here (nothing catches it, nothing after it runs)."""


@pytest.fixture
def paid(live_app: LiveApp) -> Iterator[dict[str, Any]]:
    """An invoice paid by card, and the operator who refunds it (with an API token)."""
    with live_app.sessions() as session:
        operator = operator_actor(session)
        buyer, invoice = subscribe(session)
        save_card(live_app, session, buyer, VISA)
        result = card_payments.pay_by_card(session, live_app.stripe(), invoice, now=utcnow())
        session.commit()
        assert result.succeeded
        _record, token = services.create_token(
            session, user=operator.user, organization=operator.organization, name="refunds"
        )
        session.commit()
        yield {
            "operator": operator,
            "payment_id": result.payment.id,
            "invoice_id": invoice.id,
            "intent_id": result.payment.stripe_payment_intent_id,
            "token": token,
        }


def refund_by_api(live: LiveApp, paid: dict[str, Any], amount_fen: int) -> Any:
    api: FlaskClient = live.app.test_client()
    return api.post(
        f"/api/v1/payments/{paid['payment_id']}/refunds",
        json={"amount_fen": amount_fen, "reason": "服务未按约定交付"},
        headers={"Authorization": f"Bearer {paid['token']}", "Accept-Language": "en"},
    )


def refund_directly(live: LiveApp, paid: dict[str, Any], amount_fen: int) -> Refund:
    with live.sessions() as session:
        payment = session.get_one(Payment, paid["payment_id"])
        operator: Actor = paid["operator"]
        record = refunds.refund(
            session,
            live.stripe(),
            payment,
            amount_fen=amount_fen,
            reason="服务未按约定交付",
            actor=operator,
            now=utcnow(),
        )
        session.commit()
        return record


def stripe_refunds(live: LiveApp, intent_id: str) -> list[tuple[int, str]]:
    found = live.stripe().v1.refunds.list({"payment_intent": intent_id})
    return sorted((r.amount, r.metadata["refund_id"]) for r in found.auto_paging_iter())


def our_refunds(live: LiveApp) -> list[tuple[int, str, str | None]]:
    with fresh(live) as session:
        rows = session.scalars(sa.select(Refund).order_by(Refund.id))
        return [(r.amount_fen, r.status, r.stripe_refund_id) for r in rows]


def books(live: LiveApp) -> dict[str, int]:
    with fresh(live) as session:
        assert_balanced(session)
        return {
            "refund bookings": count(session, LedgerTransaction, REFUNDED),
            "stripe clearing": ledger.balance(session, ledger.STRIPE_CLEARING),
        }


def ten_minutes_pass(live: LiveApp) -> None:
    """The refunds have been pending for longer than any request can live."""
    with live.sessions() as session:
        session.execute(
            sa.update(Refund)
            .where(Refund.status == "pending")
            .values(created_at=utcnow() - timedelta(minutes=10))
        )
        session.commit()


def reconciliation_job(live: LiveApp) -> str:
    with live.app.app_context():
        return jobs.refund_reconciliation_job(live.app, utcnow())


@contextmanager
def stripe_at(live: LiveApp, base: str) -> Iterator[None]:
    reachable = live.app.config["STRIPE_API_BASE"]
    live.app.config["STRIPE_API_BASE"] = base
    try:
        yield
    finally:
        live.app.config["STRIPE_API_BASE"] = reachable


def test_a_refund_whose_process_dies_after_stripe_refunded_is_booked_once_by_the_job(
    live_app: LiveApp, paid: dict[str, Any], monkeypatch: pytest.MonkeyPatch
):
    def die(*_args: Any, **_kwargs: Any) -> None:
        raise Died

    monkeypatch.setattr(refunds, "apply_answer", die)  # Stripe answered; nothing booked it
    with pytest.raises(Died):
        refund_directly(live_app, paid, 40_000)
    monkeypatch.undo()

    ((amount, refund_id),) = stripe_refunds(live_app, paid["intent_id"])
    assert amount == 40_000
    assert our_refunds(live_app) == [(40_000, "pending", None)]
    assert books(live_app) == {"refund bookings": 0, "stripe clearing": PRICE}
    # The amount stays held while the refund is pending: no second refund of it.
    with pytest.raises(DomainError, match="what is left"):
        refund_directly(live_app, paid, PRICE - 39_999)
    # A request could still be waiting for Stripe: the job leaves a recent refund alone.
    assert reconciliation_job(live_app) == "0 pending refund(s) checked"

    ten_minutes_pass(live_app)
    assert reconciliation_job(live_app) == "1 pending refund(s) checked: 1 succeeded"
    assert reconciliation_job(live_app) == "0 pending refund(s) checked"

    ((_amount, stripe_id),) = [
        (r.amount, r.id)
        for r in live_app.stripe()
        .v1.refunds.list({"payment_intent": paid["intent_id"]})
        .auto_paging_iter()
    ]
    assert our_refunds(live_app) == [(40_000, "succeeded", stripe_id)]
    assert refund_id == str(_refund_ids(live_app)[0])
    assert books(live_app) == {"refund bookings": 1, "stripe clearing": PRICE - 40_000}
    refund_directly(live_app, paid, PRICE - 40_000)  # the rest can still be refunded
    assert books(live_app) == {"refund bookings": 2, "stripe clearing": 0}
    assert len(stripe_refunds(live_app, paid["intent_id"])) == 2


def _refund_ids(live: LiveApp) -> list[int]:
    with fresh(live) as session:
        return list(session.scalars(sa.select(Refund.id).order_by(Refund.id)))


def test_a_refund_stripe_refuses_moves_no_money_and_says_so(
    live_app: LiveApp, paid: dict[str, Any]
):
    with live_app.sessions() as session:  # the PaymentIntent is unknown to Stripe
        session.get_one(Payment, paid["payment_id"]).stripe_payment_intent_id = "pi_gone"
        session.commit()
    answer = refund_by_api(live_app, paid, 40_000)
    assert answer.status_code == 503, answer.get_json()
    assert answer.get_json()["error"]["message"] == (
        "Stripe refused the refund; nothing was refunded."
    )
    assert our_refunds(live_app) == [(40_000, "failed", None)]
    assert books(live_app) == {"refund bookings": 0, "stripe clearing": PRICE}
    assert stripe_refunds(live_app, paid["intent_id"]) == []

    with live_app.sessions() as session:
        session.get_one(Payment, paid["payment_id"]).stripe_payment_intent_id = paid["intent_id"]
        session.commit()
    answer = refund_by_api(live_app, paid, PRICE)  # a failed refund holds nothing
    assert answer.status_code == 201, answer.get_json()
    assert [status for _a, status, _id in our_refunds(live_app)] == ["failed", "succeeded"]
    assert books(live_app) == {"refund bookings": 1, "stripe clearing": 0}


def test_a_refund_stripe_does_not_answer_stays_pending_until_the_job_fails_it(
    live_app: LiveApp, paid: dict[str, Any]
):
    with stripe_at(live_app, f"http://127.0.0.1:{free_port()}"):  # nobody there
        answer = refund_by_api(live_app, paid, 40_000)
    assert answer.status_code == 503, answer.get_json()
    assert answer.get_json()["error"]["code"] == "unavailable"
    assert "the refund stays pending" in answer.get_json()["error"]["message"]
    assert our_refunds(live_app) == [(40_000, "pending", None)]
    assert books(live_app) == {"refund bookings": 0, "stripe clearing": PRICE}
    held = refund_by_api(live_app, paid, PRICE)
    assert held.status_code == 422, held.get_json()

    ten_minutes_pass(live_app)
    assert reconciliation_job(live_app) == "1 pending refund(s) checked: 1 failed"
    assert our_refunds(live_app) == [(40_000, "failed", None)]
    assert stripe_refunds(live_app, paid["intent_id"]) == []
    answer = refund_by_api(live_app, paid, PRICE)
    assert answer.status_code == 201, answer.get_json()
    assert books(live_app) == {"refund bookings": 1, "stripe clearing": 0}
    with fresh(live_app) as session:
        invoice = session.get_one(Invoice, paid["invoice_id"])
        assert invoice.status is InvoiceStatus.PAID
        assert invoice.display_status == "refunded"
        assert session.get_one(Payment, paid["payment_id"]).status is PaymentStatus.SUCCEEDED


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (DATABASE_URL)")
def test_two_refunds_at_once_cannot_give_back_more_than_was_paid(
    live_app: LiveApp, paid: dict[str, Any]
):
    """The first refund is at Stripe (its answer held) when the second asks: the second
    sees the first's amount held and is refused; then two more race to the lock."""
    answers: list[Any] = []
    with (
        HoldingProxy(
            live_app.stripe_server.api_base, hold=re.compile(r"^/v1/refunds$"), method="POST"
        ) as proxy,
        stripe_at(live_app, proxy.url),
    ):
        first = threading.Thread(target=lambda: answers.append(_try(live_app, paid, 60_000)))
        first.start()
        proxy.wait_until_held()  # Stripe refunded 60,000; the first request waits
        assert _try(live_app, paid, 60_000) == "refused"
        proxy.release()
        first.join(30)
    assert answers == ["succeeded"]

    barrier = threading.Barrier(2)
    results: list[str] = []

    def race() -> None:
        barrier.wait()
        results.append(_try(live_app, paid, PRICE - 60_000))

    racers = [threading.Thread(target=race) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert sorted(results) == ["refused", "succeeded"]
    assert sorted(a for a, _id in stripe_refunds(live_app, paid["intent_id"])) == sorted(
        [60_000, PRICE - 60_000]
    )
    assert [s for _a, s, _id in our_refunds(live_app)] == ["succeeded", "succeeded"]
    assert books(live_app) == {"refund bookings": 2, "stripe clearing": 0}


def _try(live: LiveApp, paid: dict[str, Any], amount_fen: int) -> str:
    try:
        return refund_directly(live, paid, amount_fen).status
    except DomainError:
        return "refused"
    except stripe.StripeError as exc:  # pragma: no cover - shown if it happens
        return f"stripe: {exc!r}"
