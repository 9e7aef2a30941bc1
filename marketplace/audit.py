"""The append-only, hash-chained audit log (DESIGN.md section 5).

Every row stores the hash of the row before it and its own hash, SHA-256 over that
previous hash and the row's canonical JSON. Changing, inserting or deleting a row in the
middle breaks the chain at that row, which :func:`verify` names. The database also refuses
UPDATE and DELETE on the table (triggers in the migration), so tampering needs someone who
can drop those triggers; the chain catches them too. Someone who can also recompute every
later hash, or who deletes the newest rows, is caught by the signed checkpoints the walk is
given as anchors (marketplace/checkpoints.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.db import Base, copy_rows, utcnow

GENESIS = "0" * 64
# Key for pg_advisory_xact_lock: one writer appends at a time, so two transactions
# never chain onto the same previous row.
_PG_LOCK_KEY = 0x4D4B5441  # "MKTA"


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who acted: a user acting in an organization, or nobody (CLI, billing run).
    actor_user_id: Mapped[int | None]
    actor_org_id: Mapped[int | None]
    action: Mapped[str] = mapped_column(sa.String(80), index=True)  # e.g. "vendor.verified"
    subject_type: Mapped[str] = mapped_column(sa.String(50))
    subject_id: Mapped[str] = mapped_column(sa.String(64))
    data: Mapped[dict[str, Any]]
    prev_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    __table_args__ = (sa.Index(None, "subject_type", "subject_id"),)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action} {self.subject_type}:{self.subject_id}>"

    def canonical(self) -> bytes:
        """The row's content as canonical JSON: sorted keys, no spaces, UTF-8."""
        body = {
            "created_at": self.created_at.isoformat(timespec="microseconds"),
            "actor_user_id": self.actor_user_id,
            "actor_org_id": self.actor_org_id,
            "action": self.action,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "data": self.data,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def compute_hash(self) -> str:
        return chain_hash(self.prev_hash, self.canonical())


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical).hexdigest()


def _plain(data: dict[str, Any] | None) -> dict[str, Any]:
    """What JSON storage gives back, so the hash of a stored row can be recomputed."""
    return json.loads(json.dumps(data or {}, default=str, ensure_ascii=False))


@dataclass(frozen=True)
class Entry:
    """One event to append; see :func:`record`."""

    action: str
    subject_type: str
    subject_id: object
    user_id: int | None = None
    org_id: int | None = None
    data: dict[str, Any] | None = None


