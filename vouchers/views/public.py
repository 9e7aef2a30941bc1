"""Pages for everyone and for enterprises: the published programs and a program's public
page (terms in plain language; for a signed-in enterprise whether it qualifies, every
failed rule with its reason, and the application form), the enterprise's wallet and its
applications, and the vendor's view of what programs owe it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace.auth import org_required, web_actor
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import OrgKind
from marketplace.views.flash import attempt
from vouchers import (
    applications,
    eligibility,
    evidence,
    notice,
    programs,
    redemptions,
    settlements,
    wallet,
)
from vouchers.evidence import Upload
from vouchers.forms import ActionForm, ApplyForm
from vouchers.models import Application, ApplicationStatus, Program, Voucher
from vouchers.views.common import (
    ENTERPRISE,
    VENDOR,
    bp,
    load_public_program,
    organizations_by_id,
    refusal_status,
    show_refusal,
    verified_vendors,
)


def _pool(program: Program) -> list[Any]:
    """The vendors an applicant may name: the program's pool, or every verified vendor."""
    if program.vendor_whitelist:
        found = organizations_by_id(set(program.vendor_whitelist))
        return [found[i] for i in program.vendor_whitelist if i in found]
    return verified_vendors()


def apply_form(program: Program, *, formdata: Any = None, **kwargs: Any) -> ApplyForm:
    required = evidence.required_documents(db.session, program.id)
    if formdata is None:
        kwargs["formdata"] = None
    return ApplyForm.with_documents(required, _pool(program), **kwargs)


def _enterprise_actor() -> Any:
    actor = web_actor()
    return actor if actor is not None and actor.org_kind is OrgKind.SME else None


@bp.get("/")
def program_index() -> ResponseReturnValue:
    rows = programs.public_programs(db.session)
    now = utcnow()
    enterprise = _enterprise_actor()
    checks = (
        {p.id: eligibility.check(db.session, p, enterprise.organization, now) for p in rows}
        if enterprise
        else {}
    )
    return render_template(
        "vouchers/index.html",
        programs=rows,
        figures={p.id: programs.figures(db.session, p) for p in rows},
        checks=checks,
        now=now,
    )


def _render_program(
    program: Program, form: ApplyForm | None = None, status: int = 200
) -> ResponseReturnValue:
    now = utcnow()
    enterprise = _enterprise_actor()
    check = own = None
    if enterprise is not None:
        check = eligibility.check(db.session, program, enterprise.organization, now)
        own = [
            a
            for a in applications.applications_of(db.session, enterprise.organization.id)
            if a.program_id == program.id
        ]
    whitelist = organizations_by_id(set(program.vendor_whitelist))
    return render_template(
        "vouchers/program.html",
        program=program,
        figures=programs.figures(db.session, program),
        check=check,
        own_applications=own or [],
        pending=any(a.status is ApplicationStatus.SUBMITTED for a in own or []),
        form=form or apply_form(program),
        required_documents=evidence.required_documents(db.session, program.id),
        may_apply=enterprise is not None and enterprise.role.can_write,
        whitelist=[whitelist[i] for i in program.vendor_whitelist if i in whitelist],
        region_label=programs.region_name(program.region_prefix),
        now=now,
    ), status


@bp.get("/p/<int:program_id>")
def public_program(program_id: int) -> ResponseReturnValue:
    return _render_program(load_public_program(program_id))


@bp.post("/p/<int:program_id>/apply")
@org_required(ENTERPRISE, write=True)
def apply(program_id: int) -> ResponseReturnValue:
    program = load_public_program(program_id)
    form = apply_form(program, formdata=request.form)
    if not form.validate_on_submit():
        return _render_program(program, form, 422)
    assert form.requested.data is not None  # InputRequired
    try:
        uploads = {}
        for required in evidence.required_documents(db.session, program.id):
            name = evidence.document_field(required)
            upload = request.files.get(name)
            data = evidence.read_upload(upload.stream if upload else None, name)
            if data is not None:
                uploads[required.id] = Upload(upload.filename or "" if upload else "", data)
        with db.session.begin_nested():
            application = applications.apply(
                db.session,
                program,
                actor=g.actor,
                requested_fen=form.requested.data,
                now=utcnow(),
                note=form.note.data or "",
                documents=uploads,
                vendor_id=form.vendor_id.data,
            )
    except DomainError as error:
        show_refusal(form, error, {"requested_fen": "requested"})
        return _render_program(program, form, refusal_status(error))
    flash(
        _("Your application is sent. The program's officers review it; you see the answer here."),
        "success",
    )
    return redirect(url_for("vouchers.application", application_id=application.id))


# --- the enterprise's wallet -----------------------------------------------------------------


@bp.get("/wallet")
@org_required(ENTERPRISE)
def wallet_page() -> ResponseReturnValue:
    org_id = g.actor.organization.id
    vouchers = wallet.vouchers_of(db.session, org_id)
    spent = redemptions.redemptions_of_buyer(db.session, org_id)
    return render_template(
        "vouchers/wallet.html",
        vouchers=vouchers,
        applications=applications.applications_of(db.session, org_id),
        redemptions=spent,
        vendors=organizations_by_id({r.vendor_id for r in spent}),
        now=utcnow(),
    )


def _own_application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or application.applicant_org_id != g.actor.organization.id:
        abort(404)
    return application


@bp.get("/applications/<int:application_id>")
@org_required(ENTERPRISE)
def application(application_id: int) -> ResponseReturnValue:
    found = _own_application(application_id)
    voucher = db.session.scalar(sa.select(Voucher).where(Voucher.application_id == found.id))
    return render_template(
        "vouchers/application.html",
        application=found,
        voucher=voucher,
        notice=notice.notice_of(db.session, found.id),
        documents=evidence.documents_of(db.session, found.id),
        action_form=ActionForm(formdata=None),
    )


@bp.post("/applications/<int:application_id>/withdraw")
@org_required(ENTERPRISE, write=True)
def withdraw(application_id: int) -> ResponseReturnValue:
    found = _own_application(application_id)
    if ActionForm().validate_on_submit():
        attempt(
            lambda: applications.withdraw(db.session, found, actor=g.actor, now=utcnow()),
            _("Your application is withdrawn."),
        )
    return redirect(url_for("vouchers.application", application_id=found.id))


# --- the vendor's side -----------------------------------------------------------------------


@bp.get("/settlements")
@org_required(VENDOR)
def vendor_settlements() -> ResponseReturnValue:
    vendor_id = g.actor.organization.id
    accounts = settlements.vendor_accounts(db.session, vendor_id)
    batches = settlements.settlements_for_vendor(db.session, vendor_id)
    rows = redemptions.redemptions_for_vendor(db.session, vendor_id)
    program_ids = {a.program_id for a in accounts} | {s.program_id for s in batches}
    program_ids |= {r.program_id for r in rows}
    names = (
        dict(
            db.session.execute(
                sa.select(Program.id, Program.name).where(Program.id.in_(program_ids))
            ).all()
        )
        if program_ids
        else {}
    )
    return render_template(
        "vouchers/vendor_settlements.html",
        accounts=accounts,
        settlements=batches,
        redemptions=rows,
        program_names=names,
        buyers=organizations_by_id({r.buyer_id for r in rows}),
        owed_fen=sum(a.owed_fen for a in accounts),
        paid_fen=sum(a.paid_fen for a in accounts),
    )
