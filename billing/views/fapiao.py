"""Fapiao pages: the organization's 开票信息, the buyer's request on a paid invoice, the
vendor's list of requests with the forms that record an issued or red-letter fapiao, and
the file downloads (rules in billing/fapiao.py)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from billing import fapiao as rules
from billing.fapiao_models import Fapiao, FapiaoStatus, FapiaoType
from billing.models import Invoice
from billing.views.common import bp, load_invoice
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import OrgKind, Role
from marketplace.money import MoneyParseError, parse_yuan
from marketplace.uploads import upload_folder


@bp.app_template_global()
def fapiao_for(invoice: Invoice) -> Fapiao | None:
    """The invoice's fapiao, for the invoice pages (buyer, vendor) and the officer's."""
    return rules.fapiao_of(db.session, invoice)


@bp.app_template_global()
def fapiao_statuses(invoice_ids: list[int]) -> dict[int, FapiaoStatus]:
    """Fapiao status per invoice id: vouchers' pages show it without importing billing."""
    return rules.statuses_of(db.session, list(invoice_ids))


@bp.route("/fapiao-details", methods=["GET", "POST"])
@org_required()
def fapiao_details() -> ResponseReturnValue:
    org = g.actor.organization
    profile = rules.profile_of(db.session, org)
    error: DomainError | None = None
    can_edit = g.actor.role in (Role.OWNER, Role.ADMIN)
    if request.method == "POST" and not can_edit:
        abort(403)
    if request.method == "POST":
        try:
            with db.session.begin_nested():
                rules.save_profile(
                    db.session,
                    org,
                    actor=g.actor,
                    title=request.form.get("title", ""),
                    tax_id=request.form.get("tax_id", ""),
                    address_phone=request.form.get("address_phone", ""),
                    bank_account=request.form.get("bank_account", ""),
                    email=request.form.get("email", ""),
                    now=utcnow(),
                )
        except DomainError as refused:
            error = refused
            db.session.expire_all()
        else:
            db.session.commit()
            flash(_("Your fapiao details were saved."), "success")
            return redirect(url_for("billing.fapiao_details"), 303)
    return render_template(
        "billing/fapiao_details.html",
        profile=profile,
        form=request.form if error else None,
        error=error,
        can_edit=can_edit,
    ), (422 if error else 200)


@bp.post("/invoices/<int:invoice_id>/fapiao")
@org_required([OrgKind.SME], write=True)
def request_fapiao(invoice_id: int) -> ResponseReturnValue:
    invoice = load_invoice(invoice_id)
    try:
        type_ = FapiaoType(request.form.get("type", ""))
    except ValueError:
        type_ = FapiaoType.NORMAL
    try:
        with db.session.begin_nested():
            rules.request(db.session, invoice, actor=g.actor, type_=type_, now=utcnow())
    except DomainError as refused:
        flash(str(refused.message), "danger")
    else:
        db.session.commit()
        flash(_("Your fapiao request was sent to the vendor."), "success")
    return redirect(url_for("billing.invoice", invoice_id=invoice.id) + "#fapiao", 303)


@bp.get("/fapiao")
@org_required([OrgKind.VENDOR])
def fapiao_requests() -> str:
    rows = db.session.scalars(
        sa.select(Fapiao)
        .where(Fapiao.vendor_id == g.actor.organization.id)
        .order_by((Fapiao.status == FapiaoStatus.REQUESTED).desc(), Fapiao.requested_at.desc())
        .limit(200)
    ).all()
    return render_template("billing/fapiao_requests.html", rows=rows, today=date.today())


def _vendor_fapiao(fapiao_id: int) -> Fapiao:
    found = db.session.get(Fapiao, fapiao_id)
    if found is None or found.vendor_id != g.actor.organization.id:
        abort(404)
    return found


def _date(raw: str | None) -> date:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        raise DomainError(_("Enter the date the fapiao was issued."), field="issued_on") from None


@bp.post("/fapiao/<int:fapiao_id>/issue")
@org_required([OrgKind.VENDOR], write=True)
def issue_fapiao(fapiao_id: int) -> ResponseReturnValue:
    found = _vendor_fapiao(fapiao_id)
    upload = request.files.get("file")
    try:
        with db.session.begin_nested():
            try:
                amount_fen = parse_yuan(request.form.get("amount", "")).fen
            except MoneyParseError as bad:
                raise DomainError(bad.message, field="amount") from None
            rules.record_issued(
                db.session,
                found,
                actor=g.actor,
                number=request.form.get("number", ""),
                issued_on=_date(request.form.get("issued_on")),
                amount_fen=amount_fen,
                data=upload.stream.read(rules.MAX_BYTES + 1) if upload else b"",
                filename=(upload.filename or "") if upload else "",
                upload_folder=upload_folder(),
                now=utcnow(),
            )
    except DomainError as refused:
        flash(str(refused.message), "danger")
    else:
        db.session.commit()
        flash(_("The fapiao was recorded; the buyer can download it."), "success")
    return redirect(url_for("billing.fapiao_requests"), 303)


@bp.post("/fapiao/<int:fapiao_id>/red-letter")
@org_required([OrgKind.VENDOR], write=True)
def red_letter_fapiao(fapiao_id: int) -> ResponseReturnValue:
    found = _vendor_fapiao(fapiao_id)
    upload = request.files.get("file")
    try:
        with db.session.begin_nested():
            rules.record_red_letter(
                db.session,
                found,
                actor=g.actor,
                number=request.form.get("number", ""),
                issued_on=_date(request.form.get("issued_on")),
                data=upload.stream.read(rules.MAX_BYTES + 1) if upload else b"",
                filename=(upload.filename or "") if upload else "",
                upload_folder=upload_folder(),
                now=utcnow(),
            )
    except DomainError as refused:
        flash(str(refused.message), "danger")
    else:
        db.session.commit()
        flash(_("The red-letter fapiao was recorded."), "success")
    return redirect(url_for("billing.fapiao_requests"), 303)


@bp.get("/fapiao/<int:fapiao_id>/<any(file, red):which>")
@org_required()
def fapiao_file(fapiao_id: int, which: str) -> ResponseReturnValue:
    found = db.session.get(Fapiao, fapiao_id)
    if found is None or not rules.may_download(db.session, found, g.actor):
        abort(404)  # another organization's fapiao is simply not found
    red = which == "red"
    stored = found.red_file if red else found.file
    if not stored:
        abort(404)
    response = send_from_directory(
        upload_folder() / "fapiao",
        stored,
        mimetype=(found.red_file_content_type if red else found.file_content_type),
        as_attachment=True,
        download_name=(found.red_file_name if red else found.file_name) or stored,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
