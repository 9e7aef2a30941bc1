"""Contracts as pages: the buyer's solutions and the vendor's customers, one contract with
its usage chart, the spend cap, plan change (with the proration shown first) and cancel.
Starting a plan is billing/views/start.py."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from billing import contracts as contract_rules
from billing import ratings
from billing.api import commission_bp
from billing.forms import (
    BaselineForm,
    CancelForm,
    ChangePlanForm,
    OutcomeReportForm,
    SpendCapForm,
)
from billing.metering import events as metering
from billing.metering.chart import for_phone, usage_chart
from billing.models import Contract, ContractStatus, Invoice, InvoiceStatus
from billing.outcomes.contract_page import outcome_context
from billing.views.common import (
    BUYER,
    BUYER_OR_VENDOR,
    LIVE_STATUSES,
    PER_PAGE,
    bp,
    load_contract,
    long_date,
    page_number,
    plan_name,
    require_buyer,
)
from catalog.models import BillingModel, Plan
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import Organization, OrgKind, User
from marketplace.views.accounts import show_error

# --- lists ---------------------------------------------------------------------------------


@bp.get("/contracts")
@org_required(BUYER_OR_VENDOR)
def contracts() -> str:
    org_id = g.actor.organization.id
    as_vendor = g.actor.org_kind is OrgKind.VENDOR
    column = Contract.vendor_id if as_vendor else Contract.buyer_id
    query = sa.select(Contract).where(column == org_id)
    state = request.args.get("state", "")
    if state == "live":
        query = query.where(Contract.status.in_(LIVE_STATUSES))
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


# What counts as invoiced to a customer: issued and not voided.
INVOICED = [InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE]


@dataclass
class Customer:
    name: str
    uscc: str
    region_code: str
    live: int
    contracts: int
    invoiced_fen: int
    contact_name: str = ""  # who started the latest contract with the vendor
    contact_phone: str = ""
    contact_email: str = ""


def _customers(vendor_id: int) -> list[Customer]:
    """The vendor's buyers: their contracts (live and all) and what was invoiced to them."""
    live = sa.func.sum(sa.case((Contract.status.in_(LIVE_STATUSES), 1), else_=0))
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
            .where(Invoice.vendor_id == vendor_id, Invoice.status.in_(INVOICED))
            .group_by(Invoice.buyer_id)
        ).all()
    )
    latest = (
        sa.select(sa.func.max(Contract.id))
        .where(Contract.vendor_id == vendor_id)
        .group_by(Contract.buyer_id)
    )
    starters = dict(
        db.session.execute(
            sa.select(Contract.buyer_id, User.name)
            .join(User, User.id == Contract.created_by_id)
            .where(Contract.id.in_(latest))
        ).all()
    )
    return [
        Customer(
            org.name,
            org.uscc,
            org.region_code,
            int(n_live or 0),
            n,
            int(invoiced.get(org.id) or 0),
            contact_name=starters.get(org.id, ""),
            contact_phone=org.contact_phone,
            contact_email=org.contact_email,
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
    contract: Contract,
    *,
    spend_cap_form: SpendCapForm | None = None,
    baseline_form: BaselineForm | None = None,
    report_form: OutcomeReportForm | None = None,
    status: int = 200,
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
        phone_chart=for_phone(chart, contract.plan.unit or "") if chart else None,
        quantity=quantity,
        charge=charge,
        spend_cap_form=spend_cap_form,
        buyer_writer=buyer_writer,
        is_buyer=contract.buyer_id == g.actor.organization.id,
        other_plans=_other_plans(contract) if buyer_writer else [],
        invoices=invoices,
        can_rate=can_rate,
        **outcome_context(contract, baseline_form=baseline_form, report_form=report_form),
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
        # the arithmetic contracts.change_plan invoices
        preview = contract.proration(chosen, utcnow())
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
                        date=long_date(contract.current_period_end),
                    ),
                    "info",
                )
            else:
                flash(_("The contract is canceled."), "info")
            return redirect(url_for("billing.contract", contract_id=contract.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("billing/cancel.html", contract=contract, form=form), status
