"""The listing workflow: write, submit, review, publish, edit while published, delist.

Functions take a session, the acting person and plain values; they flush, never commit.
Every change that alters what buyers may see marks the solution for the search index,
which is updated after the commit (catalog/indexing.py).
"""

from __future__ import annotations

import secrets
from dataclasses import asdict

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, joinedload

from catalog import agreements, indexing
from catalog.models import (
    Plan,
    RevisionStatus,
    Screenshot,
    Solution,
    SolutionRevision,
    SolutionStatus,
)
from catalog.validation import SLUG, PlanTerms, SolutionContent
from marketplace import audit, webhooks
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind
from marketplace.states import transition

# --- who may do what -------------------------------------------------------------------


def can_edit(solution: Solution, actor: Actor) -> bool:
    return (
        actor.organization.id == solution.vendor_id
        and actor.org_kind is OrgKind.VENDOR
        and actor.role.can_write
    )


def can_review(actor: Actor) -> bool:
    return actor.org_kind is OrgKind.PLATFORM and actor.role.can_write


def can_view_unpublished(solution: Solution, actor: Actor | None) -> bool:
    """Drafts are seen by their vendor and the operator only."""
    if actor is None:
        return False
    return actor.organization.id == solution.vendor_id or actor.org_kind is OrgKind.PLATFORM


def _require_editor(solution: Solution, actor: Actor) -> None:
    if not can_edit(solution, actor):
        raise NotAllowed(_l("Only the vendor's members can change this listing."))


def _require_reviewer(actor: Actor) -> None:
    if not can_review(actor):
        raise NotAllowed(_l("Only the platform operator reviews listings."))


def _audit(session: Session, action: str, solution: Solution, actor: Actor, **data: object) -> None:
    audit.record(
        session,
        action,
        "solution",
        solution.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"slug": solution.slug, **data},
    )


# --- writing ---------------------------------------------------------------------------


def _unique_slug(session: Session, wanted: str | None) -> str:
    if wanted:
        if not SLUG.match(wanted):
            raise DomainError(_l("Use 3-80 lower-case letters, digits and hyphens."), field="slug")
        if session.scalar(sa.select(Solution.id).where(Solution.slug == wanted)) is not None:
            raise Conflict(_l("This address is taken; choose another."), field="slug")
        return wanted
    while True:
        slug = f"s-{secrets.token_hex(4)}"
        if session.scalar(sa.select(Solution.id).where(Solution.slug == slug)) is None:
            return slug


def _plan_row(terms: PlanTerms, position: int) -> Plan:
    return Plan(position=position, **asdict(terms))


def create_solution(
    session: Session,
    *,
    actor: Actor,
    content: SolutionContent,
    plans: list[PlanTerms],
    slug: str | None = None,
) -> Solution:
    """A new listing as a draft of the actor's vendor organization."""
    if actor.org_kind is not OrgKind.VENDOR or not actor.role.can_write:
        raise NotAllowed(_l("Only vendors list solutions."))
    solution = Solution(vendor_id=actor.organization.id, slug=_unique_slug(session, slug))
    revision = SolutionRevision(number=1, **asdict(content))
    solution.revisions.append(revision)
    session.add(solution)
    session.flush()
    _replace_plans(session, solution, revision, plans)
    _audit(session, "solution.created", solution, actor)
    return solution


def _replace_plans(
    session: Session, solution: Solution, revision: SolutionRevision, plans: list[PlanTerms]
) -> None:
    revision.plans.clear()
    session.flush()
    for position, terms in enumerate(plans):
        plan = _plan_row(terms, position)
        plan.solution_id = solution.id
        revision.plans.append(plan)
    session.flush()


