"""Billing in the demo: contracts and invoices for the demo buyer, and a local Stripe-
compatible server (localstripe, when installed and no real key is set) so card payments
can be tried."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from importlib.util import find_spec
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.orm import Session

from billing import contracts
from billing.metering import events as metering
from billing.models import Contract
from billing.payments import bank_transfers
from billing.run import close_period
from catalog.models import BillingModel, Plan, Solution
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, Role, User


def _plan(
    solutions: list[Solution], model: BillingModel, *, trial: bool | None = None
) -> Plan | None:
    """The first plan of that model a small factory would pick (at most ¥2,000 a month)."""
    for solution in solutions:
        if solution.published is None:
            continue
        for plan in solution.published.plans:
            if plan.billing_model is not model or (plan.monthly_equivalent_fen or 0) > 200_000:
                continue
            if trial is not None and (plan.trial_days > 0) != trial:
                continue
            return plan
    return None


def load(
    session: Session,
    *,
    orgs: dict[str, Organization],
    users: dict[str, User],
    solutions: list[Solution] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The demo buyer (恒丰精密) uses three solutions: pay-after-use with an invoice to pay,
    a paid subscription, and a subscription in its free trial."""
    buyer_org = orgs["sme"]
    if session.scalar(sa.select(Contract.id).where(Contract.buyer_id == buyer_org.id).limit(1)):
        return {}
    solutions = solutions or list(
        session.scalars(sa.select(Solution).where(Solution.is_public).order_by(Solution.id))
    )
    commission = current_app.config["PLATFORM_COMMISSION_BP"]
    buyer = Actor(users["buyer@demo.local"], buyer_org, Role.OWNER)
    operator = Actor(users["operator@demo.local"], orgs["platform"], Role.OWNER)
    now = utcnow()

    usage_plan = _plan(solutions, BillingModel.USAGE)
    if usage_plan is not None:
        start = now - timedelta(days=40)
        contract = contracts.start(
            session,
            actor=buyer,
            plan=usage_plan,
            agreement_version=contracts.agreement_in_force(usage_plan),
            now=start,
            commission_bp=commission,
            spend_cap_fen=2_000_000,
        )
        events = [
            {
                "id": f"demo-{contract.id}-{day}",
                "contract_id": contract.id,
                "meter": usage_plan.meter,
                "quantity": str(Decimal(900 + 37 * day % 400)),
                "occurred_at": (start + timedelta(days=day, hours=9)).isoformat(),
            }
            for day in range(0, 40)
        ]
        metering.ingest(session, vendor_id=contract.vendor_id, events=events, now=now)
        close_period(session, contract, now=now, commission_bp=commission)
        _billing_error(session, contract, now)

    paid_plan = _plan(solutions[10:], BillingModel.SUBSCRIPTION, trial=False)
    if paid_plan is not None:
        contract = contracts.start(
            session,
            actor=buyer,
            plan=paid_plan,
            agreement_version=contracts.agreement_in_force(paid_plan),
            now=now - timedelta(days=10),
            commission_bp=commission,
        )
        session.refresh(contract)
        from billing.models import Invoice

        invoice = session.scalar(sa.select(Invoice).where(Invoice.contract_id == contract.id))
        if invoice is not None:
            bank_transfers.record_bank_transfer(
                session,
                invoice,
                amount_fen=invoice.total_fen,
                reference=f"DEMO-{invoice.number}",
                actor=operator,
                now=now - timedelta(days=8),
            )

    trial_plan = _plan(solutions[20:], BillingModel.SUBSCRIPTION, trial=True)
    if trial_plan is not None:
        contracts.start(
            session,
            actor=buyer,
            plan=trial_plan,
            agreement_version=contracts.agreement_in_force(trial_plan),
            now=now - timedelta(days=3),
            commission_bp=commission,
        )
    credit_plan = next(
        (
            plan
            for solution in solutions[30:]
            if solution.published is not None
            for plan in solution.published.plans
            if plan.billing_model is BillingModel.SUBSCRIPTION
            and plan.trial_days == 0
            and contracts.interval_of(plan) == "month"
            and (paid_plan is None or solution.id != paid_plan.solution_id)
        ),
        None,
    )
    if credit_plan is not None:
        _credit_used_on_renewal(session, buyer, operator, credit_plan, now, commission)
    session.flush()
    return {}


