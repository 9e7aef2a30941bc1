"""Vouchers in the enterprise's wallet: issued at approval with a code nobody can guess,
expired by the periodic job, revoked by the program's officer. Every change of a voucher's
split (balance, redeemed, released) appends a :class:`Movement`."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from catalog.models import VoucherKind
from marketplace import audit
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.states import transition
from vouchers import access
from vouchers.models import (
    Application,
    Movement,
    MovementKind,
    Program,
    Voucher,
    VoucherStatus,
)

# Crockford's base32: no I, L, O or U, so a code read aloud or typed is unambiguous.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_GROUPS = 4
CODE_GROUP_LENGTH = 4  # 16 symbols: 80 random bits
CODE_PREFIX = {VoucherKind.CLOUD: "CLD", VoucherKind.COMPUTE: "CMP"}


def new_code(kind: VoucherKind) -> str:
    """E.g. "CLD-7K3M-Q9XT-2B8R-WD4F"; the prefix tells the kind at a glance."""
    groups = [
        "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH))
        for _ in range(CODE_GROUPS)
    ]
    return "-".join([CODE_PREFIX[kind], *groups])


def normalize_code(code: str) -> str:
    """What people type: lower case, spaces, full-width dashes."""
    return "".join(code.split()).upper().replace("－", "-").replace("—", "-")


def move(
    session: Session,
    voucher: Voucher,
    kind: MovementKind,
    *,
    reserved: int = 0,
    redeemed: int = 0,
    released: int = 0,
    now: datetime,
    redemption_id: int | None = None,
) -> Movement:
    """Record a change of the voucher's split; the caller changes the voucher's columns."""
    movement = Movement(
        program_id=voucher.program_id,
        voucher_id=voucher.id,
        redemption_id=redemption_id,
        kind=kind,
        reserved_fen=reserved,
        redeemed_fen=redeemed,
        released_fen=released,
        created_at=now,
    )
    session.add(movement)
    return movement


def issue(
    session: Session,
    program: Program,
    application: Application,
    *,
    actor: Actor | None,
    now: datetime,
) -> Voucher:
    """The voucher of an approved application; reserves its face value from the budget.
    Called by :func:`vouchers.applications.approve` under the program's row lock."""
    assert application.approved_fen is not None
    voucher = Voucher(
        code=new_code(program.kind),
        program_id=program.id,
        application_id=application.id,
        holder_org_id=application.applicant_org_id,
        kind=program.kind,
        face_fen=application.approved_fen,
        balance_fen=application.approved_fen,
        redeemed_fen=0,
        released_fen=0,
        status=VoucherStatus.ACTIVE,
        issued_at=now,
        expires_at=now + timedelta(days=program.validity_days),
    )
    session.add(voucher)
    session.flush()
    move(session, voucher, MovementKind.ISSUED, reserved=voucher.face_fen, now=now)
    session.flush()
    access.record(
        session,
        "voucher.issued",
        "voucher",
        voucher.id,
        actor,
        code=voucher.code,
        program_id=program.id,
        holder_org_id=voucher.holder_org_id,
        face_fen=voucher.face_fen,
        expires_at=voucher.expires_at.isoformat(),
    )
    return voucher


def lock_vouchers(session: Session, voucher_ids: list[int]) -> dict[int, Voucher]:
    """Row locks on the vouchers in id order (two payments naming the same vouchers in a
    different order cannot deadlock), reloaded as they are now."""
    rows = session.scalars(
        sa.select(Voucher)
        .where(Voucher.id.in_(voucher_ids))
        .order_by(Voucher.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {voucher.id: voucher for voucher in rows}


def release_balance(
    session: Session,
    voucher: Voucher,
    status: VoucherStatus,
    *,
    now: datetime,
    actor: Actor | None = None,
    data: dict[str, object] | None = None,
    audit_row: bool = True,
) -> int:
    """End the voucher (expired or revoked) and give its unspent balance back; returns
    the amount released. A voucher ends once, so nothing is released twice. Audited as
    ``voucher.<status>`` with ``data`` and the amount released, unless the caller records
    a batch of them itself (``audit_row=False``)."""
    if not voucher.can_end:
        raise Conflict(_l("This voucher has ended already."))
    released = voucher.balance_fen
    if voucher.status is VoucherStatus.ACTIVE or voucher.ended_at is None:
        voucher.ended_at = now  # a spent voucher ran out when it was spent
    transition(
        voucher,
        status,
        actor,
        now=now,
        data={**(data or {}), "released_fen": released},
        audit_row=audit_row,
    )
    if released:
        voucher.balance_fen = 0
        voucher.released_fen += released
        move(
            session, voucher, MovementKind.RELEASED, reserved=-released, released=released, now=now
        )
    session.flush()
    return released


def revoke(
    session: Session, voucher: Voucher, *, actor: Actor, reason: str, now: datetime
) -> Voucher:
    """The officer withdraws a voucher; what was already paid with it stays paid."""
    access.require_manager(voucher.program, actor)
    reason = reason.strip()
    if not reason:
        raise DomainError(_l("Say why the voucher is revoked."), field="reason")
    voucher = lock_vouchers(session, [voucher.id])[voucher.id]
    if not voucher.can_end:
        raise Conflict(_l("This voucher has ended already."))
    voucher.revoke_reason = reason
    release_balance(
        session, voucher, VoucherStatus.REVOKED, now=now, actor=actor, data={"reason": reason}
    )
    return voucher


def expire_due(session: Session, now: datetime, *, batch_size: int = 500) -> int:
    """Expire every usable voucher whose time is up and release its balance; returns how
    many expired. Safe on two hosts at once: rows another run holds are skipped, and a
    voucher's status is checked again under its lock."""
    expired = 0
    while True:
        rows = session.scalars(
            sa.select(Voucher)
            .where(
                Voucher.status.in_([VoucherStatus.ACTIVE, VoucherStatus.SPENT]),
                Voucher.expires_at <= now,
            )
            .order_by(Voucher.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        ).all()
        if not rows:
            return expired
        entries = []
        for voucher in rows:
            # one audit insert for the batch, below
            released = release_balance(
                session, voucher, VoucherStatus.EXPIRED, now=now, audit_row=False
            )
            entries.append(
                audit.Entry(
                    "voucher.expired", "voucher", voucher.id, data={"released_fen": released}
                )
            )
        audit.record_many(session, entries)
        session.flush()
        expired += len(rows)
        if len(rows) < batch_size:
            return expired


# --- who sees which vouchers ----------------------------------------------------------------


def vouchers_of(session: Session, holder_org_id: int) -> list[Voucher]:
    """An enterprise's wallet: its own vouchers, usable ones first, soonest expiry first."""
    usable_first = sa.case((Voucher.status == VoucherStatus.ACTIVE, 0), else_=1)
    return list(
        session.scalars(
            sa.select(Voucher)
            .where(Voucher.holder_org_id == holder_org_id)
            .order_by(usable_first, Voucher.expires_at, Voucher.id)
        )
    )


def vouchers_in(session: Session, program: Program) -> list[Voucher]:
    return list(
        session.scalars(
            sa.select(Voucher).where(Voucher.program_id == program.id).order_by(Voucher.id)
        )
    )


def find_by_code(session: Session, code: str) -> Voucher | None:
    return session.scalar(sa.select(Voucher).where(Voucher.code == normalize_code(code)))
