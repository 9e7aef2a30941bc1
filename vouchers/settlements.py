"""Settlement with vendors: the vendor receives the buyer's share through the payment and
the voucher's share from the program. The officer gathers a vendor's unsettled redemptions
of a period into a batch (draft), approves it, and records the bank payment. A redemption
is in at most one batch; one reversed after its batch was approved is taken back
(clawback) in the vendor's next batch.

A program with settlement conditions (vouchers/settlement_conditions.py: fapiao issued,
delivery accepted or days of use) settles only the redemptions that meet them when the
batch is drafted; the batch records the others as held back, with why. Those stay
unsettled, and a later batch of the vendor takes them once they qualify: for such a
program a batch gathers every unsettled redemption made before the period's end, not only
those made within it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import dates
from marketplace.db import rows_changed
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.states import transition
from vouchers import access, settlement_conditions, signals
from vouchers.models import (
    Program,
    Redemption,
    RedemptionStatus,
    Settlement,
    SettlementStatus,
)
from vouchers.rules_models import SettlementHoldback

_SETTLED = (SettlementStatus.APPROVED, SettlementStatus.PAID)


def _unsettled(program_id: int, vendor_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        Redemption.program_id == program_id,
        Redemption.vendor_id == vendor_id,
        Redemption.status == RedemptionStatus.ACTIVE,
        Redemption.settlement_id.is_(None),
    )


def _clawbacks_due(program_id: int, vendor_id: int) -> sa.ColumnElement[bool]:
    """Reversed after their batch was approved, and not yet taken back."""
    settled_batches = sa.select(Settlement.id).where(Settlement.status.in_(_SETTLED))
    return sa.and_(
        Redemption.program_id == program_id,
        Redemption.vendor_id == vendor_id,
        Redemption.status == RedemptionStatus.REVERSED,
        Redemption.settlement_id.in_(settled_batches),
        Redemption.clawback_settlement_id.is_(None),
    )


def create_settlement(
    session: Session,
    program: Program,
    *,
    actor: Actor,
    vendor_id: int,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> Settlement:
    """A draft batch of the vendor's unsettled redemptions made in [period_start,
    period_end), less any clawbacks due."""
    access.require_manager(program, actor)
    for field_name, moment in (("period_start", period_start), ("period_end", period_end)):
        if not dates.moment_in_range(moment):
            raise DomainError(dates.OUT_OF_RANGE_MOMENT, field=field_name)
    if period_end <= period_start:
        raise DomainError(_l("The period must end after it starts."), field="period_end")
    condition = settlement_conditions.condition_of(session, program)
    in_period = sa.and_(
        _unsettled(program.id, vendor_id),
        # Held back before: joins the first batch after it qualifies.
        sa.true() if condition is not None else Redemption.created_at >= period_start,
        Redemption.created_at < period_end,
    )
    candidates = list(
        session.scalars(sa.select(Redemption).where(in_period).order_by(Redemption.id))
    )
    reasons = settlement_conditions.holdback_reasons(session, condition, candidates, now=now)
    redeemed_ids = [r.id for r in candidates if not reasons[r.id]]
    held_back = [(r.id, reasons[r.id]) for r in candidates if reasons[r.id]]
    clawback_ids = list(
        session.scalars(sa.select(Redemption.id).where(_clawbacks_due(program.id, vendor_id)))
    )
    redeemed = _sum(session, redeemed_ids)
    clawback = _sum(session, clawback_ids)
    if not redeemed_ids or redeemed - clawback <= 0:
        if held_back:
            raise Conflict(
                _l(
                    "Nothing can be settled yet: %(n)s redemptions of this vendor do not meet "
                    "the program's settlement conditions (listed under 'Held back').",
                    n=len(held_back),
                )
            )
        raise Conflict(_l("Nothing is owed to this vendor for this period."))
    settlement = Settlement(
        program_id=program.id,
        vendor_id=vendor_id,
        period_start=period_start,
        period_end=period_end,
        status=SettlementStatus.DRAFT,
        redeemed_fen=redeemed,
        clawback_fen=clawback,
        total_fen=redeemed - clawback,
        created_by_user_id=actor.user.id,
        created_at=now,
    )
    session.add(settlement)
    session.flush()
    # Claimed only while still free: a batch made at the same moment claims none twice
    # (PostgreSQL re-checks the WHERE clause on rows another transaction just changed).
    claimed = rows_changed(
        session,
        sa.update(Redemption)
        .where(Redemption.id.in_(redeemed_ids), Redemption.settlement_id.is_(None))
        .values(settlement_id=settlement.id)
        .execution_options(synchronize_session=False),
    )
    clawed = rows_changed(
        session,
        sa.update(Redemption)
        .where(Redemption.id.in_(clawback_ids), Redemption.clawback_settlement_id.is_(None))
        .values(clawback_settlement_id=settlement.id)
        .execution_options(synchronize_session=False),
    )
    if claimed != len(redeemed_ids) or clawed != len(clawback_ids):
        raise Conflict(_l("Another batch took some of these redemptions; try again."))
    session.add_all(
        SettlementHoldback(settlement_id=settlement.id, redemption_id=rid, reasons=why)
        for rid, why in held_back
    )
    session.flush()
    session.expire_all()
    access.record(
        session,
        "voucher_settlement.created",
        "voucher_settlement",
        settlement.id,
        actor,
        program_id=program.id,
        vendor_id=vendor_id,
        period_start=period_start.isoformat(),
        period_end=period_end.isoformat(),
        redemption_ids=redeemed_ids,
        clawback_ids=clawback_ids,
        held_back={str(rid): why for rid, why in held_back},
        total_fen=settlement.total_fen,
    )
    return settlement


def _sum(session: Session, ids: list[int]) -> int:
    if not ids:
        return 0
    return int(
        session.execute(
            sa.select(sa.func.sum(Redemption.amount_fen)).where(Redemption.id.in_(ids))
        ).scalar_one()
    )


def _lock(session: Session, settlement: Settlement) -> Settlement:
    return session.scalars(
        sa.select(Settlement)
        .where(Settlement.id == settlement.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def approve_settlement(
    session: Session, settlement: Settlement, *, actor: Actor, now: datetime
) -> Settlement:
    access.require_manager(settlement.program, actor)
    settlement = _lock(session, settlement)
    if not settlement.can_approve:
        raise Conflict(_l("This batch is approved already."))
    settlement.approved_by_user_id = actor.user.id
    transition(
        settlement,
        SettlementStatus.APPROVED,
        actor,
        now=now,
        data={"total_fen": settlement.total_fen},
    )
    return settlement


def mark_paid(
    session: Session,
    settlement: Settlement,
    *,
    actor: Actor,
    bank_reference: str,
    now: datetime,
) -> Settlement:
    access.require_manager(settlement.program, actor)
    reference = bank_reference.strip()
    if not reference or len(reference) > 100:
        raise DomainError(_l("Enter the bank transfer's reference."), field="bank_reference")
    settlement = _lock(session, settlement)
    if settlement.status is SettlementStatus.DRAFT:
        raise Conflict(_l("Approve the batch before recording its payment."))
    if not settlement.can_record_payment:
        raise Conflict(_l("This batch is paid already."))
    settlement.bank_reference = reference
    settlement.paid_by_user_id = actor.user.id
    transition(
        settlement,
        SettlementStatus.PAID,
        actor,
        now=now,
        data={"total_fen": settlement.total_fen, "bank_reference": reference},
    )
    signals.settlement_paid.send(settlement, session=session, now=now)
    return settlement


def on_reversal(session: Session, redemption: Redemption) -> None:
    """A reversed redemption leaves a draft batch at once (which then owes less, or is
    dropped when nothing is left); from an approved batch it is clawed back later."""
    if redemption.settlement_id is None:
        return
    settlement = session.get(Settlement, redemption.settlement_id)
    assert settlement is not None
    if settlement.status is not SettlementStatus.DRAFT:
        return
    settlement = _lock(session, settlement)
    redemption.settlement_id = None
    session.flush()
    redeemed_ids = list(
        session.scalars(sa.select(Redemption.id).where(Redemption.settlement_id == settlement.id))
    )
    redeemed = _sum(session, redeemed_ids)
    if redeemed - settlement.clawback_fen <= 0:
        session.execute(
            sa.update(Redemption)
            .where(Redemption.clawback_settlement_id == settlement.id)
            .values(clawback_settlement_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            sa.update(Redemption)
            .where(Redemption.settlement_id == settlement.id)
            .values(settlement_id=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            sa.delete(SettlementHoldback).where(SettlementHoldback.settlement_id == settlement.id)
        )
        session.delete(settlement)
        session.flush()
        access.record(
            session,
            "voucher_settlement.dropped",
            "voucher_settlement",
            settlement.id,
            None,
            reason="redemptions reversed",
        )
        return
    settlement.redeemed_fen = redeemed
    settlement.total_fen = redeemed - settlement.clawback_fen
    session.flush()
    access.record(
        session,
        "voucher_settlement.reduced",
        "voucher_settlement",
        settlement.id,
        None,
        redemption_id=redemption.id,
        total_fen=settlement.total_fen,
    )


# --- who sees what --------------------------------------------------------------------------


def settlements_in(session: Session, program: Program) -> list[Settlement]:
    return list(
        session.scalars(
            sa.select(Settlement)
            .where(Settlement.program_id == program.id)
            .order_by(Settlement.created_at.desc(), Settlement.id.desc())
        )
    )


def settlements_for_vendor(session: Session, vendor_id: int) -> list[Settlement]:
    return list(
        session.scalars(
            sa.select(Settlement)
            .where(Settlement.vendor_id == vendor_id)
            .order_by(Settlement.created_at.desc(), Settlement.id.desc())
        )
    )


@dataclass(frozen=True)
class VendorAccount:
    """What one program owes one vendor, and what it has paid."""

    program_id: int
    unsettled_fen: int  # redeemed, in no batch yet
    in_batches_fen: int  # in draft or approved batches, not yet paid
    paid_fen: int
    clawback_due_fen: int  # reversed after settlement, to be deducted

    @property
    def owed_fen(self) -> int:
        return self.unsettled_fen + self.in_batches_fen - self.clawback_due_fen


def vendor_accounts(session: Session, vendor_id: int) -> list[VendorAccount]:
    """For the vendor's console: per program, what is owed and what was paid."""
    unsettled = dict(
        session.execute(
            sa.select(Redemption.program_id, sa.func.sum(Redemption.amount_fen))
            .where(
                Redemption.vendor_id == vendor_id,
                Redemption.status == RedemptionStatus.ACTIVE,
                Redemption.settlement_id.is_(None),
            )
            .group_by(Redemption.program_id)
        ).all()
    )
    batches: dict[int, dict[SettlementStatus, int]] = {}
    for program_id, status, total in session.execute(
        sa.select(Settlement.program_id, Settlement.status, sa.func.sum(Settlement.total_fen))
        .where(Settlement.vendor_id == vendor_id)
        .group_by(Settlement.program_id, Settlement.status)
    ):
        batches.setdefault(program_id, {})[status] = int(total)
    settled_batches = sa.select(Settlement.id).where(Settlement.status.in_(_SETTLED))
    clawbacks = dict(
        session.execute(
            sa.select(Redemption.program_id, sa.func.sum(Redemption.amount_fen))
            .where(
                Redemption.vendor_id == vendor_id,
                Redemption.status == RedemptionStatus.REVERSED,
                Redemption.settlement_id.in_(settled_batches),
                Redemption.clawback_settlement_id.is_(None),
            )
            .group_by(Redemption.program_id)
        ).all()
    )
    program_ids = sorted(set(unsettled) | set(batches) | set(clawbacks))
    return [
        VendorAccount(
            program_id=pid,
            unsettled_fen=int(unsettled.get(pid, 0)),
            in_batches_fen=batches.get(pid, {}).get(SettlementStatus.DRAFT, 0)
            + batches.get(pid, {}).get(SettlementStatus.APPROVED, 0),
            paid_fen=batches.get(pid, {}).get(SettlementStatus.PAID, 0),
            clawback_due_fen=int(clawbacks.get(pid, 0)),
        )
        for pid in program_ids
    ]
