"""Dishonesty flags (失信) for officers: flag an organization by its credit code, see the
flags one's own government set, and clear them."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import Organization
from marketplace.views.flash import attempt
from vouchers import flags
from vouchers.forms import ClearFlagForm, FlagForm
from vouchers.models import OrganizationFlag
from vouchers.views.common import OFFICER, bp, organizations_by_id, refusal_status, show_refusal


def _render(form: FlagForm | None = None, status: int = 200) -> ResponseReturnValue:
    rows = list(
        db.session.scalars(
            sa.select(OrganizationFlag)
            .where(OrganizationFlag.flagged_by_org_id == g.actor.organization.id)
            .order_by(OrganizationFlag.cleared_at.is_not(None), OrganizationFlag.id.desc())
        )
    )
    return render_template(
        "vouchers/flags.html",
        flags=rows,
        orgs=organizations_by_id({f.organization_id for f in rows}),
        form=form or FlagForm(formdata=None),
        clear_form=ClearFlagForm(formdata=None),
        may_write=g.actor.role.can_write,
    ), status


@bp.get("/flags")
@org_required(OFFICER)
def flag_list() -> ResponseReturnValue:
    return _render()


@bp.post("/flags")
@org_required(OFFICER, write=True)
def flag_organization() -> ResponseReturnValue:
    form = FlagForm()
    if not form.validate_on_submit():
        return _render(form, 422)
    uscc = (form.uscc.data or "").strip().upper()
    organization = db.session.scalar(sa.select(Organization).where(Organization.uscc == uscc))
    if organization is None:
        form.uscc.errors = [*form.uscc.errors, _("No organization on the platform has this code.")]
        return _render(form, 422)
    try:
        with db.session.begin_nested():
            flags.flag(
                db.session, organization, actor=g.actor, reason=form.reason.data or "", now=utcnow()
            )
    except DomainError as error:
        show_refusal(form, error)
        return _render(form, refusal_status(error))
    flash(
        _("%(org)s is flagged; it qualifies for no voucher program.", org=organization.name),
        "success",
    )
    return redirect(url_for("vouchers.flag_list"))


@bp.post("/flags/<int:flag_id>/clear")
@org_required(OFFICER, write=True)
def clear_flag(flag_id: int) -> ResponseReturnValue:
    record = db.session.get(OrganizationFlag, flag_id)
    if record is None or record.flagged_by_org_id != g.actor.organization.id:
        abort(404)
    form = ClearFlagForm()
    if form.validate_on_submit():
        attempt(
            lambda: flags.clear(
                db.session, record, actor=g.actor, note=form.note.data or "", now=utcnow()
            ),
            _("The flag is cleared."),
        )
    return redirect(url_for("vouchers.flag_list"))
