"""The officer's programs: the list with budget figures, writing a program's terms (new,
or edit while draft), publishing and closing (the audit log is in audit.py)."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace import dates
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.views.flash import attempt
from vouchers import evidence, programs
from vouchers.confirmations import ConfirmationNeeded
from vouchers.forms import ActionForm, ConfirmForm
from vouchers.models import Program, ProgramStatus
from vouchers.program_forms import PROGRAM_FIELDS, ProgramForm
from vouchers.views.common import (
    OFFICER,
    bp,
    load_program,
    refusal_status,
    show_refusal,
    verified_vendors,
)
from vouchers.views.confirm import confirmation_page


@bp.get("/programs")
@org_required(OFFICER)
def programs_list() -> ResponseReturnValue:
    own = programs.programs_of(db.session, g.actor.organization.id)
    figures = {program.id: programs.figures(db.session, program) for program in own}
    return render_template(
        "vouchers/programs.html",
        programs=own,
        figures=figures,
        action_form=ActionForm(formdata=None),
        now=utcnow(),
    )


def _render_form(
    form: ProgramForm, program: Program | None, status: int = 200
) -> ResponseReturnValue:
    return render_template("vouchers/program_form.html", form=form, program=program), status


@bp.route("/programs/new", methods=["GET", "POST"])
@org_required(OFFICER, write=True)
def new_program() -> ResponseReturnValue:
    form = ProgramForm(vendors=verified_vendors())
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                program = programs.create_program(db.session, actor=g.actor, terms=form.terms())
        except DomainError as error:
            show_refusal(form, error, PROGRAM_FIELDS)
            return _render_form(form, None, refusal_status(error))
        flash(_("The program is saved as a draft. Check it, then publish it."), "success")
        return redirect(url_for("vouchers.program_console", program_id=program.id))
    return _render_form(form, None, 422 if form.is_submitted() else 200)


@bp.route("/programs/<int:program_id>/edit", methods=["GET", "POST"])
@org_required(OFFICER, write=True)
def edit_program(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    if program.status is not ProgramStatus.DRAFT:
        flash(_("Only a draft program can be changed."), "warning")
        return redirect(url_for("vouchers.program_console", program_id=program.id))
    form = ProgramForm(vendors=verified_vendors(program.vendor_whitelist))
    if not form.is_submitted():
        form.fill_from(
            {
                "name": program.name,
                "description": program.description,
                "kind": program.kind.value,
                # The picker shows the region the prefix names (31 -> 310000, 上海市).
                "region_prefix": program.region_prefix.ljust(6, "0"),
                "budget": program.budget_fen,
                "ratio": program.ratio_bp,
                "annual_cap": program.annual_cap_fen,
                "invoice_cap": program.invoice_cap_fen,
                "size_classes": list(program.size_classes),
                "industries": list(program.industries),
                "vendor_whitelist": list(program.vendor_whitelist),
                "opens_on": dates.first_day(program.opens_at),
                "closes_on": dates.last_day(program.closes_at),
                "validity_days": program.validity_days,
                "notice_days": program.notice_days,
                "required_documents": evidence.specs_of(db.session, program.id),
            }
        )
        return _render_form(form, program)
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                programs.update_program(db.session, program, actor=g.actor, terms=form.terms())
        except DomainError as error:
            show_refusal(form, error, PROGRAM_FIELDS)
            return _render_form(form, program, refusal_status(error))
        flash(_("The program's terms are saved."), "success")
        return redirect(url_for("vouchers.program_console", program_id=program.id))
    return _render_form(form, program, 422)


@bp.post("/programs/<int:program_id>/publish")
@org_required(OFFICER, write=True)
def publish_program(program_id: int) -> ResponseReturnValue:
    """Publishing states the budget and asks for its confirmation first."""
    program = load_program(program_id)
    form = ConfirmForm()
    back = url_for("vouchers.program_console", program_id=program.id)
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                programs.publish_program(
                    db.session,
                    program,
                    actor=g.actor,
                    now=utcnow(),
                    confirm_fen=form.confirmed_fen(),
                )
        except ConfirmationNeeded as needed:
            return confirmation_page(
                needed, title=_("Publish %(name)s", name=program.name), back_url=back
            )
        except DomainError as error:
            flash(str(error.message), "danger")
            return redirect(back)
        flash(_("The program is published. Enterprises can see it and apply."), "success")
    return redirect(back)


@bp.post("/programs/<int:program_id>/close")
@org_required(OFFICER, write=True)
def close_program(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    if ActionForm().validate_on_submit():
        attempt(
            lambda: programs.close_program(db.session, program, actor=g.actor, now=utcnow()),
            _("The program is closed. Issued vouchers stay usable until they expire."),
        )
    return redirect(url_for("vouchers.program_console", program_id=program.id))
