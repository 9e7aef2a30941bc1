"""Canceled now, a contract's last period ends at the cancellation and is billed like any
other: usage recorded before it is invoiced in arrears exactly once, usage after it is
refused, and results of an outcome contract's periods are still invoiced."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import contracts, run
from billing.metering import events as metering
from billing.models import Contract, ContractStatus, Invoice
from billing.outcomes import baselines, reporting, verification
from billing.periods import period_bounds
from marketplace.db import utcnow
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    event,
    offered_plan,
    start_contract,
    usage_terms,
)
from tests.catalog.factories import OUTCOME, vendor_actor
from tests.factories import create_token

DAY = timedelta(days=1)


def billing_run(app: Flask, as_of) -> run.RunReport:
    return run.run(
        app.extensions["marketplace.db"].sessions, as_of=as_of, commission_bp=COMMISSION_BP
    )


def ingest(session: Session, contract: Contract, events: list[dict], now) -> metering.IngestResult:
    return metering.ingest(session, vendor_id=contract.vendor_id, events=events, now=now)


def invoices_of(session: Session, contract: Contract, reason: str) -> list[Invoice]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Invoice)
            .where(Invoice.contract_id == contract.id, Invoice.reason == reason)
            .order_by(Invoice.id)
        )
    )


def test_usage_before_a_cancellation_is_invoiced_once(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    contract = start_contract(session, usage_terms(free_units=0), buyer=buyer)
    assert ingest(session, contract, [event(contract, "a", 2_000, at=T0 + DAY)], T0 + DAY).accepted
    canceled_at = T0 + 3 * DAY
    contracts.cancel(session, contract, actor=buyer, at_period_end=False, now=canceled_at)
    assert contract.status is ContractStatus.CANCELED
    assert contract.current_period_end == canceled_at  # the last period ends here
    late = ingest(
        session,
        contract,
        [
            event(contract, "before", 500, at=canceled_at - DAY),  # reported late: still billed
            event(contract, "after", 700, at=canceled_at + timedelta(seconds=1)),
        ],
        canceled_at + DAY,
    )
    assert late.accepted == 1
    assert [(r["id"], r["reason"]) for r in late.rejected] == [("after", "contract_ended")]
    session.commit()

    report = billing_run(app, canceled_at + timedelta(hours=1))
    assert report.periods_closed == 1 and report.failures == []
    (invoice,) = invoices_of(session, contract, "usage")
    assert invoice.total_fen == 2_500 * 2  # 2,500 images at 2 fen
    assert (invoice.period_start, invoice.period_end) == (T0, canceled_at)
    assert contract.status is ContractStatus.ENDED and contract.ended_at == canceled_at

    # Nothing twice: neither a rerun much later nor an event squeezed into the closed period.
    again = billing_run(app, T0 + 90 * DAY)
    assert again.periods_closed == 0 and again.invoices == []
    squeezed = ingest(
        session, contract, [event(contract, "squeezed", 1, at=T0 + DAY)], T0 + 90 * DAY
    )
    assert squeezed.accepted == 0 and squeezed.rejected[0]["reason"].startswith("period_closed")
    assert len(invoices_of(session, contract, "usage")) == 1


def test_cancel_through_the_api_then_the_run(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    started = utcnow() - 2 * DAY
    contract = start_contract(session, usage_terms(free_units=0), buyer=buyer, now=started)
    ingest(session, contract, [event(contract, "a", 300, at=started + DAY)], started + DAY)
    token = create_token(session, buyer.user, buyer.organization)
    answer = client.post(
        f"/api/v1/contracts/{contract.id}/cancel",
        json={"at_period_end": False},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200 and answer.get_json()["status"] == "canceled"
    session.commit()
    session.expire_all()
    canceled_at = contract.canceled_at
    assert canceled_at is not None and contract.current_period_end == canceled_at
    billing_run(app, canceled_at + DAY)
    (invoice,) = invoices_of(session, contract, "usage")
    assert invoice.total_fen == 600 and contract.status is ContractStatus.ENDED


def test_a_cancellation_after_an_unclosed_period_bills_both_periods(
    app: Flask, session: Session
) -> None:
    """The run had not closed January when the buyer canceled in February: January is
    billed whole, February up to the cancellation."""
    buyer = buyer_actor(session)
    contract = start_contract(session, usage_terms(free_units=0), buyer=buyer)
    _january, (february, _next) = period_bounds(T0, 0), period_bounds(T0, 1)
    canceled_at = february + 5 * DAY
    ingest(
        session,
        contract,
        [event(contract, "jan", 100, at=T0 + DAY), event(contract, "feb", 40, at=february + DAY)],
        february + 2 * DAY,
    )
    contracts.cancel(session, contract, actor=buyer, at_period_end=False, now=canceled_at)
    session.commit()
    billing_run(app, canceled_at + DAY)
    invoices = invoices_of(session, contract, "usage")
    assert [(i.period_start, i.period_end, i.total_fen) for i in invoices] == [
        (T0, february, 200),
        (february, canceled_at, 80),
    ]
    assert contract.status is ContractStatus.ENDED


def test_an_outcome_contract_canceled_midway_still_invoices_its_results(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    plan = offered_plan(session, OUTCOME, vendor)
    contract = start_contract(session, plan=plan, buyer=buyer, baseline=Decimal(42_000))
    baselines.accept_baseline(session, contract, actor=vendor, now=T0)
    start, end = period_bounds(contract.anchor_at, 0)
    canceled_at = end + 10 * DAY
    contracts.cancel(session, contract, actor=buyer, at_period_end=False, now=canceled_at)
    report = reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=start,
        period_end=end,
        measured=Decimal(40_000),
        now=canceled_at + DAY,
    )
    verification.confirm(session, report, actor=buyer, now=canceled_at + 2 * DAY)
    session.commit()
    billing_run(app, canceled_at + 3 * DAY)
    (invoice,) = invoices_of(session, contract, "outcome")
    # 2,000 kWh saved at 30 fen, plus the ¥500 base fee
    assert invoice.total_fen == 2_000 * 30 + OUTCOME["base_fee_fen"]
    assert contract.status is ContractStatus.ENDED
    billing_run(app, canceled_at + 60 * DAY)
    assert len(invoices_of(session, contract, "outcome")) == 1
