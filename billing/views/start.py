"""Starting a plan: the buttons on the storefront's solution page
(templates/billing/_start_buttons.html); the start page, where the buyer accepts the
solution's service agreement (and a pay-for-results buyer proposes the baseline); the
agreement's text; and the next-step page the buyer lands on afterwards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from billing import contracts as contract_rules
from billing import ratings
from billing.api import commission_bp
from billing.forms import StartPlanForm
from billing.models import Contract, ContractStatus
from billing.views.common import (
    BUYER,
    BUYER_OR_VENDOR,
    LIVE_STATUSES,
    bp,
    load_contract,
    long_date,
    require_buyer,
)
from catalog.agreements import agreement_text
from catalog.models import BillingModel, Plan, Solution, SolutionRevision
from marketplace.auth import org_required, web_actor
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.i18n import current_language
from marketplace.models import OrgKind
from marketplace.pagecache import LRU, fill, hole
from marketplace.views.accounts import show_error
from vouchers.views.offers import price_after_voucher

_START_FIELDS = {"spend_cap_fen": "spend_cap", "accept_agreement_version": "accept_agreement"}


@dataclass(frozen=True)
class Standing:
    """What the acting buyer has to do with a solution, for its page's start panel."""

    live: dict[int, int]  # plan id -> the buyer's live contract on it
    may_rate: bool


def _standing_statement(may_rate: sa.ColumnElement[bool]) -> sa.Select[bool, int, int]:
    # One row at least (may_rate), joined to each live contract there is.
    org_id: sa.BindParameter[int] = sa.bindparam("org_id", type_=sa.Integer)
    solution_id: sa.BindParameter[int] = sa.bindparam("solution_id", type_=sa.Integer)
    return (
        sa.select(may_rate.label("may_rate"), Contract.plan_id, Contract.id)
        .select_from(sa.select(sa.literal(1)).subquery())
        .outerjoin(
            Contract,
            sa.and_(
                Contract.buyer_id == org_id,
                Contract.solution_id == solution_id,
                Contract.status.in_(LIVE_STATUSES),
            ),
        )
    )


# Built once (with parameters): every solution page a signed-in buyer opens runs one.
_STANDING_WITH_RATING = _standing_statement(
    ratings.may_rate_clause(sa.bindparam("org_id"), sa.bindparam("solution_id"))
)
_STANDING = _standing_statement(sa.false())


def standing(solution_id: int) -> Standing:
    """The acting buyer's live contracts on the solution and whether they may rate it now
    (ratings.may_rate), read in one statement once per request: every solution page a
    signed-in buyer opens asks."""
    known = g.get("billing_standing")
    if known is not None and known[0] == solution_id:
        return known[1]
    actor = web_actor()
    result = Standing({}, False)
    if actor is not None and actor.org_kind is OrgKind.SME:
        statement = _STANDING_WITH_RATING if actor.role.can_write else _STANDING
        rows = db.session.execute(
            statement, {"org_id": actor.organization.id, "solution_id": solution_id}
        ).all()
        result = Standing(
            live={plan_id: contract_id for _, plan_id, contract_id in rows if contract_id},
            may_rate=bool(rows[0].may_rate),
        )
    g.billing_standing = (solution_id, result)
    return result


_panels: LRU[Markup] = LRU(4096)


def start_panel(solution: Solution, revision: SolutionRevision) -> Markup:
    """The panel to start the solution's plans on its page (templates/billing/_start_buttons.html),
    rendered once per everything it shows — the revision, the language, who acts (kind and
    role), their live contracts, may-rate and the price after their voucher — and kept in
    this process; the CSRF token is filled in on every request. A visitor's is kept per
    page, for the address its sign-in link returns to."""
    actor = web_actor()
    plans = revision.plans
    if actor is None:
        view, afters = Standing({}, False), {}
    else:
        view = standing(solution.id)
        afters = {
            plan.id: after
            for plan in plans
            if plan.billing_model is BillingModel.SUBSCRIPTION
            and (after := price_after_voucher(plan)) is not None
        }
    key = (
        revision.id,
        solution.slug,
        current_language(),
        (actor.org_kind, actor.role.can_write) if actor else request.path,
        tuple(sorted(view.live.items())),
        view.may_rate,
        tuple(
            (
                plan_id,
                a.price_fen,
                a.subsidy_fen,
                a.kind,
                a.program.id,
                a.program.name,
                a.from_wallet,
            )
            for plan_id, a in sorted(afters.items())
        ),
    )
    html = _panels.get(key)
    if html is None:
        html = Markup(
            render_template(
                "billing/_start_buttons.html",
                solution=solution,
                revision=revision,
                standing=view,
                afters=afters,
                hole=hole,
            )
        )
        _panels.put(key, html)
    return fill(html, csrf=generate_csrf() if actor else "")


