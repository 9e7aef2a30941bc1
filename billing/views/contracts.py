"""Contracts as pages: start a plan from the solution page, the buyer's solutions and the
vendor's customers, one contract with its usage chart, spend cap, plan change and cancel."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from billing import contracts as contract_rules
from billing import metering, ratings
from billing.api import commission_bp
from billing.forms import CancelForm, ChangePlanForm, SpendCapForm, StartPlanForm
from billing.models import Contract, ContractStatus, Invoice
from billing.periods import prorate
from billing.usage_chart import usage_chart
from billing.views.common import (
    BUYER,
    BUYER_OR_VENDOR,
    PER_PAGE,
    bp,
    load_contract,
    page_number,
    require_buyer,
)
from catalog.models import BillingModel, Plan
from marketplace.auth import org_required, web_actor
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.i18n import current_language
from marketplace.models import OrgKind
from marketplace.views.accounts import show_error

_START_FIELDS = {"spend_cap_fen": "spend_cap"}
# Contracts that still run (or wait for the baseline): a buyer has at most one per plan.
_LIVE = [
    ContractStatus.PENDING,
    ContractStatus.TRIALING,
    ContractStatus.ACTIVE,
    ContractStatus.PAST_DUE,
]


def plan_name(plan: Plan) -> str:
    return plan.name_en if current_language() == "en" and plan.name_en else plan.name


def solution_name(contract: Contract) -> str:
    revision = contract.solution.published or contract.plan.revision
    if current_language() == "en" and revision.name_en:
        return revision.name_en
    return revision.name


def live_contracts(solution_id: int) -> dict[int, int]:
    """For the solution page's start buttons: plan id -> the acting buyer's live contract."""
    actor = web_actor()
    if actor is None or actor.org_kind is not OrgKind.SME:
        return {}
    rows = db.session.execute(
        sa.select(Contract.plan_id, Contract.id).where(
            Contract.buyer_id == actor.organization.id,
            Contract.solution_id == solution_id,
            Contract.status.in_(_LIVE),
        )
    )
    return {plan_id: contract_id for plan_id, contract_id in rows}


def may_rate(solution: Any) -> bool:
    actor = web_actor()
    return actor is not None and ratings.may_rate(db.session, actor, solution)


@bp.app_context_processor
def contract_helpers() -> dict[str, Any]:
    return {
        "plan_name": plan_name,
        "solution_name": solution_name,
        "billing_live_contracts": live_contracts,
        "billing_may_rate": may_rate,
    }


# --- starting a plan -----------------------------------------------------------------------


@bp.route("/plans/<int:plan_id>/start", methods=["GET", "POST"])
@org_required(BUYER, write=True)
def start_plan(plan_id: int) -> ResponseReturnValue:
    plan = db.session.get(Plan, plan_id)
    if plan is None or not plan.is_offered:
        abort(404)
    form = StartPlanForm()
    if form.validate_on_submit():
        usage = plan.billing_model is BillingModel.USAGE
        outcome = plan.billing_model is BillingModel.OUTCOME
        try:
            with db.session.begin_nested():
                contract = contract_rules.start(
                    db.session,
                    actor=g.actor,
                    plan=plan,
                    now=utcnow(),
                    commission_bp=commission_bp(),
                    spend_cap_fen=form.spend_cap.data if usage else None,
                    baseline=form.baseline.data if outcome else None,
                    baseline_note=(form.baseline_note.data or "") if outcome else "",
                )
        except DomainError as error:
            show_error(form, error, _START_FIELDS)
        else:
            flash(_started_message(contract), "success")
            return redirect(url_for("billing.contract", contract_id=contract.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "billing/start.html", plan=plan, solution=plan.solution, form=form
    ), status


def _started_message(contract: Contract) -> str:
    if contract.status is ContractStatus.TRIALING:
        return _(
            "Your free trial has started. It ends on %(date)s; nothing is charged before then.",
            date=_date(contract.trial_end),
        )
    if contract.status is ContractStatus.PENDING:
        return _("Your baseline was sent to the vendor. The contract starts once they agree.")
    if contract.plan.billing_model is BillingModel.SUBSCRIPTION:
        return _("Your subscription has started. The first invoice has been issued.")
    return _("Your contract has started. Usage is invoiced at the end of each month.")


def _date(value: datetime | None) -> str:
    from flask_babel import format_date

    return format_date(value, "long") if value else ""


# --- lists ---------------------------------------------------------------------------------


@bp.get("/contracts")
@org_required(BUYER_OR_VENDOR)
def contracts() -> str:
    org_id = g.actor.organization.id
    as_vendor = g.actor.org_kind.value == "vendor"
    column = Contract.vendor_id if as_vendor else Contract.buyer_id
    query = sa.select(Contract).where(column == org_id)
    state = request.args.get("state", "")
    if state == "live":
        query = query.where(Contract.status.in_(_LIVE))
    elif state == "ended":
        query = query.where(Contract.status.in_([ContractStatus.CANCELED, ContractStatus.ENDED]))
    else:
        state = ""
    page = page_number(request.args.get("page"))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = list(
        db.session.scalars(
            query.options(
                selectinload(Contract.plan),
                selectinload(Contract.buyer),
                selectinload(Contract.solution),
            )
            .order_by(Contract.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    usage = {
        c.id: metering.current_usage(db.session, c)
        for c in rows
        if c.plan.billing_model is BillingModel.USAGE and c.status.is_live
    }
    return render_template(
        "billing/vendor_contracts.html" if as_vendor else "billing/contracts.html",
        contracts=rows,
        usage=usage,
        customers=_customers(org_id) if as_vendor and page == 1 else [],
        state=state,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        total=total,
    )


@dataclass
class Customer:
    name: str
    uscc: str
    region_code: str
    live: int
    contracts: int
    invoiced_fen: int


def _customers(vendor_id: int) -> list[Customer]:
    """The vendor's buyers: their contracts (live and all) and what was invoiced to them."""
    from marketplace.models import Organization

    live = sa.func.sum(sa.case((Contract.status.in_(_LIVE), 1), else_=0))
    rows = db.session.execute(
        sa.select(Organization, live, sa.func.count(Contract.id))
        .join(Contract, Contract.buyer_id == Organization.id)
        .where(Contract.vendor_id == vendor_id)
        .group_by(Organization.id)
        .order_by(Organization.name)
        .limit(200)
    ).all()
    invoiced = dict(
        db.session.execute(
            sa.select(Invoice.buyer_id, sa.func.sum(Invoice.total_fen))
            .where(Invoice.vendor_id == vendor_id, Invoice.status.in_(["open", "paid"]))
            .group_by(Invoice.buyer_id)
        ).all()
    )
    return [
        Customer(
            org.name, org.uscc, org.region_code, int(n_live or 0), n, int(invoiced.get(org.id) or 0)
        )
        for org, n_live, n in rows
    ]


