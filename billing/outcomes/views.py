"""Pay-for-results (效果付费) pages: the baseline both sides agree on the contract page, the
vendor's reports with evidence, the buyer's confirmation or dispute, the operator's queue of
disputes and corrections of invoiced results, and the download of an evidence file. The
rules are the other modules of billing/outcomes; these views load, authorize and call them.
The routes are the ``billing`` blueprint's (billing/views/__init__.py imports this module)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from billing.forms import BaselineForm, CorrectionForm, DisputeForm, OutcomeReportForm, ResolveForm
from billing.models import Contract
from billing.outcomes import baselines, corrections, evidence, reporting, verification
from billing.outcomes.contract_page import period_choices, report_row
from billing.outcomes.models import OutcomeReport, ReportStatus
from billing.views.common import BUYER, BUYER_OR_VENDOR, OPERATOR, bp, load_contract
from billing.views.contracts import render_contract
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import OrgKind
from marketplace.uploads import upload_folder
from marketplace.views.accounts import show_error
from marketplace.views.flash import attempt

QUEUE_SIZE = 100


def _back(contract_id: int, anchor: str = "outcomes") -> ResponseReturnValue:
    return redirect(url_for("billing.contract", contract_id=contract_id, _anchor=anchor))


# --- baseline --------------------------------------------------------------------------------


@bp.post("/contracts/<int:contract_id>/baseline")
@org_required(BUYER_OR_VENDOR, write=True)
def propose_baseline(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    form = BaselineForm()
    if form.validate_on_submit():
        assert form.value.data is not None  # InputRequired
        try:
            with db.session.begin_nested():
                baselines.propose_baseline(
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
        lambda: baselines.accept_baseline(db.session, contract, actor=g.actor, now=utcnow()),
        _("The baseline is agreed. The contract has started."),
    )
    return _back(contract.id, "baseline")


# --- reports ---------------------------------------------------------------------------------


@bp.post("/contracts/<int:contract_id>/outcome-reports")
@org_required((OrgKind.VENDOR,), write=True)
def report_result(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    now = utcnow()
    form = OutcomeReportForm()
    # The same periods the service accepts (billing/outcomes/reporting.py billing_period).
    form.period.choices = period_choices(reporting.reportable_periods(db.session, contract, now))
    if form.validate_on_submit():
        assert form.measured.data is not None  # InputRequired
        start_text, _sep, end_text = form.period.data.partition("|")
        upload = request.files.get(form.evidence.name)
        try:
            with db.session.begin_nested():
                created = reporting.report(
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
        lambda: verification.confirm(db.session, report_, actor=g.actor, now=utcnow()),
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
        lambda: verification.dispute(
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
            lambda: verification.resolve(
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
        corrected = form.corrected.data
        assert corrected is not None  # InputRequired
        attempt(
            lambda: corrections.correct(
                db.session,
                report_,
                actor=g.actor,
                corrected=corrected,
                note=form.note.data or "",
                now=utcnow(),
            ),
            _("The correction was issued; the buyer is notified."),
        )
    else:
        _flash_form_errors(form)
    return redirect(url_for("billing.outcome_queue", view="invoiced"))


# --- evidence files, for the contract's two parties and the operator ------------------------


@bp.get("/outcome-reports/<int:report_id>/evidence")
@org_required()
def evidence_file(report_id: int) -> ResponseReturnValue:
    report_ = db.session.get(OutcomeReport, report_id)
    if report_ is None or not report_.evidence_file or not evidence.may_download(report_, g.actor):
        abort(404)  # another organization's evidence is simply not found
    response = send_from_directory(
        upload_folder() / "evidence",
        report_.evidence_file,
        mimetype=report_.evidence_content_type,
        as_attachment=True,
        download_name=report_.evidence_filename or report_.evidence_file,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