def _copy_revision(
    session: Session, solution: Solution, source: SolutionRevision
) -> SolutionRevision:
    """A new draft revision starting from ``source``, plans and screenshots copied."""
    fields = {
        column.key: getattr(source, column.key)
        for column in SolutionRevision.__table__.columns
        if column.key
        not in {
            "id",
            "number",
            "status",
            "review_note",
            "created_at",
            "submitted_at",
            "reviewed_at",
            "reviewed_by_id",
            "solution_id",
        }
    }
    revision = SolutionRevision(number=source.number + 1, **fields)
    solution.revisions.append(revision)
    session.flush()
    for plan in source.plans:
        copy = {
            column.key: getattr(plan, column.key)
            for column in Plan.__table__.columns
            if column.key not in {"id", "revision_id"}
        }
        revision.plans.append(Plan(**copy))
    for shot in source.screenshots:
        revision.screenshots.append(
            Screenshot(
                position=shot.position,
                stored_name=shot.stored_name,
                content_type=shot.content_type,
                size_bytes=shot.size_bytes,
                width=shot.width,
                height=shot.height,
                caption=shot.caption,
            )
        )
    session.flush()
    return revision


def editable_revision(session: Session, solution: Solution, actor: Actor) -> SolutionRevision:
    """The revision the vendor may change now; editing a published listing starts a new one."""
    _require_editor(solution, actor)
    working = solution.working_revision
    if working is not None:
        if not working.can_edit:
            raise Conflict(_l("This version is in review; wait for the decision or withdraw it."))
        if working.status is RevisionStatus.REJECTED:
            # Editing a rejected version makes it a draft again; its next submit is recorded.
            transition(working, RevisionStatus.DRAFT, actor, audit_row=False)
            if solution.status is SolutionStatus.REJECTED:
                transition(solution, SolutionStatus.DRAFT, actor, audit_row=False)
        return working
    assert solution.published is not None
    return _copy_revision(session, solution, solution.published)


def update_content(
    session: Session, solution: Solution, *, actor: Actor, content: SolutionContent
) -> SolutionRevision:
    revision = editable_revision(session, solution, actor)
    if content.agreement != revision.agreement:
        revision.agreement_version = agreements.version_for(solution, revision, content.agreement)
    for key, value in asdict(content).items():
        setattr(revision, key, value)
    session.flush()
    return revision


def update_plans(
    session: Session, solution: Solution, *, actor: Actor, plans: list[PlanTerms]
) -> SolutionRevision:
    revision = editable_revision(session, solution, actor)
    _replace_plans(session, solution, revision, plans)
    return revision


# --- review ----------------------------------------------------------------------------


def submit(session: Session, solution: Solution, *, actor: Actor) -> SolutionRevision:
    _require_editor(solution, actor)
    revision = solution.working_revision
    if revision is None or revision.status is RevisionStatus.SUBMITTED:
        raise Conflict(_l("There is no new version to submit."))
    if not revision.plans:
        raise DomainError(_l("Add at least one plan before submitting."), field="plans")
    revision.review_note = ""
    if solution.status in (SolutionStatus.DRAFT, SolutionStatus.REJECTED):
        transition(solution, SolutionStatus.SUBMITTED, actor, audit_row=False)
    transition(revision, RevisionStatus.SUBMITTED, actor, action="solution.submitted")
    return revision


def withdraw(session: Session, solution: Solution, *, actor: Actor) -> None:
    """Take a submitted version back to draft (to fix something before the review)."""
    _require_editor(solution, actor)
    revision = solution.working_revision
    if revision is None or revision.status is not RevisionStatus.SUBMITTED:
        raise Conflict(_l("Nothing is in review."))
    if solution.status is SolutionStatus.SUBMITTED:
        transition(solution, SolutionStatus.DRAFT, actor, audit_row=False)
    transition(revision, RevisionStatus.DRAFT, actor, action="solution.withdrawn")


def review_queue(session: Session) -> list[SolutionRevision]:
    return list(
        session.scalars(
            sa.select(SolutionRevision)
            .where(SolutionRevision.status == RevisionStatus.SUBMITTED)
            .order_by(SolutionRevision.submitted_at)
        )
    )