def _billing_error(session: Session, contract: Contract, now: Any) -> None:
    """What the operator's console shows when the billing run cannot close a contract's
    period (here: usage recorded before the limits existed); the next run that closes the
    period resolves it."""
    from billing.error_models import BillingError
    from catalog.limits import MAX_PERIOD_QUANTITY

    session.add(
        BillingError(
            contract_id=contract.id,
            period_start=contract.current_period_start,
            period_end=contract.current_period_end,
            step="close",
            code="quantity_too_large",
            message=(
                f"12000000000000000 units in the period is beyond the maximum of "
                f"{MAX_PERIOD_QUANTITY} (events recorded before the limits)"
            ),
            first_seen_at=now - timedelta(days=2),
            last_seen_at=now - timedelta(hours=2),
            attempts=3,
        )
    )


def _credit_used_on_renewal(
    session: Session, buyer: Actor, operator: Actor, plan: Plan, now: Any, commission: int
) -> None:
    """A subscription paid for its first month, then a credit note for a service outage
    (the month was paid, so it goes to the buyer's credit balance with the vendor); the
    renewal takes the credit and leaves the rest due."""
    from billing import invoices
    from billing.invoices import InvoiceDraft, LineDraft
    from billing.models import InvoiceKind

    start = now - timedelta(days=40)
    contract = contracts.start(
        session,
        actor=buyer,
        plan=plan,
        agreement_version=contracts.agreement_in_force(plan),
        now=start,
        commission_bp=commission,
    )
    first = invoices.existing(session, contract.id, contract.current_period_start, "renewal")
    if first is None:
        return
    bank_transfers.record_bank_transfer(
        session,
        first,
        amount_fen=first.total_fen,
        reference=f"DEMO-{first.number}",
        actor=operator,
        now=start + timedelta(days=2),
    )
    outage = start + timedelta(days=12)
    credit = (plan.price_fen or 0) * 3 // 10
    line = LineDraft(
        kind="service_credit",
        # Worded when read (billing/line_words.py); the description is for the API only.
        description="Service credit: 3 days of outage, 30% of the monthly fee",
        quantity=Decimal(1),
        unit_fen=Decimal(-credit),
        amount_fen=-credit,
        vat_rate_bp=plan.vat_rate_bp,
        period_start=first.period_start,
        period_end=first.period_end,
        plan_id=plan.id,
        details={"outage_days": 3, "share_bp": 3000},
    )
    draft = InvoiceDraft(
        contract,
        "service_credit",
        first.period_start,
        first.period_end,
        [line],
        kind=InvoiceKind.CREDIT_NOTE,
        corrects=first,
    )
    invoices.create_many(session, [draft], commission_bp=commission, now=outage)
    while contract.current_period_end <= now:  # the renewal, as the billing run issues it
        close_period(session, contract, now=now, commission_bp=commission)


def start_local_stripe(app: Flask, host: str, port: int) -> tuple[str, Callable[[], None] | None]:
    """With no Stripe key and localstripe installed, run it for the demo's card payments."""
    if app.config.get("STRIPE_SECRET_KEY"):
        return "card payments: the configured Stripe account", None
    if find_spec("localstripe") is None:
        return (
            "card payments: hidden (no Stripe key; pip install -e '.[demo]' adds a local "
            "Stripe-compatible server); bank transfer works",
            None,
        )
    from devtools.localstripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe

    server = LocalStripe().start()
    secret = "whsec_" + secrets.token_hex(16)
    server.register_webhook(f"http://{host}:{port}/billing/webhooks/stripe", secret, name="demo")
    # The gunicorn workers build their apps from the environment.
    os.environ.update(
        MARKETPLACE_STRIPE_SECRET_KEY=SECRET_KEY,
        MARKETPLACE_STRIPE_PUBLISHABLE_KEY=PUBLISHABLE_KEY,
        MARKETPLACE_STRIPE_API_BASE=server.api_base,
        MARKETPLACE_STRIPE_JS_URL=server.js_url,
        MARKETPLACE_STRIPE_WEBHOOK_SECRET=secret,
    )
    return (
        f"card payments: local Stripe-compatible server at {server.api_base} (test card 4242 4242 4242 4242)",
        server.stop,
    )


# --- pay for results --------------------------------------------------------------------------

# (solution slug, buyer key, baseline, how it was measured, measured value per period)
OUTCOME_DEMOS = [
    (
        "yunzhi-stenter-energy-saving",
        "sme2",
        Decimal(52_000),
        "2025 年 3–8 月燃气公司账单平均，定型机 3 台，按车间总表计",
        [Decimal(46_800), Decimal(45_900), Decimal(44_100), Decimal(45_200)],
    ),
    (
        "jingshi-injection-part-inspection",
        "sme",
        Decimal(320),
        "2025 年下半年返工记录平均，外观不良返工工时（含挑选）",
        [Decimal(236), Decimal(251), Decimal(198), Decimal(214)],
    ),
]


