"""The to-do list at the top of each dashboard, from seeded states: each item appears for
the right organization, links to where it is done, and disappears once it is done."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import fapiao
from billing.fapiao_models import FapiaoType
from billing.models import Invoice
from billing.payments import bank_transfers
from catalog import services as catalog_services
from marketplace.dates import CHINA, day_start
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.billing.factories import offered_plan, start_contract, subscription_terms
from tests.catalog.factories import OUTCOME, create_solution, operator_actor
from tests.catalog.factories import vendor_actor as catalog_vendor
from tests.factories import login
from tests.vouchers.factories import (
    T0,
    create_program,
    grant,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import applications


def todo(client: FlaskClient, actor: Actor) -> dict[str, str]:
    """{item key: link} of the dashboard's to-do list, as ``actor`` sees it."""
    login(client, actor.user)
    html = client.get("/dashboard").get_data(as_text=True)
    assert "data-todo" in html
    found = re.findall(r'href="([^"]+)" data-todo-item="([^"]+)"', html)
    return {key: link.replace("&amp;", "&") for link, key in found}


def test_buyer_and_vendor_see_their_work_until_it_is_done(
    client: FlaskClient, session: Session
) -> None:
    vendor, buyer = vendor_actor(session), sme_actor(session)
    operator = operator_actor(session)
    now = utcnow()
    # An open invoice, due five days ago.
    plan = offered_plan(session, subscription_terms(trial_days=0), vendor)
    contract = start_contract(session, plan=plan, buyer=buyer, now=now - timedelta(days=20))
    invoice = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id)).one()
    invoice.due_at = day_start(now.astimezone(CHINA).date() - timedelta(days=5))
    # A trial ending in four days, and an outcome contract waiting for its baseline.
    trial = offered_plan(session, subscription_terms(trial_days=14), vendor)
    start_contract(session, plan=trial, buyer=buyer, now=now - timedelta(days=10))
    outcome = offered_plan(session, dict(OUTCOME), vendor)
    start_contract(session, plan=outcome, buyer=buyer, now=now, baseline=Decimal("100"))
    session.flush()

    items = todo(client, buyer)
    assert items["invoices_overdue"] == "/billing/invoices?status=open"
    assert items["trials_ending"] == "/billing/contracts"
    assert items["baselines_to_agree"] == "/billing/contracts"
    assert "invoices_due" not in items
    vendor_items = todo(client, vendor)
    assert vendor_items["invoices_unpaid"] == "/billing/invoices?status=open"
    assert vendor_items["baselines_to_confirm"] == "/billing/contracts"
    assert "invoices_overdue" not in vendor_items

    bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=invoice.total_fen, reference="T-1", actor=operator, now=now
    )
    session.flush()
    assert "invoices_overdue" not in todo(client, buyer)
    assert "invoices_unpaid" not in todo(client, vendor)
    assert "fapiao_requests" not in todo(client, vendor)

    fapiao.request(session, invoice, actor=buyer, type_=FapiaoType.NORMAL, now=now)
    session.flush()
    assert todo(client, vendor)["fapiao_requests"] == "/billing/fapiao"


def test_enterprise_and_officer_see_voucher_work(client: FlaskClient, session: Session) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    sme = sme_actor(session)
    voucher = grant(session, program, sme, 50_000)
    voucher.expires_at = utcnow() + timedelta(days=10)
    waiting = applications.apply(
        session, program, actor=sme_actor(session), requested_fen=1000, now=T0
    )
    session.flush()

    assert todo(client, sme)["vouchers_expiring"] == "/vouchers/wallet"
    assert todo(client, officer)["applications_waiting"] == "/vouchers/programs"
    assert "applications_waiting" not in todo(client, officer_actor(session))  # not their program

    applications.approve(session, waiting, actor=officer, now=T0)
    session.flush()
    assert "applications_waiting" not in todo(client, officer)


def test_operator_sees_vendors_to_verify_and_listings_to_review(
    client: FlaskClient, session: Session
) -> None:
    operator = operator_actor(session)
    for key in ("vendors_to_verify", "listings_to_review"):
        assert key not in todo(client, operator)
    catalog_vendor(session, verified=False)
    vendor = catalog_vendor(session)
    solution = create_solution(session, vendor)
    catalog_services.submit(session, solution, actor=vendor)
    session.flush()

    items = todo(client, operator)
    assert items["vendors_to_verify"] == "/console/vendors"
    assert items["listings_to_review"] == "/console/listings/"

    catalog_services.approve(session, solution, actor=operator)
    session.flush()
    assert "listings_to_review" not in todo(client, operator)
