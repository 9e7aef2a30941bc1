"""公示 and application documents on the web: the public list of approvals on notice with
its objection form (anyone signed in), the officer's notice tab where objections are
upheld or dismissed, and the download of an application's documents (the applicant and
the program's officers only; anyone else gets 404)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.uploads import upload_folder
from vouchers import evidence, notice, programs
from vouchers.evidence_models import ApplicationDocument
from vouchers.forms import ActionForm, ObjectionDecisionForm, ObjectionForm
from vouchers.models import Application, Program
from vouchers.notice_models import Notice, Objection
from vouchers.views.common import (
    OFFICER,
    bp,
    load_program,
    organizations_by_id,
    refusal_status,
    show_refusal,
)


@bp.app_template_filter("program_region")
def program_region(prefix: str) -> str:
    """A program's region by name, on every page that shows a program."""
    return programs.region_name(prefix) if prefix else ""


# --- the public list --------------------------------------------------------------------------


def _vendors(notices: list[Notice]) -> dict[int, Any]:
    return organizations_by_id(
        {n.application.vendor_id for n in notices if n.application.vendor_id}
    )


@bp.get("/notices")
def public_notices() -> ResponseReturnValue:
    """公示: approvals waiting for the end of their notice period, and those just closed."""
    now = utcnow()
    rows = notice.public_notices(db.session, now=now)
    return render_template("vouchers/notices.html", notices=rows, vendors=_vendors(rows), now=now)


def _load_notice(notice_id: int) -> Notice:
    found = db.session.get(Notice, notice_id)
    if found is None:
        abort(404)
    return found


def _render_objection(found: Notice, form: ObjectionForm, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "vouchers/objection.html",
        notice=found,
        vendor=_vendors([found]).get(found.application.vendor_id or 0),
        form=form,
        now=utcnow(),
    ), status


@bp.route("/notices/<int:notice_id>/object", methods=["GET", "POST"])
@org_required(write=True)
def object_to_notice(notice_id: int) -> ResponseReturnValue:
    found = _load_notice(notice_id)
    form = ObjectionForm()
    if not form.is_submitted():
        return _render_objection(found, form)
    if not form.validate_on_submit():
        return _render_objection(found, form, 422)
    try:
        with db.session.begin_nested():
            notice.object_to(
                db.session,
                found,
                actor=g.actor,
                contact=form.contact.data or "",
                reason=form.reason.data or "",
                now=utcnow(),
            )
    except DomainError as error:
        show_refusal(form, error)
        return _render_objection(found, form, refusal_status(error))
    flash(
        _(
            "Your objection is recorded. The program's officers review it before the voucher is issued."
        ),
        "success",
    )
    return redirect(url_for("vouchers.public_notices"))


# --- the officer's tab ------------------------------------------------------------------------


def render_notices_tab(
    program: Program, status: int = 200, failed: dict[int, ObjectionDecisionForm] | None = None
) -> ResponseReturnValue:
    rows = notice.notices_in(db.session, program)
    return render_template(
        "vouchers/console/notices.html",
        program=program,
        tab="notices",
        figures=programs.figures(db.session, program),
        on_notice_fen=programs.on_notice_fen(db.session, program),
        action_form=ActionForm(formdata=None),
        may_write=g.actor.role.can_write,
        now=utcnow(),
        notices=rows,
        objections=notice.objections_in(db.session, program),
        vendors=_vendors(rows),
        decision_form=ObjectionDecisionForm(formdata=None),
        failed=failed or {},
    ), status


@bp.get("/programs/<int:program_id>/notices")
@org_required(OFFICER)
def program_notices(program_id: int) -> ResponseReturnValue:
    return render_notices_tab(load_program(program_id))


@bp.post("/objections/<int:objection_id>/decide")
@org_required(OFFICER, write=True)
def decide_objection(objection_id: int) -> ResponseReturnValue:
    objection = db.session.get(Objection, objection_id)
    if objection is None:
        abort(404)
    program = load_program(objection.notice.program_id)
    form = ObjectionDecisionForm()
    if not form.validate_on_submit():
        return render_notices_tab(program, 422, {objection.id: form})
    uphold = form.decision.data == "uphold"
    try:
        with db.session.begin_nested():
            notice.decide_objection(
                db.session,
                objection,
                actor=g.actor,
                uphold=uphold,
                note=form.note.data or "",
                now=utcnow(),
            )
    except DomainError as error:
        show_refusal(form, error)
        return render_notices_tab(program, refusal_status(error), {objection.id: form})
    if uphold:
        flash(_("The objection is upheld: the voucher will not be issued."), "success")
    else:
        flash(_("The objection is dismissed; the notice goes on."), "success")
    return redirect(url_for("vouchers.program_notices", program_id=program.id))


# --- documents --------------------------------------------------------------------------------


@bp.get("/documents/<int:document_id>")
@org_required()
def download_document(document_id: int) -> ResponseReturnValue:
    document = db.session.get(ApplicationDocument, document_id)
    application = db.session.get(Application, document.application_id) if document else None
    if document is None or application is None:
        abort(404)
    if not evidence.may_download(document, application, g.actor):
        abort(404)  # another organization's documents are simply not found
    return send_from_directory(
        upload_folder() / evidence.FOLDER,
        document.stored_file,
        mimetype=document.content_type,
        as_attachment=True,
        download_name=document.filename,
    )
