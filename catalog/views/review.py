"""Listing review for the platform operator: the queue, a review page that shows the
submitted version as buyers will see it with what changed, approve or reject with a reason,
and delist or relist any listing. The preview page is shared with the listing's vendor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from catalog import services, taxonomy
from catalog.api_schemas import PlanOut
from catalog.markup import render_markdown
from catalog.models import (
    RevisionStatus,
    Solution,
    SolutionRevision,
    SolutionStatus,
    VoucherKind,
)
from catalog.solution_forms import DelistForm, RejectForm
from marketplace import audit
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.i18n import current_language
from marketplace.models import Organization, OrgKind
from marketplace.views.flash import attempt

bp = Blueprint("review", __name__, url_prefix="/console/listings")

operator_reads = org_required([OrgKind.PLATFORM])
operator_writes = org_required([OrgKind.PLATFORM], write=True)
PER_PAGE = 50


def _solution_or_404(solution_id: int) -> Solution:
    return db.session.get(Solution, solution_id) or abort(404)


# --- what changed -----------------------------------------------------------------------


@dataclass
class Change:
    """One field that differs from the published version. ``before``/``after`` are short
    texts; a long field (the description) carries rendered HTML in ``detail``."""

    key: str  # the field, for tests and styling
    label: str
    before: str
    after: str
    detail: tuple[Markup, Markup] | None = None


def _names(codes: list[str], name_of: Callable[[str], str]) -> str:
    separator = ", " if current_language() == "en" else "、"
    return separator.join(name_of(code) for code in codes) or "—"


def _industry(code: str) -> str:
    found = taxonomy.industry(code)
    return f"{code} {found.name(current_language())}" if found else code


def _scenario(code: str) -> str:
    found = taxonomy.scenario(code)
    return found.name(current_language()) if found else code


def _voucher(code: str) -> str:
    try:
        return VoucherKind(code).label
    except ValueError:
        return code


def _plan_terms(revision: SolutionRevision) -> list[dict[str, object]]:
    terms = []
    for plan in revision.plans:
        data = PlanOut().dump(plan)
        data.pop("id")
        terms.append(data)
    return terms


def _plain_text(text: str) -> Markup:
    """A plain-text field (the service agreement) shown as written, line breaks kept."""
    if not text:
        return Markup("<em>{}</em>").format(_("Platform standard agreement"))
    return Markup('<div class="vendor-about text-break">{}</div>').format(text)


def changed_fields(before: SolutionRevision, after: SolutionRevision) -> list[Change]:
    """What a reviewer must look at in an edit of a published listing."""
    changes: list[Change] = []
    texts = (
        ("name", _l("Name")),
        ("name_en", _l("English name")),
        ("summary", _l("Summary")),
        ("summary_en", _l("English summary")),
    )
    for key, label in texts:
        old, new = getattr(before, key), getattr(after, key)
        if old != new:
            changes.append(Change(key, str(label), old or "—", new or "—"))
    if before.description != after.description:
        changes.append(
            Change(
                "description",
                str(_l("Description")),
                _("%(n)d characters", n=len(before.description)),
                _("%(n)d characters", n=len(after.description)),
                (render_markdown(before.description), render_markdown(after.description)),
            )
        )
    lists = (
        ("industries", _l("Industries"), _industry),
        ("scenarios", _l("Scenarios"), _scenario),
        ("voucher_kinds", _l("Vouchers accepted"), _voucher),
    )
    for key, label, name_of in lists:
        old_codes, new_codes = list(getattr(before, key)), list(getattr(after, key))
        if old_codes != new_codes:
            changes.append(
                Change(key, str(label), _names(old_codes, name_of), _names(new_codes, name_of))
            )
    if before.delivery != after.delivery:
        changes.append(
            Change("delivery", str(_l("Delivery")), before.delivery.label, after.delivery.label)
        )
    if before.deploy_days != after.deploy_days:
        changes.append(
            Change(
                "deploy_days",
                str(_l("Days to deploy")),
                str(before.deploy_days),
                str(after.deploy_days),
            )
        )
    if list(before.case_studies) != list(after.case_studies):
        changes.append(
            Change(
                "case_studies",
                str(_l("Case studies")),
                _("%(n)d case studies", n=len(before.case_studies)),
                _("%(n)d case studies, changed", n=len(after.case_studies)),
            )
        )
    if before.agreement != after.agreement:
        changes.append(
            Change(
                "agreement",
                str(_l("Service agreement")),
                _("version %(n)d", n=before.agreement_version),
                _("version %(n)d", n=after.agreement_version),
                (_plain_text(before.agreement), _plain_text(after.agreement)),
            )
        )
    if _plan_terms(before) != _plan_terms(after):
        changes.append(
            Change(
                "plans",
                str(_l("Plans and prices")),
                _names([p.name for p in before.plans], str),
                _names([p.name for p in after.plans], str),
            )
        )
    if [s.stored_name for s in before.screenshots] != [s.stored_name for s in after.screenshots]:
        changes.append(
            Change(
                "screenshots",
                str(_l("Screenshots")),
                _("%(n)d images", n=len(before.screenshots)),
                _("%(n)d images, changed", n=len(after.screenshots)),
            )
        )
    return changes


# --- queue and lists --------------------------------------------------------------------


@bp.get("/")
@operator_reads
def queue() -> str:
    revisions = services.review_queue(db.session)
    return render_template("catalog/review/queue.html", revisions=revisions)


@bp.get("/all")
@operator_reads
def listings() -> str:
    status = request.args.get("status", "")
    q = request.args.get("q", "").strip()[:100]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = (
        sa.select(Solution)
        .join(Organization, Solution.vendor_id == Organization.id)
        .options(selectinload(Solution.vendor), selectinload(Solution.revisions))
    )
    if status in {s.value for s in SolutionStatus}:
        query = query.where(Solution.status == status)
    if q:
        like = f"%{q}%"
        named = sa.select(SolutionRevision.solution_id).where(SolutionRevision.name.ilike(like))
        query = query.where(
            sa.or_(Solution.slug.ilike(like), Organization.name.ilike(like), Solution.id.in_(named))
        )
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Solution.id.desc()).limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    ).all()
    counts = dict(
        db.session.execute(
            sa.select(Solution.status, sa.func.count()).group_by(Solution.status)
        ).all()
    )
    return render_template(
        "catalog/review/listings.html",
        solutions=rows,
        status=status,
        q=q,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        total=total,
        counts=counts,
        statuses=list(SolutionStatus),
        delist_form=DelistForm(formdata=None),
    )


# --- one listing ------------------------------------------------------------------------


def _render_review(
    solution: Solution,
    reject_form: RejectForm | None = None,
    delist_form: DelistForm | None = None,
    approve_error: str | None = None,
) -> str:
    working = solution.working_revision
    in_review = (
        working if working is not None and working.status is RevisionStatus.SUBMITTED else None
    )
    shown = in_review or solution.current
    published = solution.published
    changes = (
        changed_fields(published, shown)
        if published is not None and shown.id != published.id
        else None
    )
    history = db.session.scalars(
        sa.select(audit.AuditEvent)
        .where(
            audit.AuditEvent.subject_type == "solution",
            audit.AuditEvent.subject_id == str(solution.id),
        )
        .order_by(audit.AuditEvent.id.desc())
        .limit(30)
    ).all()
    return render_template(
        "catalog/review/review.html",
        solution=solution,
        revision=shown,
        in_review=in_review,
        changes=changes,
        vendor=solution.vendor,
        history=history,
        reject_form=reject_form or RejectForm(formdata=None),
        delist_form=delist_form or DelistForm(formdata=None),
        approve_error=approve_error,
    )


@bp.get("/<int:solution_id>")
@operator_reads
def review(solution_id: int) -> str:
    return _render_review(_solution_or_404(solution_id))


@bp.post("/<int:solution_id>/approve")
@operator_writes
def approve(solution_id: int) -> str | Response:
    solution = _solution_or_404(solution_id)
    try:
        with db.session.begin_nested():
            services.approve(db.session, solution, actor=g.actor)
    except DomainError as exc:
        return _render_review(solution, approve_error=str(exc.message))
    flash(_("Approved: the listing is published."), "success")
    return redirect(url_for(".queue"))


@bp.post("/<int:solution_id>/reject")
@operator_writes
def reject(solution_id: int) -> str | Response:
    solution = _solution_or_404(solution_id)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                services.reject(db.session, solution, actor=g.actor, note=form.note.data or "")
        except DomainError as exc:
            form.show_error(exc)
        else:
            flash(_("Rejected; the vendor sees your note."), "info")
            return redirect(url_for(".queue"))
    return _render_review(solution, reject_form=form)


@bp.post("/<int:solution_id>/delist")
@operator_writes
def delist(solution_id: int) -> str | Response:
    solution = _solution_or_404(solution_id)
    form = DelistForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                services.delist(db.session, solution, actor=g.actor, reason=form.reason.data or "")
        except DomainError as exc:
            form.show_error(exc)
        else:
            flash(_("The listing is taken off the storefront."), "info")
            return redirect(url_for(".review", solution_id=solution.id))
    return _render_review(solution, delist_form=form)


@bp.post("/<int:solution_id>/relist")
@operator_writes
def relist(solution_id: int) -> Response:
    solution = _solution_or_404(solution_id)
    attempt(
        lambda: services.relist(db.session, solution, actor=g.actor),
        _("The listing is back on the storefront."),
    )
    return redirect(url_for(".review", solution_id=solution.id))


@bp.get("/<int:solution_id>/preview")
@org_required()
def preview(solution_id: int) -> str:
    """A version as buyers will see it, for the operator and the listing's own vendor."""
    solution = db.session.get(Solution, solution_id)
    if solution is None or not services.can_view_unpublished(solution, g.actor):
        abort(404)
    revision = solution.current
    number = request.args.get("version", type=int)
    if number is not None:
        revision = next((r for r in solution.revisions if r.number == number), None) or abort(404)
    return render_template(
        "catalog/review/preview.html",
        solution=solution,
        revision=revision,
        is_operator=g.actor.org_kind is OrgKind.PLATFORM,
    )
