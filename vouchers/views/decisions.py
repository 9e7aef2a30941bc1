"""The officer's actions in a program's console: approve or reject applications, revoke
vouchers, create, approve and pay settlement batches, scan for anomalies and record the
finding. Each posts to its own URL; a form that does not validate, or that a rule
refuses, re-renders the console's tab with the message next to the row it concerns."""

from __future__ import annotations

from flask import flash, g, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from marketplace import dates
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.money import format_fen
from marketplace.views.flash import attempt
from vouchers import anomalies, applications, confirmations, settlements, wallet
from vouchers.confirmations import ConfirmationNeeded
from vouchers.forms import (
    ActionForm,
    ApproveForm,
    ConfirmForm,
    MarkPaidForm,
    RejectForm,
    ReviewForm,
    RevokeForm,
    SettlementForm,
)
from vouchers.models import AnomalyStatus, Program
from vouchers.views.common import (
    OFFICER,
    bp,
    load_anomaly,
    load_application,
    load_program,
    load_settlement,
    load_voucher,
    refusal_status,
    show_refusal,
)
from vouchers.views.confirm import confirmation_page
from vouchers.views.console import back, render_tab, settlement_form

# --- applications ----------------------------------------------------------------------------


def _row_failed(
    program: Program, tab: str, key: tuple[str, int], form: FlaskForm, error: DomainError | None
) -> ResponseReturnValue:
    if error is not None:
        show_refusal(form, error, {"amount_fen": "amount"})
    status = refusal_status(error) if error is not None else 422
    return render_tab(program, tab, status, failed={key: form})


@bp.post("/applications/<int:application_id>/approve")
@org_required(OFFICER, write=True)
def approve_application(application_id: int) -> ResponseReturnValue:
    application = load_application(application_id)
    program = application.program
    form = ApproveForm()
    if not form.validate_on_submit():
        return _row_failed(program, "applications", ("approve", application.id), form, None)
    try:
        with db.session.begin_nested():
            voucher = applications.approve(
                db.session,
                application,
                actor=g.actor,
                now=utcnow(),
                amount_fen=form.amount.data,
                checked_documents=list(form.checked_documents.data or []),
                confirm_fen=form.confirmed_fen(),
            )
    except ConfirmationNeeded as needed:
        return confirmation_page(
            needed,
            title=_("Approve the application of %(org)s", org=application.applicant.name),
            back_url=url_for("vouchers.program_console", program_id=program.id),
        )
    except DomainError as error:
        return _row_failed(program, "applications", ("approve", application.id), form, error)
    if voucher is None:
        flash(
            _(
                "Approved for %(amount)s. The approval is on public notice for %(days)s "
                "working days; the voucher is issued when it ends without an upheld objection.",
                amount=format_fen(application.approved_fen or 0),
                days=program.notice_days,
            ),
            "success",
        )
        return back(program.id, "applications")
    flash(
        _(
            "Approved: voucher %(code)s for %(amount)s was issued to %(org)s.",
            code=voucher.code,
            amount=format_fen(voucher.face_fen),
            org=application.applicant.name,
        ),
        "success",
    )
    return back(program.id, "applications")


@bp.post("/applications/<int:application_id>/reject")
@org_required(OFFICER, write=True)
def reject_application(application_id: int) -> ResponseReturnValue:
    application = load_application(application_id)
    program = application.program
    form = RejectForm()
    if not form.validate_on_submit():
        return _row_failed(program, "applications", ("reject", application.id), form, None)
    try:
        with db.session.begin_nested():
            applications.reject(
                db.session, application, actor=g.actor, reason=form.reason.data or "", now=utcnow()
            )
    except DomainError as error:
        return _row_failed(program, "applications", ("reject", application.id), form, error)
    flash(_("The application is rejected; the enterprise sees your reason."), "success")
    return back(program.id, "applications")


# --- vouchers --------------------------------------------------------------------------------


@bp.post("/issued/<int:voucher_id>/revoke")
@org_required(OFFICER, write=True)
def revoke_voucher(voucher_id: int) -> ResponseReturnValue:
    voucher = load_voucher(voucher_id)
    program = voucher.program
    form = RevokeForm()
    if not form.validate_on_submit():
        return _row_failed(program, "vouchers", ("revoke", voucher.id), form, None)
    try:
        with db.session.begin_nested():
            wallet.revoke(
                db.session, voucher, actor=g.actor, reason=form.reason.data or "", now=utcnow()
            )
    except DomainError as error:
        return _row_failed(program, "vouchers", ("revoke", voucher.id), form, error)
    flash(
        _("Voucher %(code)s is revoked; its balance went back to the budget.", code=voucher.code),
        "success",
    )
    return back(program.id, "vouchers")


