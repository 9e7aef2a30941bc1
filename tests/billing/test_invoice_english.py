"""Invoice lines are worded when read, from their kind, details and plan, never from the
sentence stored when the period was closed: the same invoice reads English on the English
UI (no Chinese left in its lines) and Chinese on the Chinese one, plan changes, spend caps,
results, corrections and service credits included; the PDF follows the reader's language."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import contracts
from billing import run as billing_run
from billing.invoices import InvoiceDraft, LineDraft, create_many
from billing.metering import events as metering
from billing.models import Invoice, InvoiceKind
from billing.outcomes import baselines, corrections, invoicing, reporting, verification
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.billing.factories import (
    COMMISSION_BP,
    buyer_actor,
    start_contract,
    subscription_terms,
    usage_terms,
)
from tests.catalog.factories import OUTCOME, operator_actor, publish_solution, vendor_actor
from tests.factories import login

CJK = re.compile(r"[\u3400-\u9fff\uff00-\uffef]")


def line_rows(html: str) -> list[str]:
    """The text of the invoice's line rows (without tags)."""
    rows = re.findall(r'<tr data-line-kind="[^"]*">(.*?)</tr>', html, re.S)
    assert rows, "no invoice lines on the page"
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in rows]


def read(client: FlaskClient, invoice: Invoice, language: str) -> list[str]:
    with client.session_transaction() as browser:
        browser["lang"] = language
    response = client.get(f"/billing/invoices/{invoice.id}")
    assert response.status_code == 200
    return line_rows(response.get_data(as_text=True))


def proration_invoice(session: Session, buyer: Actor) -> Invoice:
    vendor = vendor_actor(session)
    solution = publish_solution(
        session,
        vendor,
        plans=[
            subscription_terms(trial_days=0, name="标准版", name_en="Standard"),
            subscription_terms(
                trial_days=0, name="专业版", name_en="Professional", price_fen=199_900
            ),
        ],
    )
    basic, pro = solution.published.plans
    start = utcnow() - timedelta(days=10)
    contract = start_contract(session, plan=basic, buyer=buyer, now=start)
    invoice = contracts.change_plan(
        session, contract, pro, actor=buyer, now=utcnow(), commission_bp=COMMISSION_BP
    )
    assert invoice is not None
    assert {line.kind for line in invoice.lines} == {"proration_credit", "proration_charge"}
    return invoice


def capped_usage_invoice(session: Session, buyer: Actor) -> Invoice:
    start = utcnow() - timedelta(days=40)
    plan = publish_solution(session, plans=[usage_terms(free_units=0)]).published.plans[0]
    contract = start_contract(session, plan=plan, buyer=buyer, now=start, spend_cap_fen=5_000)
    metering.ingest(
        session,
        vendor_id=contract.vendor_id,
        events=[
            {
                "id": "cap-1",
                "contract_id": contract.id,
                "meter": plan.meter,
                "quantity": "12000",
                "occurred_at": (start + timedelta(days=1)).isoformat(),
            }
        ],
        now=start + timedelta(days=1),
    )
    (invoice,) = billing_run.close_period(
        session, contract, now=contract.current_period_end, commission_bp=COMMISSION_BP
    )
    assert "spend_cap" in {line.kind for line in invoice.lines}
    return invoice


def outcome_invoices(session: Session, buyer: Actor) -> tuple[Invoice, Invoice]:
    """Results invoiced in 小时 (hours in English), then corrected by a credit note."""
    vendor = vendor_actor(session)
    terms = {
        **OUTCOME,
        "kpi_name": "月返工工时",
        "kpi_unit": "小时",
        "kpi_name_en": "Monthly rework hours",
        "kpi_unit_en": "hours",
        "direction": "decrease",
        "price_per_unit_fen": "2000",
        "cap_fen": None,
    }
    plan = publish_solution(session, vendor, plans=[terms]).published.plans[0]
    start = utcnow() - timedelta(days=45)
    contract = start_contract(session, plan=plan, buyer=buyer, now=start, baseline=Decimal(100))
    baselines.accept_baseline(session, contract, actor=vendor, now=start)
    report = reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=contract.current_period_start,
        period_end=contract.current_period_end,
        measured=Decimal(60),
        now=contract.current_period_end,
    )
    verification.confirm(session, report, actor=buyer, now=contract.current_period_end)
    (invoice,) = invoicing.invoice_confirmed(
        session,
        now=contract.current_period_end,
        commission_bp=COMMISSION_BP,
        report_ids=[report.id],
    )
    operator = operator_actor(session)
    note = corrections.correct(
        session,
        report,
        actor=operator,
        corrected=Decimal(70),
        note="计量表读数有误",
        now=utcnow(),
    )
    return invoice, note