@bp.app_context_processor
def start_helpers() -> dict[str, Any]:
    return {"billing_start_panel": start_panel}


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
                    agreement_version=form.accepted_agreement(),
                    spend_cap_fen=form.spend_cap.data if usage else None,
                    baseline=form.baseline.data if outcome else None,
                    baseline_note=(form.baseline_note.data or "") if outcome else "",
                )
        except DomainError as error:
            show_error(form, error, _START_FIELDS)
        else:
            flash(_started_message(contract), "success")
            return redirect(url_for("billing.next_steps", contract_id=contract.id))
    status = 422 if form.errors or form.form_errors else 200
    if status == 422:
        form.accept_agreement.data = False  # accepted again, of the version now shown
    form.agreement_version.data = str(contract_rules.agreement_in_force(plan))
    return render_template(
        "billing/start.html", plan=plan, solution=plan.solution, form=form
    ), status


def _started_message(contract: Contract) -> str:
    if contract.status is ContractStatus.TRIALING:
        return _(
            "Your free trial has started. It ends on %(date)s; nothing is charged before then.",
            date=long_date(contract.trial_end),
        )
    if contract.status is ContractStatus.PENDING:
        return _("Your baseline was sent to the vendor. The contract starts once they agree.")
    if contract.plan.billing_model is BillingModel.SUBSCRIPTION:
        return _("Your subscription has started. The first invoice has been issued.")
    return _("Your contract has started. Usage is invoiced at the end of each month.")


# --- the service agreement --------------------------------------------------------------


@bp.get("/solutions/<slug>/agreement")
def agreement(slug: str) -> ResponseReturnValue:
    """The agreement in force for a published solution (anyone may read it)."""
    solution = db.session.scalar(sa.select(Solution).where(Solution.slug == slug))
    if solution is None or not solution.is_public or solution.published is None:
        abort(404)
    return render_template(
        "billing/agreement.html",
        solution=solution,
        revision=solution.published,
        text=agreement_text(solution.published, english=current_language() == "en"),
        contract=None,
    )


@bp.get("/contracts/<int:contract_id>/agreement")
@org_required(BUYER_OR_VENDOR)
def contract_agreement(contract_id: int) -> ResponseReturnValue:
    """The text the buyer accepted, as it was then (both sides of the contract)."""
    contract = load_contract(contract_id)
    revision = contract.agreement_revision
    if revision is None:
        abort(404)  # started before listings had an agreement
    return render_template(
        "billing/agreement.html",
        solution=contract.solution,
        revision=revision,
        text=agreement_text(revision, english=current_language() == "en"),
        contract=contract,
    )


# --- the next step after starting -------------------------------------------------------


@bp.get("/contracts/<int:contract_id>/next-steps")
@org_required(BUYER)
def next_steps(contract_id: int) -> ResponseReturnValue:
    """What happens now: who deploys and when, how to reach them, when the first invoice
    comes, and the handoff to the vendor's own sign-up when the solution has one."""
    contract = load_contract(contract_id)
    require_buyer(contract)
    revision = contract.solution.published or contract.plan.revision
    return render_template(
        "billing/next_steps.html",
        contract=contract,
        plan=contract.plan,
        revision=revision,
        expected_by=contract.created_at + timedelta(days=revision.deploy_days),
        first_invoice=first_invoice_date(contract),
        buyer_writer=g.actor.role.can_write,
        live=contract.status.is_live,
        is_buyer=True,
    )


def first_invoice_date(contract: Contract) -> datetime | None:
    """When the buyer's first invoice is (or was) issued; None while it cannot be told
    (a pay-for-results contract waiting for its baseline)."""
    if contract.status is ContractStatus.PENDING:
        return None
    if contract.trial_end is not None:
        return contract.trial_end
    if contract.plan.billing_model is BillingModel.SUBSCRIPTION:
        return contract.created_at
    return contract.current_period_end