# --- settlements -----------------------------------------------------------------------------


@bp.post("/programs/<int:program_id>/settlements")
@org_required(OFFICER, write=True)
def create_settlement(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    form = settlement_form(program, SettlementForm())
    if form.validate_on_submit():
        assert form.period_start.data is not None and form.period_end.data is not None
        try:
            with db.session.begin_nested():
                settlement = settlements.create_settlement(
                    db.session,
                    program,
                    actor=g.actor,
                    vendor_id=form.vendor_id.data,
                    period_start=dates.day_start(form.period_start.data),
                    period_end=dates.day_end(form.period_end.data),
                    now=utcnow(),
                )
        except DomainError as error:
            show_refusal(form, error)
            return render_tab(program, "settlements", refusal_status(error), settlement_form=form)
        flash(
            _(
                "Settlement batch %(id)s for %(amount)s is drafted. Approve it to pay.",
                id=settlement.id,
                amount=format_fen(settlement.total_fen),
            ),
            "success",
        )
        return back(program.id, "settlements")
    return render_tab(program, "settlements", 422, settlement_form=form)


@bp.post("/settlements/<int:settlement_id>/approve")
@org_required(OFFICER, write=True)
def approve_settlement(settlement_id: int) -> ResponseReturnValue:
    settlement = load_settlement(settlement_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            # The batch's total is stated and confirmed before it is committed to the vendor.
            confirmations.require_for_settlement(settlement.total_fen, form.confirmed_fen())
        except ConfirmationNeeded as needed:
            return confirmation_page(
                needed,
                title=_("Approve settlement batch %(id)s", id=settlement.id),
                back_url=url_for("vouchers.program_settlements", program_id=settlement.program_id),
            )
        attempt(
            lambda: settlements.approve_settlement(
                db.session, settlement, actor=g.actor, now=utcnow()
            ),
            _("The batch is approved. Record the bank payment once it is made."),
        )
    return back(settlement.program_id, "settlements")


@bp.post("/settlements/<int:settlement_id>/paid")
@org_required(OFFICER, write=True)
def mark_settlement_paid(settlement_id: int) -> ResponseReturnValue:
    settlement = load_settlement(settlement_id)
    program = settlement.program
    form = MarkPaidForm()
    if not form.validate_on_submit():
        return _row_failed(program, "settlements", ("paid", settlement.id), form, None)
    try:
        with db.session.begin_nested():
            settlements.mark_paid(
                db.session,
                settlement,
                actor=g.actor,
                bank_reference=form.bank_reference.data or "",
                now=utcnow(),
            )
    except DomainError as error:
        return _row_failed(program, "settlements", ("paid", settlement.id), form, error)
    flash(_("The payment is recorded; the vendor sees the batch as paid."), "success")
    return back(program.id, "settlements")


# --- anomalies -------------------------------------------------------------------------------


@bp.post("/programs/<int:program_id>/anomalies/scan")
@org_required(OFFICER, write=True)
def scan_anomalies(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    if ActionForm().validate_on_submit():
        with db.session.begin_nested():
            found = anomalies.scan(db.session, program, now=utcnow())
        if found:
            flash(_("The scan found %(n)s new cases to review.", n=len(found)), "warning")
        else:
            flash(_("The scan found no new cases."), "success")
    return back(program.id, "anomalies")


@bp.post("/anomalies/<int:anomaly_id>/review")
@org_required(OFFICER, write=True)
def review_anomaly(anomaly_id: int) -> ResponseReturnValue:
    anomaly = load_anomaly(anomaly_id)
    program = load_program(anomaly.program_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        return _row_failed(program, "anomalies", ("review", anomaly.id), form, None)
    try:
        with db.session.begin_nested():
            anomalies.review(
                db.session,
                anomaly,
                actor=g.actor,
                status=AnomalyStatus(form.status.data),
                note=form.note.data or "",
                now=utcnow(),
            )
    except DomainError as error:
        return _row_failed(program, "anomalies", ("review", anomaly.id), form, error)
    flash(_("Your finding is recorded."), "success")
    return back(program.id, "anomalies")