# --- one contract ---------------------------------------------------------------------------


def _is_buyer_writer(contract: Contract) -> bool:
    return contract.buyer_id == g.actor.organization.id and g.actor.role.can_write


def _other_plans(contract: Contract) -> list[Plan]:
    """Subscription plans of the same solution the contract may switch to."""
    current = contract.plan
    revision = contract.solution.published
    if revision is None or current.billing_model is not BillingModel.SUBSCRIPTION:
        return []
    return [
        p
        for p in revision.plans
        if p.id != current.id
        and p.billing_model is BillingModel.SUBSCRIPTION
        and p.interval == current.interval
        and p.is_offered
    ]


def render_contract(
    contract: Contract, *, spend_cap_form: SpendCapForm | None = None, status: int = 200
) -> ResponseReturnValue:
    now = utcnow()
    is_usage = contract.plan.billing_model is BillingModel.USAGE
    chart = usage_chart(db.session, contract, now) if is_usage else None
    quantity, charge = metering.current_usage(db.session, contract) if is_usage else (None, None)
    buyer_writer = _is_buyer_writer(contract)
    if spend_cap_form is None:
        spend_cap_form = SpendCapForm(formdata=None)
        spend_cap_form.spend_cap.data = contract.spend_cap_fen
    invoices = list(
        db.session.scalars(
            sa.select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id.desc())
        )
    )
    can_rate = buyer_writer and ratings.may_rate(db.session, g.actor, contract.solution)
    return render_template(
        "billing/contract.html",
        contract=contract,
        plan=contract.plan,
        chart=chart,
        quantity=quantity,
        charge=charge,
        spend_cap_form=spend_cap_form,
        buyer_writer=buyer_writer,
        is_buyer=contract.buyer_id == g.actor.organization.id,
        other_plans=_other_plans(contract) if buyer_writer else [],
        invoices=invoices,
        can_rate=can_rate,
        now=now,
    ), status


@bp.get("/contracts/<int:contract_id>")
@org_required(BUYER_OR_VENDOR)
def contract(contract_id: int) -> ResponseReturnValue:
    return render_contract(load_contract(contract_id))


