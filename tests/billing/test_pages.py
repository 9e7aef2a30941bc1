"""The billing pages through HTTP: buyers start plans, watch usage, change and cancel,
read and pay invoices; vendors see customers, invoices and their payable balance; the
operator records transfers, refunds, voids and reads the ledger. Card payments through
localstripe end to end are in test_payments_e2e.py."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import ledger
from billing.metering import events as metering
from billing.models import Contract, ContractStatus, Invoice, InvoiceStatus, Notification
from billing.outcomes import baselines
from billing.payment_models import Refund
from billing.payments import bank_transfers
from billing.periods import prorate
from catalog.models import Plan, Rating
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Role
from tests.billing.factories import (
    buyer_actor,
    offered_plan,
    start_contract,
    subscription_terms,
    usage_terms,
)
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor
from tests.factories import add_member, csrf_token, login

# The buyer ticks "I have read and accept the service agreement (version 1)".
ACCEPT = {"accept_agreement": "y", "agreement_version": "1"}


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def figure(html: str, attribute: str) -> int:
    """The amount in fen shown in the element carrying ``attribute`` (e.g. data-total)."""
    match = re.search(rf"{attribute}(?:=\"[^\"]*\")?>([^<]+)<", html)
    assert match, f"no {attribute} on the page"
    text = match.group(1).strip().replace("¥", "").replace(",", "")
    return int((Decimal(text) * 100).to_integral_value())


def sign_in(client: FlaskClient, actor: Actor) -> None:
    login(client, actor.user)


def no_trial_subscription(session: Session) -> tuple[Plan, Actor]:
    return offered_plan(session, subscription_terms(trial_days=0)), buyer_actor(session)


def invoice_of(session: Session, contract: Contract) -> Invoice:
    return session.scalars(
        sa.select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id)
    ).first()


def subscribed(session: Session, buyer: Actor | None = None) -> tuple[Contract, Invoice]:
    """A subscription without trial started ten days ago: its first invoice is open."""
    plan = offered_plan(session, subscription_terms(trial_days=0))
    contract = start_contract(
        session, plan=plan, buyer=buyer or buyer_actor(session), now=utcnow() - timedelta(days=10)
    )
    return contract, invoice_of(session, contract)


# --- starting plans ----------------------------------------------------------------------------


def test_buyer_starts_a_subscription_with_trial_from_the_solution_page(
    client: FlaskClient, session: Session
) -> None:
    plan = offered_plan(session, subscription_terms(trial_days=14))
    buyer = buyer_actor(session)
    sign_in(client, buyer)
    solution_page = page(client.get(f"/solutions/{plan.solution.slug}"))
    action = f"/billing/plans/{plan.id}/start"
    assert f'action="{action}"' in solution_page
    assert "14-day free trial" in solution_page or "14" in solution_page

    response = client.post(action, data=ACCEPT)
    assert response.status_code == 302
    contract = session.scalar(sa.select(Contract).where(Contract.buyer_id == buyer.organization.id))
    assert contract.status is ContractStatus.TRIALING
    assert contract.trial_end is not None
    assert invoice_of(session, contract) is None
    assert response.headers["Location"].endswith(f"/billing/contracts/{contract.id}/next-steps")

    contract_page = page(client.get(f"/billing/contracts/{contract.id}"))
    assert 'data-status="trialing"' in contract_page
    # The solution page now links to the contract instead of offering the plan again.
    again = page(client.get(f"/solutions/{plan.solution.slug}"))
    assert f'href="/billing/contracts/{contract.id}"' in again
    assert client.post(action, data=ACCEPT).status_code == 422  # "You already have this plan."


def test_buyer_starts_a_usage_plan_with_a_spend_cap(client: FlaskClient, session: Session) -> None:
    plan = offered_plan(session, usage_terms())
    buyer = buyer_actor(session)
    sign_in(client, buyer)

    refused = client.post(f"/billing/plans/{plan.id}/start", data={"spend_cap": "abc", **ACCEPT})
    assert refused.status_code == 422
    assert 'data-field="spend_cap"' in page(refused)
    assert session.scalar(sa.select(Contract).where(Contract.plan_id == plan.id)) is None

    response = client.post(
        f"/billing/plans/{plan.id}/start", data={"spend_cap": "1,500.50", **ACCEPT}
    )
    assert response.status_code == 302
    contract = session.scalar(sa.select(Contract).where(Contract.plan_id == plan.id))
    assert contract.status is ContractStatus.ACTIVE
    assert contract.spend_cap_fen == 150_050


def test_outcome_plan_asks_for_the_baseline(client: FlaskClient, session: Session) -> None:
    from tests.catalog.factories import OUTCOME

    plan = offered_plan(session, dict(OUTCOME))
    sign_in(client, buyer_actor(session))
    form = client.get(f"/billing/plans/{plan.id}/start")
    assert form.status_code == 200 and 'name="baseline"' in page(form)
    missing = client.post(f"/billing/plans/{plan.id}/start", data={"baseline": "", **ACCEPT})
    assert missing.status_code == 422 and 'data-field="baseline"' in page(missing)
    response = client.post(
        f"/billing/plans/{plan.id}/start",
        data={"baseline": "12500.5", "baseline_note": "2026年9月电表读数", **ACCEPT},
    )
    assert response.status_code == 302
    contract = session.scalar(sa.select(Contract).where(Contract.plan_id == plan.id))
    assert contract.status is ContractStatus.PENDING
    # The buyer's figure is a proposal until the vendor accepts it (issue 5).
    assert contract.baseline is None
    proposal = baselines.open_proposal(session, contract)
    assert proposal.value == Decimal("12500.5") and proposal.note == "2026年9月电表读数"


def test_only_enterprises_start_plans(client: FlaskClient, session: Session) -> None:
    plan = offered_plan(session, subscription_terms())
    sign_in(client, vendor_actor(session))
    assert client.post(f"/billing/plans/{plan.id}/start").status_code == 403
    assert client.get("/billing/plans/999999/start").status_code == 403  # kind before lookup


# --- the contract page ---------------------------------------------------------------------------


def test_contract_page_shows_the_usage_chart(client: FlaskClient, session: Session) -> None:
    now = utcnow()
    buyer = buyer_actor(session)
    contract = start_contract(
        session, usage_terms(), buyer=buyer, now=now - timedelta(days=3), spend_cap_fen=5_000_00
    )
    events = [
        {
            "id": f"e{day}-{n}",
            "contract_id": contract.id,
            "meter": contract.plan.meter,
            "quantity": 1500,
            "occurred_at": (now - timedelta(days=3) + timedelta(days=day, hours=1)).isoformat(),
        }
        for day in range(3)
        for n in range(2)
    ]
    assert (
        metering.ingest(session, vendor_id=contract.vendor_id, events=events, now=now).accepted == 6
    )
    quantity, charge = metering.current_usage(session, contract)
    assert quantity == 9000 and charge > 0

    sign_in(client, buyer)
    html = page(client.get(f"/billing/contracts/{contract.id}"))
    chart = html.index('<svg class="usage-chart"')
    svg = html[chart : html.index("</svg>", chart)]
    assert svg.count('class="usage-bar"') == 3  # one bar per day with usage
    assert 'class="charge-line"' in svg
    assert "¥5,000.00" in svg  # the spend cap is named on the chart
    assert figure(html, "data-usage-charge") == charge
    assert "9,000" in html
    # Geometry, not script: nothing inline for the CSP to block.
    assert "<script>" not in html and "style=" not in svg


def test_spend_cap_is_edited_on_the_contract_page(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    contract = start_contract(session, usage_terms(), buyer=buyer, now=utcnow())
    sign_in(client, buyer)
    url = f"/billing/contracts/{contract.id}/spend-cap"
    assert client.post(url, data={"spend_cap": "-5"}).status_code == 422
    assert client.post(url, data={"spend_cap": "800"}).status_code == 302
    session.refresh(contract)
    assert contract.spend_cap_fen == 80_000
    assert client.post(url, data={"spend_cap": ""}).status_code == 302
    session.refresh(contract)
    assert contract.spend_cap_fen is None


def test_change_plan_shows_the_proration_and_invoices_it(
    client: FlaskClient, session: Session
) -> None:
    standard = subscription_terms(trial_days=0)
    pro = subscription_terms(trial_days=0, name="专业版", name_en="Pro", price_fen=199_900)
    solution = publish_solution(session, vendor_actor(session), plans=[standard, pro])
    old_plan, new_plan = solution.published.plans
    buyer = buyer_actor(session)
    contract = start_contract(
        session, plan=old_plan, buyer=buyer, now=utcnow() - timedelta(days=10)
    )
    sign_in(client, buyer)

    url = f"/billing/contracts/{contract.id}/change-plan"
    assert client.get(url + "?plan_id=abc").status_code == 422
    preview = page(client.get(f"{url}?plan_id={new_plan.id}"))
    now = utcnow()
    start, end = contract.current_period_start, contract.current_period_end
    credit = prorate(old_plan.price_fen, start, end, now)
    charge = prorate(new_plan.price_fen, start, end, now)
    assert figure(preview, "data-proration-credit") == -credit
    assert figure(preview, "data-proration-charge") == charge
    assert figure(preview, "data-proration-net") == charge - credit

    response = client.post(url, data={"plan_id": str(new_plan.id)})
    assert response.status_code == 302
    session.expire_all()
    invoice = session.scalar(
        sa.select(Invoice).where(Invoice.contract_id == contract.id, Invoice.reason == "proration")
    )
    assert response.headers["Location"].endswith(f"/billing/invoices/{invoice.id}")
    assert invoice.total_fen == charge - credit
    assert [line.amount_fen for line in invoice.lines] == [-credit, charge]
    assert session.get(Contract, contract.id).plan_id == new_plan.id


def test_cancel_at_period_end_after_confirmation(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    contract, _invoice = subscribed(session, buyer)
    sign_in(client, buyer)
    url = f"/billing/contracts/{contract.id}/cancel"
    confirmation = page(client.get(url))
    assert 'value="period_end"' in confirmation and 'value="now"' in confirmation
    assert client.post(url, data={"when": "someday"}).status_code == 422
    assert client.post(url, data={"when": "period_end"}).status_code == 302
    session.refresh(contract)
    assert contract.cancel_at_period_end and contract.status is ContractStatus.ACTIVE
    assert "data-cancel-at-period-end" in page(client.get(f"/billing/contracts/{contract.id}"))


# --- invoices and paying them -------------------------------------------------------------------


def test_invoice_page_shows_the_vat_part_and_totals_that_add_up(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    contract, invoice = subscribed(session, buyer)
    sign_in(client, buyer)
    html = page(client.get(f"/billing/invoices/{invoice.id}"))
    subtotal, vat, total = (figure(html, a) for a in ("data-subtotal", "data-vat", "data-total"))
    assert (subtotal, vat, total) == (invoice.subtotal_fen, invoice.tax_fen, invoice.total_fen)
    assert subtotal + vat == total and vat > 0
    assert figure(html, "data-amount-due") == total
    assert "6%" in html  # the VAT rate
    assert invoice.number in html and invoice.transfer_reference in html
    assert contract.vendor.uscc in html and contract.buyer.uscc in html
    assert contract.vendor.address in html

    listing = page(client.get("/billing/invoices?status=open"))
    assert invoice.number in listing
    assert invoice.number not in page(client.get("/billing/invoices?status=paid"))
    assert client.get("/billing/invoices?status=bogus&page=x").status_code == 200


def test_pay_page_gives_bank_transfer_instructions_and_no_card_without_a_key(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    _contract, invoice = subscribed(session, buyer)
    sign_in(client, buyer)
    html = page(client.get(f"/billing/invoices/{invoice.id}/pay"))
    assert invoice.transfer_reference in html
    assert figure(html, "data-transfer-amount") == invoice.total_fen
    assert app.config["BANK_ACCOUNT_NUMBER"] in html
    assert app.config["BANK_ACCOUNT_NAME"] in html
    # No Stripe key: no card anywhere.
    assert 'id="pay-card"' not in html and "/billing/card" not in html
    assert client.get("/billing/card").status_code == 404
    assert client.post(f"/billing/invoices/{invoice.id}/pay/card").status_code == 404


@pytest.fixture
def stripe_keys(config: dict[str, object]) -> None:
    """Card payment configured (no request reaches this address in these tests)."""
    config.update(
        STRIPE_SECRET_KEY="sk_test_12345",
        STRIPE_PUBLISHABLE_KEY="pk_test_12345",
        STRIPE_API_BASE="http://127.0.0.1:9",
        STRIPE_JS_URL="http://127.0.0.1:9/js.stripe.com/v3/",
    )


def test_pay_page_offers_to_save_a_card_when_stripe_is_configured(
    stripe_keys: None, client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    _contract, invoice = subscribed(session, buyer)
    sign_in(client, buyer)
    html = page(client.get(f"/billing/invoices/{invoice.id}/pay"))
    assert 'id="pay-card"' in html and "data-save-card" in html
    assert 'id="pay-bank"' in html


def test_card_page_answers_503_when_stripe_is_unreachable(
    stripe_keys: None, client: FlaskClient, session: Session
) -> None:
    sign_in(client, buyer_actor(session))
    response = client.get("/billing/card")
    assert response.status_code == 503


# --- other organizations and roles ------------------------------------------------------------


def test_another_buyer_gets_404_for_the_invoice_and_contract_pages(
    client: FlaskClient, session: Session
) -> None:
    contract, invoice = subscribed(session)
    sign_in(client, buyer_actor(session))
    for path in (
        f"/billing/invoices/{invoice.id}",
        f"/billing/invoices/{invoice.id}/pay",
        f"/billing/contracts/{contract.id}",
        f"/billing/contracts/{contract.id}/cancel",
    ):
        assert client.get(path).status_code == 404, path
    assert (
        client.post(f"/billing/contracts/{contract.id}/cancel", data={"when": "now"}).status_code
        == 404
    )


def test_vendor_sees_customers_invoices_and_payable_but_cannot_record_transfers(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    plan = offered_plan(session, subscription_terms(trial_days=0), vendor)
    buyer = buyer_actor(session)
    contract = start_contract(session, plan=plan, buyer=buyer, now=utcnow())
    invoice = invoice_of(session, contract)
    sign_in(client, vendor)

    contracts_page = page(client.get("/billing/contracts"))
    assert buyer.organization.name in contracts_page and buyer.organization.uscc in contracts_page
    assert invoice.number in page(client.get("/billing/invoices"))
    assert client.get(f"/billing/invoices/{invoice.id}").status_code == 200
    payable = page(client.get("/billing/payable"))
    share = invoice.total_fen - invoice.total_fen // 10  # 10% commission
    assert figure(payable, "data-payable") == share
    assert share == -ledger.balance(session, ledger.VENDOR_PAYABLE, vendor.organization.id)

    response = client.post(
        f"/billing/console/invoices/{invoice.id}/transfers",
        data={"amount": "10", "reference": "X1"},
    )
    assert response.status_code == 403
    assert client.get(f"/billing/invoices/{invoice.id}/pay").status_code == 403
    assert client.get("/billing/console").status_code == 403


def test_auditor_reads_but_does_not_act(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    contract, invoice = subscribed(session, buyer)
    auditor = add_member(session, buyer.organization, Role.AUDITOR)
    login(client, auditor)
    assert client.get(f"/billing/contracts/{contract.id}").status_code == 200
    assert client.get(f"/billing/invoices/{invoice.id}").status_code == 200
    assert (
        client.post(f"/billing/contracts/{contract.id}/cancel", data={"when": "now"}).status_code
        == 403
    )
    session.refresh(contract)
    assert contract.status is ContractStatus.ACTIVE


# --- the operator ------------------------------------------------------------------------------


def test_operator_records_a_partial_then_a_full_transfer(
    client: FlaskClient, session: Session
) -> None:
    _contract, invoice = subscribed(session)
    operator = operator_actor(session)
    sign_in(client, operator)
    found = page(client.get("/billing/console", query_string={"q": invoice.transfer_reference}))
    assert invoice.number in found
    assert (
        "INV-"
        not in page(client.get("/billing/console", query_string={"q": "MKTNOPE999"})).split(
            "<tbody>"
        )[-1]
    )

    url = f"/billing/console/invoices/{invoice.id}/transfers"
    half = invoice.total_fen // 2
    bad = client.post(url, data={"amount": "abc", "reference": "B1"})
    assert bad.status_code == 422 and 'data-field="amount"' in page(bad)
    assert (
        client.post(url, data={"amount": f"{half / 100:.2f}", "reference": "ICBC-001"}).status_code
        == 302
    )
    session.expire_all()
    invoice = session.get(Invoice, invoice.id)
    assert invoice.status is InvoiceStatus.OPEN
    html = page(client.get(f"/billing/console/invoices/{invoice.id}"))
    assert figure(html, "data-amount-due") == invoice.total_fen - half
    assert "ICBC-001" in html

    duplicate = client.post(url, data={"amount": "1", "reference": "ICBC-001"})
    assert duplicate.status_code == 422 and 'data-field="reference"' in page(duplicate)

    rest_plus_extra = invoice.total_fen - half + 500
    assert (
        client.post(
            url, data={"amount": f"{rest_plus_extra / 100:.2f}", "reference": "ICBC-002"}
        ).status_code
        == 302
    )
    session.expire_all()
    invoice = session.get(Invoice, invoice.id)
    assert invoice.status is InvoiceStatus.PAID
    html = page(client.get(f"/billing/console/invoices/{invoice.id}"))
    assert figure(html, "data-credit") == 500  # the over-payment, shown as the buyer's credit
    assert ledger.unbalanced_transactions(session) == []
    ledger_page = page(client.get("/billing/console/ledger"))
    assert "data-balanced" in ledger_page and figure(ledger_page, "data-ledger-total") == 0
    commission = page(client.get("/billing/console/commission"))
    assert figure(commission, "data-commission-total") == -ledger.balance(
        session, ledger.PLATFORM_COMMISSION
    )
    assert figure(commission, "data-commission-total") > 0


def test_operator_refunds_a_bank_payment(client: FlaskClient, session: Session) -> None:
    _contract, invoice = subscribed(session)
    operator = operator_actor(session)
    payment = bank_transfers.record_bank_transfer(
        session,
        invoice,
        amount_fen=invoice.total_fen,
        reference="R-1",
        actor=operator,
        now=utcnow(),
    )
    sign_in(client, operator)
    url = f"/billing/console/payments/{payment.id}/refund"
    too_much = client.post(url, data={"amount": f"{invoice.total_fen}", "reason": "x"})
    assert too_much.status_code == 422
    assert client.post(url, data={"amount": "100", "reason": "服务未开通部分"}).status_code == 302
    refund = session.scalar(sa.select(Refund).where(Refund.payment_id == payment.id))
    assert refund.amount_fen == 10_000 and refund.reason == "服务未开通部分"
    assert ledger.unbalanced_transactions(session) == []
    assert "服务未开通部分" in page(client.get(f"/billing/console/invoices/{invoice.id}"))


def test_operator_voids_an_open_invoice(client: FlaskClient, session: Session) -> None:
    _contract, invoice = subscribed(session)
    sign_in(client, operator_actor(session))
    url = f"/billing/console/invoices/{invoice.id}/void"
    assert client.post(url, data={"note": ""}).status_code == 422
    assert client.post(url, data={"note": "重复开票"}).status_code == 302
    session.refresh(invoice)
    assert invoice.status is InvoiceStatus.VOID
    assert client.post(url, data={"note": "again"}).status_code == 422  # void is final
    assert ledger.unbalanced_transactions(session) == []


def test_operator_cannot_void_an_invoice_with_a_payment(
    client: FlaskClient, session: Session
) -> None:
    _contract, invoice = subscribed(session)
    operator = operator_actor(session)
    bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=100, reference="P-1", actor=operator, now=utcnow()
    )
    sign_in(client, operator)
    response = client.post(f"/billing/console/invoices/{invoice.id}/void", data={"note": "x"})
    assert response.status_code == 422
    session.refresh(invoice)
    assert invoice.status is InvoiceStatus.OPEN


# --- ratings and notifications -----------------------------------------------------------------


def test_rating_needs_a_paid_invoice_and_is_allowed_once(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    contract, invoice = subscribed(session, buyer)
    slug = contract.solution.slug
    sign_in(client, buyer)
    url = f"/billing/solutions/{slug}/rate"

    assert client.get(url).status_code == 403
    refused = client.post(url, data={"stars": "5", "comment": "好用"})
    assert refused.status_code == 403
    assert (
        session.scalar(sa.select(Rating).where(Rating.solution_id == contract.solution_id)) is None
    )

    bank_transfers.record_bank_transfer(
        session,
        invoice,
        amount_fen=invoice.total_fen,
        reference="PAID-1",
        actor=operator_actor(session),
        now=utcnow(),
    )
    assert 'data-field="stars"' in page(client.post(url, data={"stars": "9"}))
    response = client.post(url, data={"stars": "4", "comment": "漏检明显减少"})
    assert response.status_code == 302
    rating = session.scalar(sa.select(Rating).where(Rating.solution_id == contract.solution_id))
    assert (rating.stars, rating.comment, rating.organization_id) == (
        4,
        "漏检明显减少",
        buyer.organization.id,
    )
    assert client.post(url, data={"stars": "1"}).status_code == 409
    assert (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(Rating)
            .where(Rating.solution_id == contract.solution_id)
        )
        == 1
    )


def test_the_solution_page_shows_the_buyer_their_contract_and_the_rating_when_it_is_due(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    contract, invoice = subscribed(session, buyer)
    path = f"/solutions/{contract.solution.slug}"
    rate = f"/billing/solutions/{contract.solution.slug}/rate"
    sign_in(client, buyer)

    before = page(client.get(path))
    assert f'href="/billing/contracts/{contract.id}"' in before  # "you use this plan"
    assert rate not in before  # nothing paid yet

    bank_transfers.record_bank_transfer(
        session,
        invoice,
        amount_fen=invoice.total_fen,
        reference="PAID-2",
        actor=operator_actor(session),
        now=utcnow(),
    )
    session.commit()
    assert rate in page(client.get(path))
    assert client.post(rate, data={"stars": "5"}).status_code == 302
    after = page(client.get(path))
    assert rate not in after  # rated once
    assert f'href="/billing/contracts/{contract.id}"' in after

    other = buyer_actor(session)  # another enterprise, on the same page right after
    sign_in(client, other)
    theirs = page(client.get(path))
    assert f'href="/billing/contracts/{contract.id}"' not in theirs
    assert rate not in theirs and "data-accept-agreement" in theirs  # theirs to start


def test_notifications_bell_list_and_mark_all_read(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    _contract, invoice = subscribed(session, buyer)
    sign_in(client, buyer)
    home = page(client.get("/billing/notifications"))
    assert 'data-unread="1"' in home
    assert invoice.number in home and 'data-notification="invoice_issued"' in home
    assert client.post("/billing/notifications/read").status_code == 302
    assert 'data-unread="0"' in page(client.get("/billing/invoices"))
    assert (
        session.scalar(
            sa.select(Notification.read_at).where(
                Notification.organization_id == buyer.organization.id
            )
        )
        is not None
    )


# --- forms carry CSRF tokens -------------------------------------------------------------------


@pytest.fixture
def csrf_enabled(config: dict[str, object]) -> None:
    config["WTF_CSRF_ENABLED"] = True


def test_posts_without_a_csrf_token_are_refused(
    csrf_enabled: None, client: FlaskClient, session: Session
) -> None:
    plan = offered_plan(session, subscription_terms())
    buyer = buyer_actor(session)
    token = csrf_token(client, "/login")
    client.post(
        "/login",
        data={"email": buyer.user.email, "password": "correct-horse-battery", "csrf_token": token},
    )
    assert client.post(f"/billing/plans/{plan.id}/start").status_code == 400
    token = csrf_token(client, f"/solutions/{plan.solution.slug}")
    assert (
        client.post(
            f"/billing/plans/{plan.id}/start", data={"csrf_token": token, **ACCEPT}
        ).status_code
        == 302
    )


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_every_billing_page_renders_in_both_languages(
    client: FlaskClient, session: Session, language: str
) -> None:
    from tests.catalog.factories import OUTCOME

    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    operator = operator_actor(session)
    now = utcnow()
    usage = start_contract(
        session, plan=offered_plan(session, usage_terms(), vendor), buyer=buyer, now=now
    )
    metering.ingest(
        session,
        vendor_id=vendor.organization.id,
        events=[
            {
                "id": "u1",
                "contract_id": usage.id,
                "meter": usage.plan.meter,
                "quantity": "12.5",
                "occurred_at": now.isoformat(),
            }
        ],
        now=now,
    )
    outcome = start_contract(
        session,
        plan=offered_plan(session, dict(OUTCOME), vendor),
        buyer=buyer,
        now=now,
        baseline=Decimal("100"),
    )
    subscription, invoice = subscribed(session, buyer)
    bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=1000, reference="L-1", actor=operator, now=now
    )
    pages = {
        buyer: [
            f"/billing/contracts/{usage.id}",
            f"/billing/contracts/{outcome.id}",
            f"/billing/contracts/{subscription.id}",
            f"/billing/contracts/{subscription.id}/cancel",
            f"/billing/contracts/{subscription.id}/change-plan",
            f"/billing/contracts/{usage.id}/next-steps",
            f"/billing/contracts/{outcome.id}/next-steps",
            f"/billing/contracts/{subscription.id}/next-steps",
            f"/billing/contracts/{usage.id}/agreement",
            f"/billing/solutions/{usage.solution.slug}/agreement",
            f"/billing/plans/{usage.plan_id}/start",
            "/billing/contracts",
            "/billing/contracts?state=live",
            "/billing/invoices",
            f"/billing/invoices/{invoice.id}",
            f"/billing/invoices/{invoice.id}/pay",
            "/billing/notifications",
            f"/solutions/{usage.solution.slug}",
        ],
        vendor: [
            "/billing/contracts",
            f"/billing/contracts/{usage.id}",
            f"/billing/contracts/{usage.id}/agreement",
            "/billing/invoices",
            "/billing/payable",
            "/billing/notifications",
        ],
        operator: [
            "/billing/console",
            "/billing/console?status=all&q=%25",
            f"/billing/console/invoices/{invoice.id}",
            "/billing/console/ledger",
            "/billing/console/commission",
        ],
    }
    for actor, paths in pages.items():
        sign_in(client, actor)
        client.post("/language", data={"lang": language})
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert f'lang="{"en" if language == "en" else "zh-CN"}"' in page(response)
        client.post("/logout")
