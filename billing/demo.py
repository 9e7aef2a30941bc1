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

from billing import contracts, metering, payments
from billing.models import Contract
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

    paid_plan = _plan(solutions[10:], BillingModel.SUBSCRIPTION, trial=False)
    if paid_plan is not None:
        contract = contracts.start(
            session,
            actor=buyer,
            plan=paid_plan,
            now=now - timedelta(days=10),
            commission_bp=commission,
        )
        session.refresh(contract)
        from billing.models import Invoice

        invoice = session.scalar(sa.select(Invoice).where(Invoice.contract_id == contract.id))
        if invoice is not None:
            payments.record_bank_transfer(
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
            now=now - timedelta(days=3),
            commission_bp=commission,
        )
    session.flush()
    return {}


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
    from billing.localstripe_process import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe

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
