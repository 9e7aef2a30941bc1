"""One contract cannot stop billing for everyone: a contract whose period cannot be closed
is recorded as a billing error (shown to the operator in the console and the API), the
run invoices the others and `billing run` exits non-zero naming it; once fixed, the next
run closes it and resolves the error."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import run
from billing.error_models import BillingError
from billing.metering import events as metering
from billing.models import Contract, ContractStatus, Invoice
from billing.outcomes import baselines, reporting, verification
from billing.periods import period_bounds
from catalog.models import Plan
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    event,
    offered_plan,
    start_contract,
    usage_terms,
)
from tests.catalog.factories import OUTCOME, operator_actor, vendor_actor
from tests.factories import create_token, login

AS_OF = T0 + timedelta(days=32)
SANE_TIERS = [{"up_to": None, "unit_fen": "2"}]


def run_cli(app: Flask, as_of=AS_OF) -> Any:
    return app.test_cli_runner().invoke(args=["billing", "run", "--as-of", as_of.isoformat()])


def invoices_of(session: Session, contract: Contract) -> list[Invoice]:
    return list(
        session.scalars(
            sa.select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id)
        )
    )


def errors_of(session: Session, contract: Contract) -> list[BillingError]:
    return list(
        session.scalars(sa.select(BillingError).where(BillingError.contract_id == contract.id))
    )


def api_errors(client: FlaskClient, session: Session, actor: Any) -> Any:
    token = create_token(session, actor.user, actor.organization)
    return client.get("/api/v1/billing-errors", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    ("broken_tiers", "code"),
    [
        # A unit price no listing may have (an old row, or one edited by hand): 10^21 fen.
        ([{"up_to": None, "unit_fen": str(10**12)}], "amount_too_large"),
        # A price that is not a number at all.
        ([{"up_to": None, "unit_fen": "two fen"}], "internal_error"),
    ],
)
def test_a_broken_contract_is_recorded_and_the_others_are_invoiced(
    app: Flask, client: FlaskClient, session: Session, broken_tiers: list, code: str
) -> None:
    vendor = vendor_actor(session)
    first, broken, last = (
        start_contract(session, usage_terms(free_units=0, tiers=SANE_TIERS)) for _ in range(3)
    )
    for contract in (first, broken, last):
        result = metering.ingest(
            session,
            vendor_id=contract.vendor_id,
            events=[event(contract, f"c{contract.id}", 10**9, at=T0 + timedelta(days=1))],
            now=T0 + timedelta(days=2),
        )
        assert result.accepted == 1
    # The plan row changed behind the application's back: listing validation cannot stop it.
    session.execute(sa.update(Plan).where(Plan.id == broken.plan_id).values(tiers=broken_tiers))
    session.commit()

    result = run_cli(app)
    assert result.exit_code == 1, result.output
    assert f"contract {broken.id}:" in result.output and code in result.output
    assert f"1 contract(s) not closed: {broken.id}" in result.output
    session.expire_all()
    for contract in (first, last):
        (invoice,) = invoices_of(session, contract)
        assert invoice.total_fen == 2 * 10**9
    assert invoices_of(session, broken) == []
    assert broken.status is ContractStatus.ACTIVE and broken.current_period_start == T0
    (error,) = errors_of(session, broken)
    assert error.code == code and error.attempts == 1 and error.resolved_at is None
    assert error.period_start == T0 and error.step == "close"

    # The operator sees it in the console, in both languages ...
    operator = operator_actor(session)
    session.commit()
    login(client, operator.user)
    page = client.get("/billing/console/billing-errors")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-contract="{broken.id}"' in html and code in html and "计费错误" in html
    assert f'data-contract="{first.id}"' not in html
    with client.session_transaction() as cookie:
        cookie["lang"] = "en"
    html = client.get("/billing/console/billing-errors").get_data(as_text=True)
    assert (
        "Billing errors" in html
        and "Failed runs" in html
        and f'data-contract="{broken.id}"' in html
    )
    # ... and through the API; nobody else does.
    listed = api_errors(client, session, operator)
    assert listed.status_code == 200
    (item,) = listed.get_json()["items"]
    assert item["contract_id"] == broken.id and item["code"] == code and item["attempts"] == 1
    assert item["period_start"] == T0.isoformat() and item["buyer_id"] == broken.buyer_id
    assert item["step"] == "close"
    refused = api_errors(client, session, vendor)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"]
    assert client.get("/api/v1/billing-errors").status_code == 401

    # A rerun before the fix fails again on the same row and creates nothing twice.
    again = run_cli(app)
    assert again.exit_code == 1 and f"contract {broken.id}:" in again.output
    session.expire_all()
    assert [len(invoices_of(session, c)) for c in (first, broken, last)] == [1, 0, 1]
    (error,) = errors_of(session, broken)
    assert error.attempts == 2 and error.last_seen_at >= error.first_seen_at

    # Fixed: the next run closes the period and resolves the error.
    session.execute(sa.update(Plan).where(Plan.id == broken.plan_id).values(tiers=SANE_TIERS))
    session.commit()
    fixed = run_cli(app)
    assert fixed.exit_code == 0, fixed.output
    session.expire_all()
    assert [len(invoices_of(session, c)) for c in (first, broken, last)] == [1, 1, 1]
    assert invoices_of(session, broken)[0].total_fen == 2 * 10**9
    (error,) = errors_of(session, broken)
    assert error.resolved_at is not None and error.attempts == 2
    assert api_errors(client, session, operator).get_json() == {"total": 0, "items": []}
    html = client.get("/billing/console/billing-errors").get_data(as_text=True)
    assert "data-no-billing-errors" in html
    assert run_cli(app).exit_code == 0  # nothing left to do, nothing twice
    session.expire_all()
    assert [len(invoices_of(session, c)) for c in (first, broken, last)] == [1, 1, 1]


def test_a_broken_outcome_result_is_recorded_and_the_other_results_are_invoiced(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    agreed = []
    start, end = period_bounds(T0, 0)
    for _ in range(2):
        buyer = buyer_actor(session)
        plan = offered_plan(session, OUTCOME, vendor)
        contract = start_contract(session, plan=plan, buyer=buyer, baseline=Decimal(10**12))
        baselines.accept_baseline(session, contract, actor=vendor, now=T0)
        result = reporting.report(
            session,
            contract,
            actor=vendor,
            period_start=start,
            period_end=end,
            measured=Decimal(0),
            now=end + timedelta(hours=1),
        )
        verification.confirm(session, result, actor=buyer, now=end + timedelta(hours=2))
        agreed.append(contract)
    healthy, broken = agreed
    # A price no listing may have and no cap (edited by hand): 10^12 kWh saved x 10^13 fen.
    session.execute(
        sa.update(Plan)
        .where(Plan.id == broken.plan_id)
        .values(price_per_unit_fen=Decimal(10**13), cap_fen=None)
    )
    session.commit()
    sessions = app.extensions["marketplace.db"].sessions
    as_of = end + timedelta(days=1)

    report = run.run(sessions, as_of=as_of, commission_bp=COMMISSION_BP)
    (failure,) = report.failures
    assert failure.contract_id == broken.id
    assert failure.code in ("database_error", "internal_error")  # bigint / SQLite INTEGER
    session.expire_all()
    expected = OUTCOME["cap_fen"] + OUTCOME["base_fee_fen"]  # capped, plus the base fee
    assert [i.total_fen for i in invoices_of(session, healthy)] == [expected]
    assert invoices_of(session, broken) == []
    (error,) = errors_of(session, broken)
    assert (error.step, error.period_start, error.period_end) == ("results", start, end)

    session.execute(
        sa.update(Plan)
        .where(Plan.id == broken.plan_id)
        .values(price_per_unit_fen=Decimal(30), cap_fen=OUTCOME["cap_fen"])
    )
    session.commit()
    again = run.run(sessions, as_of=as_of, commission_bp=COMMISSION_BP)
    assert again.failures == [] and len(again.invoices) == 1
    session.expire_all()
    assert [i.total_fen for i in invoices_of(session, broken)] == [expected]
    (error,) = errors_of(session, broken)
    assert error.resolved_at is not None
    assert len(invoices_of(session, healthy)) == 1
