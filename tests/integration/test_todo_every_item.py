"""The to-do items of issue 15 that tests/integration/test_todo.py does not seed: each
appears, from a seeded state, on the dashboard of the organization whose work it is, with
the figure or date a person needs, linked to where it is done."""

from __future__ import annotations

import html as html_lib
import re
from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.error_models import BillingError
from billing.models import Invoice
from billing.outcomes import verification
from marketplace.dates import CHINA, day_start, first_day
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.billing.factories import offered_plan, start_contract, subscription_terms
from tests.billing.test_outcomes import agreed, reported
from tests.catalog.factories import operator_actor
from tests.factories import login
from tests.vouchers.factories import T0, create_program, officer_of, sme_actor, vendor_actor
from tests.vouchers.test_stacking_cofunding import draft_batch, paid_invoice
from vouchers import applications
from vouchers.models import Anomaly, AnomalyRule


def todo(client: FlaskClient, actor: Actor) -> dict[str, tuple[str, str]]:
    """{item key: (link, text)} of the dashboard's to-do list as ``actor`` sees it."""
    login(client, actor.user)
    page = client.get("/dashboard").get_data(as_text=True)
    found = re.findall(r'<a[^>]*href="([^"]+)" data-todo-item="([^"]+)"[^>]*>(.*?)</a>', page, re.S)
    return {
        key: (link.replace("&amp;", "&"), html_lib.unescape(re.sub(r"<[^>]+>|\s+", " ", text)))
        for link, key, text in found
    }


def test_buyer_sees_an_invoice_to_pay_results_to_confirm_by_their_deadline_and_applications(
    client: FlaskClient, session: Session
) -> None:
    vendor, buyer = vendor_actor(session), sme_actor(session)
    now = utcnow()
    plan = offered_plan(session, subscription_terms(trial_days=0), vendor)
    contract = start_contract(session, plan=plan, buyer=buyer, now=now - timedelta(days=2))
    invoice = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id)).one()
    invoice.due_at = day_start(now.astimezone(CHINA).date() + timedelta(days=5))
    session.flush()
    items = todo(client, buyer)
    assert "invoices_overdue" not in items
    link, text = items["invoices_due"]
    assert link == "/billing/invoices?status=open"
    assert f"{invoice.total_fen / 100:,.2f}" in text, text

    outcome, outcome_buyer, outcome_vendor = agreed(session)
    result = reported(session, outcome, outcome_vendor, 40_000)
    program = create_program(session)
    applications.apply(session, program, actor=outcome_buyer, requested_fen=1000, now=T0)
    session.flush()
    items = todo(client, outcome_buyer)
    link, text = items["results_to_confirm"]
    assert link == "/billing/contracts"
    assert first_day(result.confirm_by).isoformat() in text, text
    assert items["voucher_applications"][0] == "/vouchers/wallet"

    verification.confirm(session, result, actor=outcome_buyer, now=result.confirm_by)
    session.flush()
    assert "results_to_confirm" not in todo(client, outcome_buyer)


def test_vendor_sees_outcome_reports_due_with_the_next_date_and_settlements_on_the_way(
    app, client: FlaskClient, session: Session
) -> None:
    contract, _buyer, vendor = agreed(session)
    session.flush()
    link, text = todo(client, vendor)["outcome_reports_due"]
    assert link == "/billing/contracts"
    assert first_day(contract.current_period_end).isoformat() in text, text

    program = create_program(session)
    officer = officer_of(session, program)
    seller = vendor_actor(session)
    with app.app_context():
        paid_invoice(session, program, sme_actor(session), seller)
        assert "settlements_on_the_way" not in todo(client, seller)
        draft_batch(session, program, officer, seller)
    session.flush()
    assert todo(client, seller)["settlements_on_the_way"][0] == "/vouchers/settlements"
    officer_items = todo(client, officer)
    assert officer_items["settlements_to_approve"][0] == "/vouchers/programs"
    assert "anomalies_open" not in officer_items

    session.add(
        Anomaly(
            program_id=program.id,
            rule=AnomalyRule.QUICK_REVERSAL,
            subject_key="redemption:test",
            amount_fen=5_000,
            details={},
        )
    )
    session.flush()
    assert todo(client, officer)["anomalies_open"][0] == "/vouchers/programs"
    assert "anomalies_open" not in todo(client, officer_of(session, create_program(session)))


def test_operator_sees_disputes_billing_errors_and_transfers_to_match(
    client: FlaskClient, session: Session
) -> None:
    operator = operator_actor(session)
    before = todo(client, operator)
    for key in ("disputes", "billing_errors", "transfers_to_match"):
        assert key not in before
    contract, buyer, vendor = agreed(session)
    result = reported(session, contract, vendor, 40_000)
    verification.dispute(
        session, result, actor=buyer, reason="电表读数不对", now=result.submitted_at
    )
    session.add(
        BillingError(
            contract_id=contract.id,
            period_start=contract.current_period_start,
            period_end=contract.current_period_end,
            code="quantity_too_large",
            message="test",
        )
    )
    plan = offered_plan(session, subscription_terms(trial_days=0), vendor_actor(session))
    start_contract(session, plan=plan, buyer=sme_actor(session), now=utcnow())
    session.flush()
    items = todo(client, operator)
    assert items["disputes"][0] == "/billing/console/outcomes"
    assert items["billing_errors"][0] == "/billing/console/billing-errors"
    assert items["transfers_to_match"][0] == "/billing/console"
