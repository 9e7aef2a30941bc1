"""Starting a plan: the buttons on the storefront's solution page
(templates/billing/_start_buttons.html) and the start page, which asks pay-for-results
buyers for their baseline."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from billing import contracts as contract_rules
from billing import ratings
from billing.api import commission_bp
from billing.forms import StartPlanForm
from billing.models import Contract, ContractStatus
from billing.views.common import BUYER, LIVE_STATUSES, bp, long_date
from catalog.models import BillingModel, Plan, Solution
from marketplace.auth import org_required, web_actor
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import OrgKind
from marketplace.views.accounts import show_error

_START_FIELDS = {"spend_cap_fen": "spend_cap"}


def live_contracts(solution_id: int) -> dict[int, int]:
    """For the solution page's start buttons: plan id -> the acting buyer's live contract."""
    actor = web_actor()
    if actor is None or actor.org_kind is not OrgKind.SME:
        return {}
    rows = db.session.execute(
        sa.select(Contract.plan_id, Contract.id).where(
            Contract.buyer_id == actor.organization.id,
            Contract.solution_id == solution_id,
            Contract.status.in_(LIVE_STATUSES),
        )
    )
    return {plan_id: contract_id for plan_id, contract_id in rows}


def may_rate(solution: Solution) -> bool:
    actor = web_actor()
    return actor is not None and ratings.may_rate(db.session, actor, solution)


@bp.app_context_processor
def start_helpers() -> dict[str, Any]:
    return {"billing_live_contracts": live_contracts, "billing_may_rate": may_rate}


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
            date=long_date(contract.trial_end),
        )
    if contract.status is ContractStatus.PENDING:
        return _("Your baseline was sent to the vendor. The contract starts once they agree.")
    if contract.plan.billing_model is BillingModel.SUBSCRIPTION:
        return _("Your subscription has started. The first invoice has been issued.")
    return _("Your contract has started. Usage is invoiced at the end of each month.")
