"""A gunicorn worker killed with SIGKILL while Stripe's answer to a card refund is on its way:
Stripe gave the money back, the request never booked it. The refund was committed pending
before Stripe was called, so its amount stays held (no second refund of it), and the
worker's refund reconciliation books it exactly once from what Stripe says.

A real gunicorn (one worker) serves the app on a PostgreSQL database of its own and talks
to localstripe through a proxy that holds the answer to ``POST /v1/refunds``
(tests/billing/holding_proxy.py), as in test_card_charge_killed.py.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from billing import jobs, ledger
from billing.ledger_models import LedgerTransaction
from billing.payment_models import Refund
from billing.payments import card_payments
from marketplace import services
from marketplace.db import utcnow
from tests.billing.conftest import LiveApp
from tests.billing.holding_proxy import HoldingProxy
from tests.billing.test_payments_e2e import (
    PRICE,
    VISA,
    assert_balanced,
    count,
    save_card,
    subscribe,
)
from tests.catalog.factories import operator_actor
from tests.conftest import POSTGRES_URL
from tests.faults.test_card_charge_killed import post, served, setup_app  # noqa: F401

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (DATABASE_URL)"),
]

REFUND = re.compile(r"^/v1/refunds$")


def refund(site_url: str, payment_id: int, amount_fen: int, token: str) -> Any:
    try:
        return post(
            site_url,
            f"/api/v1/payments/{payment_id}/refunds",
            {"amount_fen": amount_fen, "reason": "服务未按约定交付"},
            token,
        )
    except OSError as exc:
        return exc


def test_worker_killed_while_the_refund_answer_is_held(
    setup_app: LiveApp,  # noqa: F811
    live_database_url: str,
    tmp_path: Path,
):
    live = setup_app
    with live.sessions() as session:
        operator = operator_actor(session)
        buyer, invoice = subscribe(session)
        save_card(live, session, buyer, VISA)
        result = card_payments.pay_by_card(session, live.stripe(), invoice, now=utcnow())
        session.commit()
        assert result.succeeded
        payment_id, intent_id = result.payment.id, result.payment.stripe_payment_intent_id
        _record, token = services.create_token(
            session, user=operator.user, organization=operator.organization, name="refunds"
        )
        session.commit()

    with (
        HoldingProxy(live.stripe_server.api_base, hold=REFUND) as proxy,
        served(live_database_url, tmp_path, proxy.url) as site,
    ):
        (worker,) = site.worker_pids()
        answers: list[Any] = []
        first = threading.Thread(
            target=lambda: answers.append(refund(site.url, payment_id, 40_000, token)),
            daemon=True,
        )
        first.start()
        proxy.wait_until_held()  # Stripe refunded; the worker waits for the answer
        os.kill(worker, signal.SIGKILL)
        first.join(30)
        assert answers and isinstance(answers[0], Exception), answers  # no answer came
        proxy.release()

        with live.sessions() as session:  # what the dead request left
            (pending,) = session.scalars(sa.select(Refund))
            assert (pending.amount_fen, pending.status, pending.stripe_refund_id) == (
                40_000,
                "pending",
                None,
            )
            assert (
                count(session, LedgerTransaction, LedgerTransaction.kind == "payment.refunded") == 0
            )

        site.wait_until_up()  # gunicorn's new worker
        status, body = refund(site.url, payment_id, PRICE, token)
        assert status == 422, body  # the pending refund holds its amount

        with live.sessions() as session:  # longer than any request can live
            session.execute(sa.update(Refund).values(created_at=utcnow() - timedelta(minutes=10)))
            session.commit()
        with live.app.app_context():
            done = jobs.refund_reconciliation_job(live.app, utcnow())
        assert done == "1 pending refund(s) checked: 1 succeeded"
        with live.app.app_context():
            assert (
                jobs.refund_reconciliation_job(live.app, utcnow()) == "0 pending refund(s) checked"
            )

        status, body = refund(site.url, payment_id, PRICE - 40_000, token)
        assert status == 201, body

    client = live.stripe()
    at_stripe = sorted(
        r.amount for r in client.v1.refunds.list({"payment_intent": intent_id}).auto_paging_iter()
    )
    assert at_stripe == [40_000, PRICE - 40_000]
    with live.sessions() as session:
        rows = session.scalars(sa.select(Refund).order_by(Refund.id)).all()
        assert [(r.amount_fen, r.status) for r in rows] == [
            (40_000, "succeeded"),
            (PRICE - 40_000, "succeeded"),
        ]
        assert all(r.stripe_refund_id for r in rows)
        assert count(session, LedgerTransaction, LedgerTransaction.kind == "payment.refunded") == 2
        assert ledger.balance(session, ledger.STRIPE_CLEARING) == 0
        assert_balanced(session)
