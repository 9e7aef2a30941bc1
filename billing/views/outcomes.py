"""Pay-for-results (效果付费) pages: the baseline both sides agree on the contract page, the
vendor's reports with evidence, the buyer's confirmation or dispute, and the operator's
queue of disputes and corrections of invoiced results. The rules are billing/outcomes.py;
these views load, authorize and call them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.orm import Session, selectinload
from wtforms.fields.choices import SelectChoice

from billing import evidence, outcomes
from billing.forms import (
    BaselineForm,
    CorrectionForm,
    DisputeForm,
    OutcomeReportForm,
    ResolveForm,
)
from billing.models import Contract, ContractStatus, Invoice
from billing.outcome_models import BaselineProposal, OutcomeReport, ReportStatus
from billing.outcomes.chart import for_phone, outcome_chart
from billing.views.common import (
    BUYER,
    BUYER_OR_VENDOR,
    OPERATOR,
    bp,
    kpi_unit,
    load_contract,
)
from catalog.models import BillingModel
from catalog.pricing import improvement
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.uploads import upload_folder
from marketplace.views.accounts import show_error
from marketplace.views.outcome import attempt

QUEUE_SIZE = 100


@dataclass
class ReportRow:
    """One reported period as both sides see it: the value that counts, the improvement
    over the baseline and the charge it causes."""

    report: OutcomeReport
    value: Decimal  # the operator's adjustment, or the reported value
    improvement: Decimal
    charge_fen: int  # the improvement's charge plus the base fee, as invoiced
    invoice: Invoice | None
    correction: Invoice | None

    @property
    def adjusted(self) -> bool:
        return self.value != self.report.measured


def report_row(session: Session, report_: OutcomeReport) -> ReportRow:
    contract = report_.contract
    plan = contract.plan
    value = report_.billable_measured if report_.billable_measured is not None else report_.measured
    direction = plan.direction.value if plan.direction else "increase"
    rejected = report_.status is ReportStatus.REJECTED
    return ReportRow(
        report=report_,
        value=value,
        improvement=improvement(direction, contract.baseline or Decimal(0), value),
        charge_fen=0 if rejected else outcomes.charge_fen(contract, value) + plan.base_fee_fen,
        invoice=session.get(Invoice, report_.invoice_id) if report_.invoice_id else None,
        correction=outcomes.correction_of(session, report_),
    )


def _period_key(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()}|{end.isoformat()}"


def _period_choices(periods: list[tuple[datetime, datetime]]) -> list[SelectChoice]:
    return [
        SelectChoice(
            _period_key(start, end),
            f"{format_date(start, 'medium')} – {format_date(end, 'medium')}",
        )
        for start, end in periods
    ]


def _is_party_writer(contract: Contract, actor: Actor) -> bool:
    return actor.organization.id in (contract.buyer_id, contract.vendor_id) and actor.role.can_write


def outcome_context(
    contract: Contract,
    *,
    baseline_form: BaselineForm | None = None,
    report_form: OutcomeReportForm | None = None,
) -> dict[str, Any]:
    """What the contract page shows of a pay-for-results contract."""
    if contract.plan.billing_model is not BillingModel.OUTCOME:
        return {}
    actor: Actor = g.actor
    now = utcnow()
    session = db.session
    proposals = list(
        session.scalars(
            sa.select(BaselineProposal)
            .where(BaselineProposal.contract_id == contract.id)
            .order_by(BaselineProposal.id.desc())
        )
    )
    open_proposal = outcomes.open_proposal(session, contract)
    pending = contract.status is ContractStatus.PENDING
    party_writer = _is_party_writer(contract, actor)
    chart = outcome_chart(session, contract, unit=kpi_unit(contract.plan))
    reports = list(
        session.scalars(
            sa.select(OutcomeReport)
            .where(OutcomeReport.contract_id == contract.id)
            .order_by(OutcomeReport.period_start.desc(), OutcomeReport.id.desc())
        )
    )
    vendor_writer = (
        actor.organization.id == contract.vendor_id
        and actor.org_kind is OrgKind.VENDOR
        and actor.role.can_write
    )
    periods = outcomes.reportable_periods(session, contract, now) if vendor_writer else []
    if report_form is None and periods:
        report_form = OutcomeReportForm(formdata=None)
    if report_form is not None:
        report_form.period.choices = _period_choices(periods)
    if baseline_form is None and pending and party_writer:
        baseline_form = BaselineForm(formdata=None)
    return {
        "proposals": proposals,
        "open_proposal": open_proposal,
        "may_accept": pending
        and party_writer
        and open_proposal is not None
        and open_proposal.proposed_by_org_id != actor.organization.id,
        "baseline_form": baseline_form if pending and party_writer else None,
        "report_rows": [report_row(session, r) for r in reports],
        "report_form": report_form if vendor_writer and periods else None,
        "dispute_form": DisputeForm(formdata=None),
        "buyer_decides": actor.organization.id == contract.buyer_id and actor.role.can_write,
        "outcome_chart": chart,
        "outcome_phone_chart": for_phone(chart, kpi_unit(contract.plan)) if chart else None,
        "now": now,
    }


def _back(contract_id: int, anchor: str = "outcomes") -> ResponseReturnValue:
    return redirect(url_for("billing.contract", contract_id=contract_id, _anchor=anchor))


# --- baseline --------------------------------------------------------------------------------


@bp.post("/contracts/<int:contract_id>/baseline")
@org_required(BUYER_OR_VENDOR, write=True)
def propose_baseline(contract_id: int) -> ResponseReturnValue:
    from billing.views.contracts import render_contract

    contract = load_contract(contract_id)
    form = BaselineForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                outcomes.propose_baseline(
                    db.session,
                    contract,
                    actor=g.actor,
                    value=form.value.data,
                    note=form.note.data or "",
                )
        except DomainError as error:
            show_error(form, error, {"baseline": "value"})
        else:
            flash(
                _("Your baseline was sent. The contract starts once the other side accepts it."),
                "success",
            )
            return _back(contract.id, "baseline")
    return render_contract(contract, baseline_form=form, status=422)


@bp.post("/contracts/<int:contract_id>/baseline/accept")
@org_required(BUYER_OR_VENDOR, write=True)
def accept_baseline(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    attempt(
        lambda: outcomes.accept_baseline(db.session, contract, actor=g.actor, now=utcnow()),
        _("The baseline is agreed. The contract has started."),
    )
    return _back(contract.id, "baseline")


# --- reports ---------------------------------------------------------------------------------


@bp.post("/contracts/<int:contract_id>/outcome-reports")
@org_required((OrgKind.VENDOR,), write=True)
def report_result(contract_id: int) -> ResponseReturnValue:
    from billing.views.contracts import render_contract

    contract = load_contract(contract_id)
    now = utcnow()
    form = OutcomeReportForm()
    # The same periods the service accepts (billing/outcomes.py billing_period).
    form.period.choices = _period_choices(outcomes.reportable_periods(db.session, contract, now))
    if form.validate_on_submit():
        start_text, _sep, end_text = form.period.data.partition("|")
        upload = request.files.get(form.evidence.name)
        try:
            with db.session.begin_nested():
                created = outcomes.report(
                    db.session,
                    contract,
                    actor=g.actor,
                    period_start=datetime.fromisoformat(start_text),
                    period_end=datetime.fromisoformat(end_text),
                    measured=form.measured.data,
                    now=now,
                    evidence_url=(form.evidence_url.data or "").strip(),
                    note=form.note.data or "",
                )
                if upload is not None and upload.filename:
                    evidence.attach(
                        created,
                        actor=g.actor,
                        data=evidence.read_upload(upload.stream),
                        filename=upload.filename,
                        upload_folder=upload_folder(),
                    )
        except DomainError as error:
            show_error(form, error, {"period_start": "period", "period_end": "period"})
        else:
            flash(
                _(
                    "The result was sent to the buyer, who has until %(date)s to confirm or dispute it.",
                    date=format_date(created.confirm_by, "long"),
                ),
                "success",
            )
            return _back(contract.id)
    return render_contract(contract, report_form=form, status=422)


def _buyer_report(report_id: int) -> OutcomeReport:
    report_ = db.session.get(OutcomeReport, report_id)
    if report_ is None or not report_.contract.can_view(g.actor.organization.id):
        abort(404)
    return report_


@bp.post("/outcome-reports/<int:report_id>/confirm")
@org_required(BUYER, write=True)
def confirm_result(report_id: int) -> ResponseReturnValue:
    report_ = _buyer_report(report_id)
    attempt(
        lambda: outcomes.confirm(db.session, report_, actor=g.actor, now=utcnow()),
        _("You confirmed the result. It is invoiced in the next billing run."),
    )
    return _back(report_.contract_id)


@bp.post("/outcome-reports/<int:report_id>/dispute")
@org_required(BUYER, write=True)
def dispute_result(report_id: int) -> ResponseReturnValue:
    report_ = _buyer_report(report_id)
    form = DisputeForm()
    if not form.validate_on_submit():
        for message in (*form.form_errors, *form.reason.errors):
            flash(message, "danger")
        return _back(report_.contract_id)
    attempt(
        lambda: outcomes.dispute(
            db.session, report_, actor=g.actor, reason=form.reason.data or "", now=utcnow()
        ),
        _("Your dispute was sent. The platform will decide and tell both sides."),
    )
    return _back(report_.contract_id)


# --- the operator's queue --------------------------------------------------------------------


@bp.get("/console/outcomes")
@org_required(OPERATOR)
def outcome_queue() -> ResponseReturnValue:
    view = "invoiced" if request.args.get("view") == "invoiced" else "disputes"
    query = sa.select(OutcomeReport).options(
        selectinload(OutcomeReport.contract).selectinload(Contract.plan)
    )
    if view == "disputes":
        query = query.where(OutcomeReport.status == ReportStatus.DISPUTED).order_by(
            OutcomeReport.submitted_at
        )
    else:
        query = query.where(
            OutcomeReport.status == ReportStatus.CONFIRMED, OutcomeReport.invoice_id.is_not(None)
        ).order_by(OutcomeReport.id.desc())
        contract_text = request.args.get("contract", "").strip()
        if contract_text.isdigit():
            query = query.where(OutcomeReport.contract_id == int(contract_text))
    rows = [report_row(db.session, r) for r in db.session.scalars(query.limit(QUEUE_SIZE))]
    disputes = db.session.scalar(
        sa.select(sa.func.count()).where(OutcomeReport.status == ReportStatus.DISPUTED)
    )
    return render_template(
        "billing/console/outcomes.html",
        view=view,
        rows=rows,
        disputes=disputes or 0,
        resolve_form=ResolveForm(formdata=None),
        correction_form=CorrectionForm(formdata=None),
        contract_text=request.args.get("contract", ""),
        may_write=g.actor.role.can_write,
    )


def _any_report(report_id: int) -> OutcomeReport:
    report_ = db.session.get(OutcomeReport, report_id)
    if report_ is None:
        abort(404)
    return report_


def _flash_form_errors(form: Any) -> None:
    for field in form:
        for message in field.errors:
            flash(f"{field.label.text}: {message}", "danger")
    for message in form.form_errors:
        flash(message, "danger")


@bp.post("/console/outcome-reports/<int:report_id>/resolve")
@org_required(OPERATOR, write=True)
def resolve_result(report_id: int) -> ResponseReturnValue:
    report_ = _any_report(report_id)
    form = ResolveForm()
    if form.validate_on_submit():
        attempt(
            lambda: outcomes.resolve(
                db.session,
                report_,
                actor=g.actor,
                decision=form.decision.data or "",
                note=form.note.data or "",
                adjusted=form.adjusted.data,
                now=utcnow(),
            ),
            _("The dispute is decided; both sides see your note."),
        )
    else:
        _flash_form_errors(form)
    return redirect(url_for("billing.outcome_queue"))


@bp.post("/console/outcome-reports/<int:report_id>/correct")
@org_required(OPERATOR, write=True)
def correct_result(report_id: int) -> ResponseReturnValue:
    report_ = _any_report(report_id)
    form = CorrectionForm()
    if form.validate_on_submit():
        attempt(
            lambda: outcomes.correct(
                db.session,
                report_,
                actor=g.actor,
                corrected=form.corrected.data,
                note=form.note.data or "",
                now=utcnow(),
            ),
            _("The correction was issued; the buyer is notified."),
        )
    else:
        _flash_form_errors(form)
    return redirect(url_for("billing.outcome_queue", view="invoiced"))
