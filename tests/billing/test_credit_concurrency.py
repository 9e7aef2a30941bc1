"""Two invoices of one buyer and vendor issued at once on PostgreSQL apply a credit balance
once: the second waits for the buyer's lock and sees what the first took."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from billing import credits, invoices, ledger
from billing.models import Contract, Invoice
from marketplace import create_app
from tests.billing.factories import COMMISSION_BP, T0, start_contract, subscription_terms
from tests.billing.test_concurrency import app_config, waiting_on_a_lock
from tests.billing.test_customer_credit import _draft
from tests.conftest import POSTGRES_URL

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set DATABASE_URL)"),
]


@pytest.fixture
def own_app(live_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(app_config(live_database_url, tmp_path / "index"))
    app.extensions["catalog.search"].create()
    yield app
    app.extensions["marketplace.db"].engine.dispose()


def test_two_invoices_issued_at_once_apply_the_credit_once(
    own_app: Flask, live_database_url: str
) -> None:
    sessions = own_app.extensions["marketplace.db"].sessions
    with sessions() as session:
        contract = start_contract(session, subscription_terms(trial_days=14))
        invoices.create_many(
            session, [_draft(contract, -20_000, T0)], commission_bp=COMMISSION_BP, now=T0
        )
        session.commit()
        contract_id, pair = contract.id, (contract.buyer_id, contract.vendor_id)

    # Different years, so the invoice-number counter (a row per year) does not serialize
    # the two: only the credit's own lock can.
    first_at, second_at = T0 + timedelta(days=1), T0.replace(year=2027)
    errors: list[BaseException] = []

    def issue(session: Session, at) -> Invoice:
        own = session.get(Contract, contract_id)
        assert own is not None
        return invoices.create_many(
            session, [_draft(own, 15_000, at)], commission_bp=COMMISSION_BP, now=at
        )[0]

    def second() -> None:
        try:
            with sessions() as session:
                issue(session, second_at)
                session.commit()
        except BaseException as exc:
            errors.append(exc)

    with sessions() as session_a, sessions() as watcher:
        issue(session_a, first_at)
        thread = threading.Thread(target=second)
        thread.start()
        database = sa.make_url(live_database_url).database
        deadline = time.monotonic() + 10
        while not waiting_on_a_lock(watcher, database) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting_on_a_lock(watcher, database), "the second issue never waited"
        session_a.commit()
        thread.join(30)
    assert not errors, errors

    with sessions() as session:
        applied = sorted(
            session.scalars(
                sa.select(Invoice.credit_applied_fen)
                .where(Invoice.total_fen > 0, Invoice.contract_id == contract_id)
                .order_by(Invoice.id)
            )
        )
        assert applied == [5_000, 15_000]
        assert credits.balance(session, *pair) == 0
        assert -ledger.balance(session, ledger.CUSTOMER_CREDIT, pair[0]) == 0
        assert ledger.unbalanced_transactions(session) == []