def _lock_and_last_hash(session: Session) -> str:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    session.flush()  # events added earlier in this transaction come first in the chain
    last = session.scalar(sa.select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    return last or GENESIS


def _chained(entries: list[Entry], prev: str) -> list[AuditEvent]:
    now = utcnow()
    events = []
    for entry in entries:
        event = AuditEvent(
            created_at=now,
            actor_user_id=entry.user_id,
            actor_org_id=entry.org_id,
            action=entry.action,
            subject_type=entry.subject_type,
            subject_id=str(entry.subject_id),
            data=_plain(entry.data),
            prev_hash=prev,
        )
        event.hash = prev = event.compute_hash()
        events.append(event)
    return events


def record(
    session: Session,
    action: str,
    subject_type: str,
    subject_id: object,
    *,
    user_id: int | None = None,
    org_id: int | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain (flushes; the caller's transaction commits it)."""
    entry = Entry(action, subject_type, subject_id, user_id, org_id, data)
    (event,) = _chained([entry], _lock_and_last_hash(session))
    session.add(event)
    session.flush()
    return event


def record_many(session: Session, entries: list[Entry]) -> None:
    """Append events in order under one lock, with one multi-row insert: what a batch job
    writes at once."""
    if not entries:
        return
    events = _chained(entries, _lock_and_last_hash(session))
    columns = [c.key for c in AuditEvent.__table__.columns if c.key != "id"]
    copy_rows(
        session,
        AuditEvent.__table__,
        [{key: getattr(event, key) for key in columns} for event in events],
    )


@dataclass(frozen=True)
class Anchor:
    """A signed statement that the chain's row number ``count`` (in id order) is row
    ``head_id`` with hash ``head_hash``: see marketplace/checkpoints.py."""

    sequence: int
    count: int
    head_id: int
    head_hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # rows proven good (before the first bad row, or up to the last good anchor)
    first_bad: int | None  # id of the first row that does not match
    reason: str | None = None
    # What went wrong, for messages in the reader's language: row_prev_hash, row_hash,
    # checkpoint_mismatch, truncated, checkpoint_invalid, checkpoint_missing,
    # checkpoint_not_in_database, keys_unreadable.
    code: str | None = None
    checkpoints_checked: int = 0
    first_bad_checkpoint: int | None = None  # sequence of the checkpoint that does not match
    # The last row walked (what a new checkpoint would sign).
    head_id: int | None = None
    head_hash: str | None = None
    notice: str | None = None  # something the reader should know even when ok
    # Set when only the rows after this checkpoint were walked (see verify_after).
    from_checkpoint: int | None = None


def verify(
    session: Session,
    *,
    anchors: Sequence[Anchor] = (),
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Walk the chain in id order and name the first row that does not match; where an
    anchor says what row number ``count`` must be, check that too, so a chain rewritten
    with recomputed hashes, or cut short, is named by the first anchor it contradicts."""
    pending = sorted(anchors, key=lambda anchor: (anchor.count, anchor.sequence))
    matched = 0
    proven = 0  # rows up to the last anchor that matched
    expected_prev = GENESIS
    checked = 0
    last: AuditEvent | None = None
    rows = session.scalars(
        sa.select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000)
    )
    try:
        for event in rows:
            if event.prev_hash != expected_prev:
                return VerifyResult(
                    False,
                    checked,
                    event.id,
                    "previous hash does not match",
                    "row_prev_hash",
                    matched,
                )
            if event.compute_hash() != event.hash:
                return VerifyResult(
                    False,
                    checked,
                    event.id,
                    "row content does not match its hash",
                    "row_hash",
                    matched,
                )
            expected_prev = event.hash
            checked += 1
            while matched < len(pending) and pending[matched].count == checked:
                anchor = pending[matched]
                if event.id != anchor.head_id or event.hash != anchor.head_hash:
                    return VerifyResult(
                        False,
                        proven,
                        event.id,
                        f"row {event.id} (row number {checked}) is not the row checkpoint "
                        f"{anchor.sequence} signed: rows after row number {proven} were "
                        "rewritten",
                        "checkpoint_mismatch",
                        matched,
                        anchor.sequence,
                    )
                matched += 1
                proven = checked
            last = event
            if progress and checked % 1000 == 0:
                progress(checked)
    finally:
        rows.close()  # a server-side cursor on PostgreSQL
    if matched < len(pending):
        anchor = pending[matched]
        return VerifyResult(
            False,
            checked,  # every row there is matches; the missing ones are the fault
            None,
            f"the chain has {checked} rows but checkpoint {anchor.sequence} signed "
            f"{anchor.count} (up to row {anchor.head_id}): rows were deleted",
            "truncated",
            matched,
            anchor.sequence,
        )
    return VerifyResult(
        True,
        checked,
        None,
        checkpoints_checked=matched,
        head_id=last.id if last else None,
        head_hash=last.hash if last else None,
    )


def verify_after(
    session: Session, anchor: Anchor, *, checkpoints_checked: int
) -> VerifyResult | None:
    """The cheap check a page can afford: the signed head is still in place (same row,
    same hash, content matching it, the same number of rows up to it) and every row after
    it chains on. The rows before the head were walked when the checkpoint was signed
    (a checkpoint signs only a chain that verifies). None when anything does not match:
    the caller then walks the whole chain with :func:`verify`, which names the fault."""
    head = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.id == anchor.head_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if head is None or head.hash != anchor.head_hash or head.compute_hash() != head.hash:
        return None
    up_to_head = session.scalar(
        sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.id <= head.id)
    )
    if up_to_head != anchor.count:
        return None
    expected_prev, last, checked = head.hash, head, anchor.count
    rows = session.scalars(
        sa.select(AuditEvent)
        .where(AuditEvent.id > head.id)
        .order_by(AuditEvent.id)
        .execution_options(yield_per=1000, populate_existing=True)
    )
    try:
        for event in rows:
            if event.prev_hash != expected_prev or event.compute_hash() != event.hash:
                return None
            expected_prev, last, checked = event.hash, event, checked + 1
    finally:
        rows.close()
    return VerifyResult(
        True,
        checked,
        None,
        checkpoints_checked=checkpoints_checked,
        head_id=last.id,
        head_hash=last.hash,
        from_checkpoint=anchor.sequence,
    )