def load_outcomes(
    session: Session,
    *,
    orgs: dict[str, Organization],
    users: dict[str, User],
    **_: Any,
) -> dict[str, Any]:
    """Two pay-for-results contracts four months in: an energy saving (甬江纺织 with 云织)
    and a quality inspection (恒丰精密 with 精测). Their first result was confirmed by the
    buyer, the second by silence, the third disputed and adjusted by the operator (all
    three invoiced, the first paid), and the fourth awaits the buyer."""
    from billing import invoices
    from billing.outcomes import baselines, invoicing, reporting, verification
    from billing.outcomes.models import OutcomeReport
    from billing.periods import period_bounds

    if session.scalar(sa.select(OutcomeReport.id).limit(1)) is not None:
        return {}
    commission = current_app.config["PLATFORM_COMMISSION_BP"]
    operator = Actor(users["operator@demo.local"], orgs["platform"], Role.OWNER)
    now = utcnow()
    anchor = now - timedelta(days=4 * 31 + 3)
    for slug, buyer_key, baseline, how, values in OUTCOME_DEMOS:
        solution = session.scalar(sa.select(Solution).where(Solution.slug == slug))
        if solution is None or solution.published is None:
            continue
        plan = next(p for p in solution.published.plans if p.billing_model is BillingModel.OUTCOME)
        buyer_org = orgs[buyer_key]
        buyer_user = next(
            user
            for user in users.values()
            if (m := user.membership_in(buyer_org.id)) and m.role is Role.OWNER
        )
        buyer = Actor(buyer_user, buyer_org, Role.OWNER)
        vendor_org = solution.vendor
        vendor_user = vendor_org.memberships[0].user
        vendor = Actor(vendor_user, vendor_org, Role.OWNER)
        contract = contracts.start(
            session,
            actor=buyer,
            plan=plan,
            agreement_version=contracts.agreement_in_force(plan),
            now=anchor - timedelta(days=2),
            commission_bp=commission,
            baseline=baseline,
            baseline_note=how,
        )
        baselines.accept_baseline(session, contract, actor=vendor, now=anchor)
        reports = []
        for index, value in enumerate(values):
            start, end = period_bounds(anchor, index)
            reports.append(
                reporting.report(
                    session,
                    contract,
                    actor=vendor,
                    period_start=start,
                    period_end=end,
                    measured=value,
                    now=min(end + timedelta(days=1), now),
                    note="数据取自车间计量表，月度汇总见附件" if index == 0 else "",
                    evidence_url="https://energy.example.cn/reports/demo" if index < 2 else "",
                )
            )
        first, second, third, _fourth = reports
        verification.confirm(
            session, first, actor=buyer, now=first.submitted_at + timedelta(days=2)
        )
        (paid,) = invoicing.invoice_confirmed(
            session, now=first.submitted_at + timedelta(days=2), commission_bp=commission
        )
        if invoices.amount_due(paid) > 0:
            bank_transfers.record_bank_transfer(
                session,
                paid,
                amount_fen=invoices.amount_due(paid),
                reference=f"DEMO-{paid.number}",
                actor=operator,
                now=first.submitted_at + timedelta(days=9),
            )
        verification.auto_confirm(session, now=second.confirm_by)
        invoicing.invoice_confirmed(session, now=second.confirm_by, commission_bp=commission)
        verification.dispute(
            session,
            third,
            actor=buyer,
            reason="本月有一周停产检修，用量下降不是方案带来的"
            if buyer_key == "sme2"
            else "本月订单减少三成，返工工时下降主要是产量减少",
            now=third.submitted_at + timedelta(days=1),
        )
        adjusted = (third.measured + baseline) / 2
        verification.resolve(
            session,
            third,
            actor=operator,
            decision="adjust",
            adjusted=adjusted.quantize(Decimal(1)),
            note="双方提供的生产记录已核对：按产量折算后的实测值计费。",
            now=third.submitted_at + timedelta(days=3),
        )
        invoicing.invoice_confirmed(
            session, now=third.submitted_at + timedelta(days=3), commission_bp=commission
        )
        while contract.current_period_end <= now:  # as the billing run would have
            close_period(session, contract, now=now, commission_bp=commission)
    session.flush()
    return {}
