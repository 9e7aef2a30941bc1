"""咨询服务商: a buyer asks the vendor of a listing a question and both sides write in one
thread.

The rules:
- A member of an SME organization (with a role that writes) asks about a published
  listing: a subject of at most 120 characters (optional) and a message of at most 4,000
  (required; empty text, text of only spaces and NUL characters are refused).
- A thread is seen only by the members of its buyer organization and of the vendor
  organization; to everyone else it does not exist (the pages and the API answer 404).
- A message of the buyer makes the thread ``open`` (waiting for the vendor), a message of
  the vendor makes it ``answered``. The vendor closes a thread; a closed thread takes no
  more messages (the buyer asks a new question).
- Each message is unread by the other side until one of its members opens the thread, and
  the other side is told: a notification with its e-mail after commit (billing receives
  the ``inquiry_message_posted`` signal) and, for the vendor, a webhook event
  (``inquiry.created``, ``inquiry.message``).
- Opening and closing a thread are in the audit log; the messages are the record of what
  was said.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, selectinload

from catalog.inquiry_models import (
    BODY_MAX,
    SUBJECT_MAX,
    Inquiry,
    InquiryMessage,
    InquiryStatus,
    Side,
)
from catalog.models import Solution
from catalog.signals import inquiry_message_posted, inquiry_read
from marketplace import audit, webhooks
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.states import transition

EXCERPT_CHARS = 200  # of a message, in its notification and e-mail


def clean_text(raw: object, *, field: str, limit: int, required: bool) -> str:
    """The text as stored: line ends made ``\\n``, outer spaces removed; refused with the
    reason when it is missing, too long or holds a NUL character."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise DomainError(_l("Enter text."), field=field)
    if "\x00" in raw:
        raise DomainError(
            _l("The text contains a NUL character (\\u0000), which is not allowed."), field=field
        )
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if required and not text:
        raise DomainError(_l("Write your message."), field=field)
    if len(text) > limit:
        raise DomainError(_l("At most %(n)d characters.", n=limit), field=field)
    return text


def _require_writer(actor: Actor) -> None:
    if not actor.role.can_write:
        raise NotAllowed(_l("Your role only allows reading."))


def ask(
    session: Session,
    solution: Solution,
    *,
    actor: Actor,
    subject: object,
    body: object,
    now: datetime,
) -> Inquiry:
    """A new thread from the actor's SME organization to the listing's vendor."""
    if actor.org_kind is not OrgKind.SME:
        raise NotAllowed(_l("Only a buyer organization can ask a vendor."))
    _require_writer(actor)
    if not solution.is_public:
        raise DomainError(_l("This listing is not published."))
    clean_subject = clean_text(subject, field="subject", limit=SUBJECT_MAX, required=False)
    clean_body = clean_text(body, field="body", limit=BODY_MAX, required=True)
    inquiry = Inquiry(
        solution_id=solution.id,
        vendor_id=solution.vendor_id,
        buyer_id=actor.organization.id,
        subject=clean_subject,
        status=InquiryStatus.OPEN,
        created_by_id=actor.user.id,
        created_at=now,
        last_message_at=now,
        unread_by_buyer=False,
        unread_by_vendor=True,
    )
    session.add(inquiry)
    session.flush()
    audit.record(
        session,
        "inquiry.created",
        "inquiry",
        inquiry.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"solution": solution.slug, "vendor_id": solution.vendor_id},
    )
    _add_message(session, inquiry, Side.BUYER, actor, clean_body, now)
    return inquiry


def reply(
    session: Session, inquiry: Inquiry, *, actor: Actor, body: object, now: datetime
) -> InquiryMessage:
    """A message from the actor's side of the thread."""
    side = inquiry.side_of(actor.organization.id)
    if side is None:
        raise NotAllowed(_l("This thread is not your organization's."))
    _require_writer(actor)
    clean_body = clean_text(body, field="body", limit=BODY_MAX, required=True)
    if not inquiry.can_reply:
        raise Conflict(
            _l("This thread is closed. Ask a new question on the solution page."), field="body"
        )
    waiting = InquiryStatus.OPEN if side is Side.BUYER else InquiryStatus.ANSWERED
    transition(inquiry, waiting, actor, audit_row=False)  # the message is the record
    return _add_message(session, inquiry, side, actor, clean_body, now)


def close(session: Session, inquiry: Inquiry, *, actor: Actor, now: datetime) -> None:
    """The vendor closes the thread (answered, or nothing more to say)."""
    if inquiry.side_of(actor.organization.id) is not Side.VENDOR:
        raise NotAllowed(_l("Only the vendor closes a thread."))
    _require_writer(actor)
    if inquiry.status is InquiryStatus.CLOSED:
        raise Conflict(_l("This thread is already closed."))
    inquiry.closed_by_id = actor.user.id
    inquiry.unread_by_vendor = False
    transition(inquiry, InquiryStatus.CLOSED, actor, now=now)


