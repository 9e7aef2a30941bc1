"""The business licence (营业执照): an organization's owner or administrator uploads it on the
organization page; its members and the platform operator (verifying a vendor) open it."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, request, send_from_directory, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from marketplace import licences
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.uploads import upload_folder

bp = Blueprint("licences", __name__)


@bp.app_template_global("business_licence")
def business_licence(organization_id: int) -> licences.BusinessLicence | None:
    return licences.licence_of(db.session, organization_id)


@bp.post("/organization/licence")
@org_required(manage=True)
def upload() -> ResponseReturnValue:
    form = FlaskForm()  # the CSRF token
    if not form.validate_on_submit():
        abort(400)
    file = request.files.get("licence")
    data = file.stream.read(licences.MAX_BYTES + 1) if file else b""
    try:
        with db.session.begin_nested():
            licences.upload(
                db.session,
                g.actor.organization,
                actor=g.actor,
                data=data,
                filename=file.filename or "" if file else "",
                upload_folder=upload_folder(),
                now=utcnow(),
            )
    except DomainError as error:
        flash(str(error.message), "danger")
        return redirect(url_for("accounts.organization")), 303
    flash(_("Business licence uploaded."), "success")
    return redirect(url_for("accounts.organization")), 303


@bp.get("/organizations/<int:org_id>/licence")
@org_required()
def file(org_id: int) -> ResponseReturnValue:
    licence = licences.licence_of(db.session, org_id)
    if licence is None or not licences.may_view(org_id, g.actor):
        abort(404)  # another organization's licence is simply not found
    response = send_from_directory(
        upload_folder() / "licences",
        licence.stored_name,
        mimetype=licence.content_type,
        as_attachment=not licence.is_image,
        download_name=licence.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
