"""The platform operator's console: every organization, and vendor verification."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import aliased
from werkzeug.wrappers import Response

from marketplace import audit, audit_words, services
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.forms import VerificationForm
from marketplace.models import Membership, Organization, OrgKind, User, Verification
from marketplace.views import audit as audit_views

bp = Blueprint("console", __name__, url_prefix="/console")

operator_only = org_required([OrgKind.PLATFORM])
PER_PAGE = 50


@bp.get("/")
@operator_only
def index() -> Response:
    return redirect(url_for("console.vendors"))


@bp.get("/vendors")
@operator_only
def vendors() -> str:
    status = request.args.get("status", Verification.PENDING.value)
    if status not in {v.value for v in Verification}:
        status = Verification.PENDING.value
    rows = db.session.scalars(
        sa.select(Organization)
        .where(Organization.kind == OrgKind.VENDOR, Organization.verification == status)
        .order_by(Organization.created_at)
    ).all()
    counts = dict(
        db.session.execute(
            sa.select(Organization.verification, sa.func.count())
            .where(Organization.kind == OrgKind.VENDOR)
            .group_by(Organization.verification)
        ).all()
    )
    return render_template(
        "marketplace/console/vendors.html", vendors=rows, status=status, counts=counts
    )


@bp.get("/organizations")
@operator_only
def organizations() -> str:
    kind = request.args.get("kind", "")
    q = request.args.get("q", "").strip()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = sa.select(Organization)
    if kind in {k.value for k in OrgKind}:
        query = query.where(Organization.kind == kind)
    if q:
        like = f"%{q}%"
        query = query.where(sa.or_(Organization.name.ilike(like), Organization.uscc.ilike(like)))
    total = db.session.execute(
        sa.select(sa.func.count()).select_from(query.subquery())
    ).scalar_one()
    rows = db.session.scalars(
        query.order_by(Organization.id).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    return render_template(
        "marketplace/console/organizations.html",
        organizations=rows,
        kind=kind,
        q=q,
        page=page,
        total=total,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        kinds=list(OrgKind),
    )


@bp.route("/organizations/<int:org_id>", methods=["GET", "POST"])
@operator_only
def organization(org_id: int) -> str | Response:
    org = db.session.get(Organization, org_id) or abort(404)
    form = VerificationForm()
    if request.method == "POST":
        decision = request.form.get("decision")
        if decision not in ("verify", "reject") or not form.validate_on_submit():
            abort(400)
        try:
            with db.session.begin_nested():
                services.review_vendor(
                    db.session,
                    org,
                    actor=g.actor,
                    approve=decision == "verify",
                    note=form.note.data or "",
                )
        except DomainError as exc:
            form.note.errors = [*form.note.errors, str(exc.message)]
        else:
            if decision == "verify":
                flash(_("%(org)s is verified.", org=org.name), "success")
            else:
                flash(_("Verification of %(org)s rejected.", org=org.name), "warning")
            return redirect(url_for("console.vendors"))
    members = db.session.scalars(
        sa.select(Membership).where(Membership.organization_id == org.id).order_by(Membership.id)
    ).all()
    history = db.session.scalars(
        sa.select(audit.AuditEvent)
        .where(
            audit.AuditEvent.subject_type == "organization",
            audit.AuditEvent.subject_id == str(org.id),
        )
        .order_by(audit.AuditEvent.id.desc())
    ).all()
    return render_template(
        "marketplace/console/organization.html",
        org=org,
        form=form,
        members=members,
        history=history,
    )


@bp.get("/audit")
@operator_only
def audit_log() -> str:
    """The whole chain (the operator sees every organization's rows) and its checkpoints."""
    actor = aliased(User)
    acting_org = aliased(Organization)
    rows = db.session.execute(  # the people's and organizations' names in the same query
        sa.select(audit.AuditEvent, actor.name, acting_org.name)
        .outerjoin(actor, actor.id == audit.AuditEvent.actor_user_id)
        .outerjoin(acting_org, acting_org.id == audit.AuditEvent.actor_org_id)
        .order_by(audit.AuditEvent.id.desc())
        .limit(100)
    ).all()
    return render_template(
        "marketplace/console/audit.html",
        audit_panel=audit_views.panel(full=request.args.get("verify") == "all"),
        events=[AuditRow(event, person, organization) for event, person, organization in rows],
    )


# A global (not a context variable) so that any page's macros can name an audit event.
bp.add_app_template_global(audit_words.event_name, "audit_event_name")


@dataclass(frozen=True)
class AuditRow:
    """One row of the operator's audit page, in words."""

    event: audit.AuditEvent
    person: str | None
    organization: str | None

    @property
    def event_name(self) -> str:
        return audit_words.event_name(self.event.action)

    @property
    def subject_name(self) -> str:
        return audit_words.subject_name(self.event.subject_type)