def mark_read(session: Session, inquiry: Inquiry, side: Side, *, now: datetime) -> None:
    """A member of ``side`` has opened the thread: its messages are read, and so are the
    notifications of them."""
    if side is Side.BUYER and inquiry.unread_by_buyer:
        inquiry.unread_by_buyer = False
        organization_id = inquiry.buyer_id
    elif side is Side.VENDOR and inquiry.unread_by_vendor:
        inquiry.unread_by_vendor = False
        organization_id = inquiry.vendor_id
    else:
        return
    inquiry_read.send(inquiry, session=session, organization_id=organization_id, now=now)


def _add_message(
    session: Session, inquiry: Inquiry, side: Side, actor: Actor, body: str, now: datetime
) -> InquiryMessage:
    message = InquiryMessage(
        inquiry=inquiry, side=side, author_id=actor.user.id, body=body, created_at=now
    )
    session.add(message)
    mark_read(session, inquiry, side, now=now)  # who answers has read what came before
    inquiry.last_message_at = now
    inquiry.unread_by_vendor = side is Side.BUYER
    inquiry.unread_by_buyer = side is Side.VENDOR
    session.flush()
    if side is Side.BUYER:
        first = len(inquiry.messages) == 1
        webhooks.emit(
            session,
            inquiry.vendor_id,
            "inquiry.created" if first else "inquiry.message",
            webhook_data(inquiry, message),
            key=f"inquiry:{inquiry.id}" if first else f"inquiry_message:{message.id}",
            now=now,
        )
    inquiry_message_posted.send(message, session=session)
    return message


def webhook_data(inquiry: Inquiry, message: InquiryMessage) -> dict[str, object]:
    return {
        "inquiry_id": inquiry.id,
        "solution_slug": inquiry.solution.slug,
        "message_id": message.id,
        "subject": inquiry.subject,
        "body": message.body,
    }


def excerpt(message: InquiryMessage) -> str:
    text = " ".join(message.body.split())
    return text[:EXCERPT_CHARS] + ("…" if len(text) > EXCERPT_CHARS else "")


# --- reading ---------------------------------------------------------------------------


def visible(session: Session, inquiry_id: int, organization_id: int, side: Side) -> Inquiry | None:
    """The thread when ``organization_id`` is on ``side`` of it; None otherwise (404)."""
    inquiry = session.get(Inquiry, inquiry_id)
    if inquiry is None or inquiry.side_of(organization_id) is not side:
        return None
    return inquiry


def threads(
    session: Session,
    organization_id: int,
    side: Side,
    *,
    status: InquiryStatus | None = None,
    solution_id: int | None = None,
    limit: int = 200,
) -> list[Inquiry]:
    """The organization's threads on ``side``, the latest message first."""
    column = Inquiry.buyer_id if side is Side.BUYER else Inquiry.vendor_id
    query = sa.select(Inquiry).where(column == organization_id)
    if status is not None:
        query = query.where(Inquiry.status == status)
    if solution_id is not None:
        query = query.where(Inquiry.solution_id == solution_id)
    query = (
        query.order_by(Inquiry.last_message_at.desc(), Inquiry.id.desc())
        .limit(limit)
        .options(  # what a list row shows: a few queries for the page, not a few per row
            selectinload(Inquiry.solution).selectinload(Solution.published),
            selectinload(Inquiry.buyer),
            selectinload(Inquiry.vendor),
            selectinload(Inquiry.messages),
        )
    )
    return list(session.scalars(query))


def counts_by_status(session: Session, vendor_id: int) -> dict[InquiryStatus, int]:
    rows = session.execute(
        sa.select(Inquiry.status, sa.func.count(Inquiry.id))
        .where(Inquiry.vendor_id == vendor_id)
        .group_by(Inquiry.status)
    )
    found = {status: int(count) for status, count in rows}
    return {status: found.get(status, 0) for status in InquiryStatus}


def waiting_for_vendor(session: Session, vendor_id: int) -> int:
    """Threads whose last message is the buyer's: the vendor's to-do."""
    return int(
        session.scalar(
            sa.select(sa.func.count(Inquiry.id)).where(
                Inquiry.vendor_id == vendor_id, Inquiry.status == InquiryStatus.OPEN
            )
        )
        or 0
    )


def unread_answers(session: Session, buyer_id: int) -> int:
    """Threads with a vendor's message nobody of the buyer has read: the buyer's to-do."""
    return int(
        session.scalar(
            sa.select(sa.func.count(Inquiry.id)).where(
                Inquiry.buyer_id == buyer_id, Inquiry.unread_by_buyer.is_(True)
            )
        )
        or 0
    )
