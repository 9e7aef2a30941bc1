"""Buyers' ratings of solutions (DESIGN.md section 3: ratings come only from buyers with a
paid invoice). One rating per buyer organization and solution, never edited afterwards.

Not to be confused with ``billing/charges.py``, which turns prices into invoice lines.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.models import Contract, Invoice, InvoiceKind, InvoiceStatus
from catalog import indexing
from catalog.models import Rating, Solution
from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind

MAX_COMMENT = 2000

_Id = int | sa.BindParameter[int]  # a value, or a parameter of a statement built once


def _paid_invoice(buyer_id: _Id, solution_id: _Id) -> sa.Exists:
    return sa.exists(
        sa.select(Invoice.id)
        .join(Contract, Contract.id == Invoice.contract_id)
        .where(
            Invoice.buyer_id == buyer_id,
            Contract.solution_id == solution_id,
            Invoice.status == InvoiceStatus.PAID,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.total_fen > 0,
        )
    )


def _rated(org_id: _Id, solution_id: _Id) -> sa.Exists:
    return sa.exists(
        sa.select(Rating.id).where(
            Rating.solution_id == solution_id, Rating.organization_id == org_id
        )
    )


def has_paid_invoice(session: Session, buyer_id: int, solution_id: int) -> bool:
    """The buyer paid money for this solution: a paid invoice (not a credit note, and not
    one closed at ¥0 with nothing to pay) on one of its contracts for the solution."""
    return bool(session.scalar(sa.select(_paid_invoice(buyer_id, solution_id))))


def existing_rating(session: Session, org_id: int, solution_id: int) -> Rating | None:
    return session.scalar(
        sa.select(Rating).where(Rating.solution_id == solution_id, Rating.organization_id == org_id)
    )


def may_rate(session: Session, actor: Actor, solution: Solution) -> bool:
    """Whether ``rate`` would accept a rating from this actor now."""
    if actor.org_kind is not OrgKind.SME or not actor.role.can_write:
        return False
    return bool(session.scalar(sa.select(may_rate_clause(actor.organization.id, solution.id))))


def may_rate_clause(org_id: _Id, solution_id: _Id) -> sa.ColumnElement[bool]:
    """The buyer organization has paid for the solution and not rated it yet, as a clause
    a caller may read with other things in one statement (the solution page does)."""
    return _paid_invoice(org_id, solution_id) & ~_rated(org_id, solution_id)


def rate(
    session: Session, actor: Actor, solution: Solution, stars: object, comment: str = ""
) -> Rating:
    """Record the buyer organization's rating of a solution it has paid for."""
    if actor.org_kind is not OrgKind.SME or not actor.role.can_write:
        raise NotAllowed(_l("Only enterprises (buyers) rate solutions."))
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise DomainError(_l("Choose from one to five stars."), field="stars")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise DomainError(
            _l("Keep the comment under %(n)d characters.", n=MAX_COMMENT), field="comment"
        )
    org_id = actor.organization.id
    if existing_rating(session, org_id, solution.id) is not None:
        raise Conflict(_l("Your organization has rated this solution already."))
    if not has_paid_invoice(session, org_id, solution.id):
        raise NotAllowed(
            _l("You can rate a solution once an invoice for it has been paid."),
            code="no_paid_invoice",
        )
    rating = Rating(
        solution_id=solution.id,
        organization_id=org_id,
        user_id=actor.user.id,
        stars=stars,
        comment=comment,
    )
    session.add(rating)
    session.flush()
    indexing.mark(session, solution.id)  # the index carries the average and the count
    audit.record(
        session,
        "solution.rated",
        "solution",
        solution.id,
        user_id=actor.user.id,
        org_id=org_id,
        data={"stars": stars},
    )
    return rating
