"""The billing blueprint and what its pages share: loading an object of the acting
organization (another organization's is simply not found), and template helpers.

Every handler runs load (404) -> authorize (403, by ``org_required`` and the model's
``can_view``) -> act, with service calls inside ``db.session.begin_nested()`` so a refusal
leaves the database as it was.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, g
from flask.blueprints import BlueprintSetupState
from flask_babel import format_date
from flask_babel import gettext as _

from billing import overdue
from billing.models import Contract, ContractStatus, Invoice, Notification
from billing.payments import gateway
from catalog.models import Plan
from marketplace.auth import page_figure, read_with_session, web_actor
from marketplace.db import db
from marketplace.i18n import current_language
from marketplace.models import OrgKind

bp = Blueprint("billing", __name__, url_prefix="/billing")

BUYER = (OrgKind.SME,)
BUYER_OR_VENDOR = (OrgKind.SME, OrgKind.VENDOR)
OPERATOR = (OrgKind.PLATFORM,)
PER_PAGE = 50
# Contracts that still run (or wait for the baseline): a buyer has at most one per plan.
LIVE_STATUSES = [
    ContractStatus.PENDING,
    ContractStatus.TRIALING,
    ContractStatus.ACTIVE,
    ContractStatus.PAST_DUE,
]

# Why an invoice was issued, in words (Invoice.reason).
REASON_LABELS = {
    "renewal": lambda: _("Subscription"),
    "usage": lambda: _("Usage"),
    "proration": lambda: _("Plan change"),
    "outcome": lambda: _("Results"),
    "correction": lambda: _("Correction"),
}


def load_contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None or not contract.can_view(g.actor.organization.id):
        abort(404)
    return contract


def load_invoice(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or not invoice.can_view(g.actor.organization.id):
        abort(404)
    return invoice


def require_buyer(contract: Contract | Invoice) -> None:
    """Only the buying organization acts on its contracts and pays its invoices."""
    if contract.buyer_id != g.actor.organization.id:
        abort(403)


def page_number(raw: Any) -> int:
    try:
        return min(max(int(raw), 1), 100_000)
    except (TypeError, ValueError):
        return 1


def card_payments_enabled() -> bool:
    """Card payment shows only when a Stripe key is configured."""
    return gateway.stripe_client() is not None


def card_setup_enabled() -> bool:
    """Saving a card also needs the publishable key for Stripe.js."""
    return card_payments_enabled() and bool(current_app.config.get("STRIPE_PUBLISHABLE_KEY"))


def plan_name(plan: Plan) -> str:
    return plan.name_en if current_language() == "en" and plan.name_en else plan.name


def kpi_name(plan: Plan) -> str:
    """A pay-for-results plan's KPI in the reader's language (its English one if it has it)."""
    return (plan.kpi_name_en if current_language() == "en" and plan.kpi_name_en else None) or (
        plan.kpi_name or ""
    )


def kpi_unit(plan: Plan) -> str:
    return (plan.kpi_unit_en if current_language() == "en" and plan.kpi_unit_en else None) or (
        plan.kpi_unit or ""
    )


def solution_name(contract: Contract) -> str:
    revision = contract.solution.published or contract.plan.revision
    if current_language() == "en" and revision.name_en:
        return revision.name_en
    return revision.name


def long_date(value: datetime | None) -> str:
    return format_date(value, "long") if value else ""


def reason_label(reason: str) -> str:
    label = REASON_LABELS.get(reason)
    return label() if label else reason


def _unread_of(org_id: sa.BindParameter[int]) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(Notification.organization_id == org_id, Notification.read_at.is_(None))
        .scalar_subquery()
    )


_UNREAD = sa.select(_unread_of(sa.bindparam("org_id")))  # built once


@bp.record_once
def _bell_with_the_session(state: BlueprintSetupState) -> None:
    # Every signed-in page shows the bell: its count comes with the user's session.
    read_with_session(state.app, "notifications_unread", _unread_of)


def unread_notifications() -> int:
    """For the bell in the navigation bar; 0 when nobody acts for an organization."""
    actor = web_actor()
    if actor is None:
        return 0
    read = page_figure("notifications_unread", actor.organization.id)
    if read is not None:
        return int(read)
    try:
        return int(db.session.scalar(_UNREAD, {"org_id": actor.organization.id}) or 0)
    except sa.exc.SQLAlchemyError:  # the error page itself must still render
        return 0


@bp.app_template_filter("day")
def day(value: datetime | None, format: str = "medium") -> str:
    """A date in the reader's language and time zone (``when`` shows the time as well)."""
    return format_date(value, format) if value else ""


@bp.app_template_filter("unit_money")
def unit_money(fen: Decimal | int | None) -> str:
    """A unit price in (possibly fractional) fen as yuan, sign kept: "-¥12.50", "¥0.015"."""
    if fen is None:
        return ""
    value = Decimal(str(fen))
    sign = "-" if value < 0 else ""
    whole, _sep, fraction = format(abs(value).scaleb(-2).normalize(), "f").partition(".")
    return f"{sign}¥{int(whole):,}.{fraction.ljust(2, '0')}"


@bp.app_context_processor
def billing_helpers() -> dict[str, Any]:
    return {
        "billing_unread": unread_notifications,
        "reason_label": reason_label,
        "plan_name": plan_name,
        "solution_name": solution_name,
        "kpi_name": kpi_name,
        "kpi_unit": kpi_unit,
    }


# A global (not a context variable) so that macros imported without context see it.
bp.add_app_template_global(overdue.overdue_days, "overdue_days")