@bp.post("/contracts/<int:contract_id>/spend-cap")
@org_required(BUYER, write=True)
def spend_cap(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    require_buyer(contract)
    form = SpendCapForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                contract_rules.set_spend_cap(
                    db.session, contract, form.spend_cap.data, actor=g.actor
                )
                metering.warn_spend_cap(db.session, contract)
        except DomainError as error:
            show_error(form, error, {"spend_cap_fen": "spend_cap"})
        else:
            if contract.spend_cap_fen:
                flash(_("Spend cap set."), "success")
            else:
                flash(_("Spend cap removed."), "info")
            return redirect(url_for("billing.contract", contract_id=contract.id))
    return render_contract(contract, spend_cap_form=form, status=422)


# --- plan change ----------------------------------------------------------------------------


@dataclass
class ProrationPreview:
    """What ``contracts.change_plan`` will invoice now; mirrors its arithmetic, and
    tests/billing/test_pages.py checks that the two agree."""

    credit_fen: int
    charge_fen: int
    days_left: int
    days_total: int
    trial: bool

    @property
    def net_fen(self) -> int:
        return self.charge_fen - self.credit_fen


def proration_preview(contract: Contract, new_plan: Plan, now: datetime) -> ProrationPreview:
    start, end = contract.current_period_start, contract.current_period_end
    days_total = (end.date() - start.date()).days
    days_left = min(max((end.date() - max(now, start).date()).days, 0), days_total)
    if contract.status is ContractStatus.TRIALING:
        return ProrationPreview(0, 0, days_left, days_total, trial=True)
    return ProrationPreview(
        credit_fen=prorate(contract.plan.price_fen or 0, start, end, now),
        charge_fen=prorate(new_plan.price_fen or 0, start, end, now),
        days_left=days_left,
        days_total=days_total,
        trial=False,
    )


@bp.route("/contracts/<int:contract_id>/change-plan", methods=["GET", "POST"])
@org_required(BUYER, write=True)
def change_plan(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    require_buyer(contract)
    plans = _other_plans(contract)
    preview = None
    chosen = None
    status = 200
    if request.method == "POST":
        form = ChangePlanForm()
        form.plan_id.choices = [(p.id, plan_name(p)) for p in plans]
        if form.validate_on_submit():
            chosen = next(p for p in plans if p.id == form.plan_id.data)
            try:
                with db.session.begin_nested():
                    invoice = contract_rules.change_plan(
                        db.session,
                        contract,
                        chosen,
                        actor=g.actor,
                        now=utcnow(),
                        commission_bp=commission_bp(),
                    )
            except DomainError as error:
                show_error(form, error)
            else:
                flash(_("You are now on %(plan)s.", plan=plan_name(chosen)), "success")
                if invoice is not None:
                    return redirect(url_for("billing.invoice", invoice_id=invoice.id))
                return redirect(url_for("billing.contract", contract_id=contract.id))
        status = 422
    else:
        form = ChangePlanForm(
            formdata=request.args if "plan_id" in request.args else None, meta={"csrf": False}
        )
        form.plan_id.choices = [(p.id, plan_name(p)) for p in plans]
        if "plan_id" in request.args:
            if form.validate():
                chosen = next(p for p in plans if p.id == form.plan_id.data)
            else:
                status = 422
    if chosen is not None:
        preview = proration_preview(contract, chosen, utcnow())
    return render_template(
        "billing/change_plan.html",
        contract=contract,
        plans=plans,
        form=form,
        chosen=chosen,
        preview=preview,
        confirm_form=ChangePlanForm(formdata=None, plan_id=chosen.id if chosen else None),
    ), status


# --- cancel ---------------------------------------------------------------------------------


@bp.route("/contracts/<int:contract_id>/cancel", methods=["GET", "POST"])
@org_required(BUYER, write=True)
def cancel(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    require_buyer(contract)
    form = CancelForm()
    if form.validate_on_submit():
        at_period_end = form.when.data == "period_end"
        try:
            with db.session.begin_nested():
                contract_rules.cancel(
                    db.session, contract, actor=g.actor, at_period_end=at_period_end, now=utcnow()
                )
        except DomainError as error:
            show_error(form, error)
        else:
            if at_period_end:
                flash(
                    _(
                        "The contract ends on %(date)s. Nothing more is invoiced after that.",
                        date=_date(contract.current_period_end),
                    ),
                    "info",
                )
            else:
                flash(_("The contract is canceled."), "info")
            return redirect(url_for("billing.contract", contract_id=contract.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("billing/cancel.html", contract=contract, form=form), status