def approve(session: Session, solution: Solution, *, actor: Actor) -> SolutionRevision:
    _require_reviewer(actor)
    revision = solution.working_revision
    if revision is None or revision.status is not RevisionStatus.SUBMITTED:
        raise Conflict(_l("Nothing is waiting for review."))
    vendor = session.get(Organization, solution.vendor_id)
    assert vendor is not None
    if not vendor.is_verified:
        raise DomainError(_l("The vendor is not verified yet; verify the vendor first."))
    if solution.published is not None:
        transition(solution.published, RevisionStatus.SUPERSEDED, actor, audit_row=False)
    revision.reviewed_by_id = actor.user.id
    solution.published_revision_id = revision.id
    solution.published = revision
    if solution.status not in (SolutionStatus.PUBLISHED, SolutionStatus.DELISTED):
        transition(solution, SolutionStatus.PUBLISHED, actor, audit_row=False)
    solution.published_at = solution.published_at or utcnow()
    transition(revision, RevisionStatus.APPROVED, actor, action="solution.approved")
    indexing.mark(session, solution.id)
    _listing_event(session, solution, revision, "listing.approved")
    return revision


def reject(session: Session, solution: Solution, *, actor: Actor, note: str) -> SolutionRevision:
    _require_reviewer(actor)
    revision = solution.working_revision
    if revision is None or revision.status is not RevisionStatus.SUBMITTED:
        raise Conflict(_l("Nothing is waiting for review."))
    if not note.strip():
        raise DomainError(_l("Tell the vendor what to change."), field="note")
    revision.review_note = note.strip()
    revision.reviewed_by_id = actor.user.id
    if solution.status is SolutionStatus.SUBMITTED:
        transition(solution, SolutionStatus.REJECTED, actor, audit_row=False)
    transition(
        revision,
        RevisionStatus.REJECTED,
        actor,
        action="solution.rejected",
        data={"note": note.strip()},
    )
    _listing_event(session, solution, revision, "listing.rejected")
    return revision


def _listing_event(
    session: Session, solution: Solution, revision: SolutionRevision, event_type: str
) -> None:
    """Tell the vendor's systems about a review decision (a vendor webhook)."""
    reviewed_at = revision.reviewed_at or utcnow()
    data = {
        "object": "listing",
        "solution_id": solution.id,
        "slug": solution.slug,
        "name": revision.name,
        "status": solution.status.value,
        "revision": revision.number,
        "review_note": revision.review_note or "",
        "reviewed_at": reviewed_at.isoformat(),
    }
    key = f"solution:{solution.id}:revision:{revision.number}"
    webhooks.emit(session, solution.vendor_id, event_type, data, key=key, now=reviewed_at)


def delist(session: Session, solution: Solution, *, actor: Actor, reason: str) -> None:
    """Take a published listing off the storefront (the operator, or the vendor itself)."""
    if not (can_review(actor) or can_edit(solution, actor)):
        raise NotAllowed(_l("You cannot delist this solution."))
    if not solution.can_delist:
        raise Conflict(_l("Only a published solution can be delisted."))
    if not reason.strip():
        raise DomainError(_l("Give a reason."), field="reason")
    solution.delisted_reason = reason.strip()
    transition(solution, SolutionStatus.DELISTED, actor, reason=reason.strip())
    indexing.mark(session, solution.id)


def relist(session: Session, solution: Solution, *, actor: Actor) -> None:
    _require_reviewer(actor)
    if not solution.can_relist:
        raise Conflict(_l("Only a delisted solution with a published version can be relisted."))
    vendor = session.get(Organization, solution.vendor_id)
    if vendor is None or not vendor.is_verified:
        raise DomainError(_l("The vendor is not verified."))
    solution.delisted_reason = ""
    transition(solution, SolutionStatus.PUBLISHED, actor, action="solution.relisted")
    indexing.mark(session, solution.id)


# --- reading ---------------------------------------------------------------------------


# A published solution by its address (parameter ``slug``), with its vendor and published
# plans: one statement, built once, since every solution page asks it.
PUBLIC_SOLUTION = (
    sa.select(Solution)
    .where(Solution.slug == sa.bindparam("slug"), Solution.is_public)
    .options(
        joinedload(Solution.vendor),
        joinedload(Solution.published).joinedload(SolutionRevision.plans),
    )
)


def public_solution(session: Session, slug: str) -> Solution | None:
    """A published solution by its address, with its vendor and published plans."""
    return session.scalars(PUBLIC_SOLUTION, {"slug": slug}).unique().first()


def vendor_solutions(session: Session, vendor_id: int) -> list[Solution]:
    return list(
        session.scalars(
            sa.select(Solution).where(Solution.vendor_id == vendor_id).order_by(Solution.id.desc())
        )
    )