@pytest.mark.parametrize("kind", ["proration", "spend_cap", "outcome"])
def test_the_same_invoice_reads_english_in_english_and_chinese_in_chinese(
    client: FlaskClient, session: Session, kind: str
) -> None:
    buyer = buyer_actor(session)
    if kind == "proration":
        invoices = [proration_invoice(session, buyer)]
    elif kind == "spend_cap":
        invoices = [capped_usage_invoice(session, buyer)]
    else:
        invoices = list(outcome_invoices(session, buyer))
    login(client, buyer.user)
    for invoice in invoices:
        english = read(client, invoice, "en")
        assert not [row for row in english if CJK.search(row)], english
        chinese = read(client, invoice, "zh_CN")
        assert all(CJK.search(row) for row in chinese), chinese


def test_results_lines_use_the_english_kpi_unit(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    invoice, note = outcome_invoices(session, buyer)
    login(client, buyer.user)
    english = " ".join(read(client, invoice, "en"))
    assert "40 hours" in english and "/ hours" in english
    chinese = " ".join(read(client, invoice, "zh_CN"))
    assert "40 小时" in chinese
    correction = " ".join(read(client, note, "en"))
    assert invoice.number in correction


def test_a_service_credit_and_a_spend_cap_line_are_worded_from_their_details(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    plan = publish_solution(session, plans=[subscription_terms(trial_days=0)]).published.plans[0]
    contract = start_contract(session, plan=plan, buyer=buyer, now=utcnow() - timedelta(days=5))
    first = contract_invoice(session, contract.id)
    credit = LineDraft(
        kind="service_credit",
        description="服务中断补偿",
        quantity=Decimal(1),
        unit_fen=Decimal(-3000),
        amount_fen=-3000,
        vat_rate_bp=plan.vat_rate_bp,
        period_start=first.period_start,
        period_end=first.period_end,
        plan_id=plan.id,
        details={"outage_days": 3, "share_bp": 3000},
    )
    (note,) = create_many(
        session,
        [
            InvoiceDraft(
                contract,
                "service_credit",
                first.period_start,
                first.period_end,
                [credit],
                kind=InvoiceKind.CREDIT_NOTE,
                corrects=first,
            )
        ],
        commission_bp=COMMISSION_BP,
        now=utcnow(),
    )
    login(client, buyer.user)
    (english,) = read(client, note, "en")
    assert "service credit for 3 days of outage" in english and "服务中断补偿" not in english


def contract_invoice(session: Session, contract_id: int) -> Invoice:
    from sqlalchemy import select

    return session.scalars(
        select(Invoice).where(Invoice.contract_id == contract_id).order_by(Invoice.id)
    ).first()


def test_dispute_notifications_read_in_the_readers_language(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    terms = {**OUTCOME, "kpi_unit": "小时", "kpi_unit_en": "hours", "cap_fen": None}
    plan = publish_solution(session, vendor, plans=[terms]).published.plans[0]
    buyer = buyer_actor(session)
    start = utcnow() - timedelta(days=40)
    contract = start_contract(session, plan=plan, buyer=buyer, now=start, baseline=Decimal(100))
    baselines.accept_baseline(session, contract, actor=vendor, now=start)
    report = reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=contract.current_period_start,
        period_end=contract.current_period_end,
        measured=Decimal(60),
        now=contract.current_period_end,
    )
    verification.dispute(
        session, report, actor=buyer, reason="读数不对", now=contract.current_period_end
    )
    solution = plan.revision
    login(client, vendor.user)
    with client.session_transaction() as browser:
        browser["lang"] = "en"
    english = client.get("/billing/notifications").get_data(as_text=True)
    assert "60 hours" in english and "60 小时" not in english
    assert solution.name_en in english and solution.name not in english
    with client.session_transaction() as browser:
        browser["lang"] = "zh_CN"
    chinese = client.get("/billing/notifications").get_data(as_text=True)
    assert "60 小时" in chinese
