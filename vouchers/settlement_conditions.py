"""Settlement after delivery: what a redemption must show before the program settles it.

A program may require the invoice's fapiao to be issued (a red-letter reversal undoes
that), and/or delivery: the buyer accepted delivery on the contract (验收), or used the
solution at least ``min_days_used`` days since the contract started (PSG pays claims only
after use). When both acceptance and a number of days are set, either one suffices.

A settlement batch (vouchers/settlements.py) takes only the redemptions that qualify on
the day it is drafted and records the others as held back, with the reasons; they stay
unsettled and join a later batch of the same vendor once they qualify. The facts come from
billing's tables, read by name (vouchers never imports billing).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from vouchers import access
from vouchers.models import Program, Redemption, RedemptionStatus
from vouchers.rules_models import SettlementCondition, SettlementHoldback

NO_FAPIAO = "no_fapiao"
NOT_ACCEPTED = "not_accepted"
TOO_FEW_DAYS = "too_few_days"
NOT_DELIVERED = "not_delivered"  # neither accepted nor used long enough (both allowed)

REASONS = {
    NO_FAPIAO: _l("The fapiao is not issued yet"),
    NOT_ACCEPTED: _l("The buyer has not accepted delivery"),
    TOO_FEW_DAYS: _l("Not yet used for the required number of days"),
    NOT_DELIVERED: _l("Neither accepted by the buyer nor used for the required number of days"),
}

# The export files are in Chinese whatever the page language (vouchers/exports.py).
REASONS_ZH = {
    NO_FAPIAO: "发票尚未开具",
    NOT_ACCEPTED: "买方尚未验收",
    TOO_FEW_DAYS: "使用天数未满",
    NOT_DELIVERED: "买方未验收，且使用天数未满",
}

_fapiao = sa.table("fapiao", sa.column("invoice_id"), sa.column("status"))
_acceptances = sa.table("contract_acceptances", sa.column("contract_id"))


def reason_label(code: str) -> str:
    return str(REASONS.get(code, code))


def condition_of(session: Session, program: Program) -> SettlementCondition | None:
    condition = session.get(SettlementCondition, program.id)
    return None if condition is None or condition.is_empty else condition


def set_conditions(
    session: Session,
    program: Program,
    *,
    actor: Actor,
    require_fapiao: bool,
    require_acceptance: bool,
    min_days_used: int | None,
    now: datetime,
) -> SettlementCondition:
    """Set the program's conditions; they apply to every batch drafted from now on."""
    access.require_manager(program, actor)
    if min_days_used is not None and not 0 < min_days_used <= 3650:
        raise DomainError(
            _l("The days of use are a whole number from 1 to 3650."), field="min_days_used"
        )
    condition = session.get(SettlementCondition, program.id)
    if condition is None:
        condition = SettlementCondition(program_id=program.id)
        session.add(condition)
    condition.require_fapiao = bool(require_fapiao)
    condition.require_acceptance = bool(require_acceptance)
    condition.min_days_used = min_days_used
    condition.updated_by_user_id = actor.user.id
    condition.updated_at = now
    session.flush()
    access.record(
        session,
        "voucher_program.settlement_conditions_set",
        "voucher_program",
        program.id,
        actor,
        require_fapiao=condition.require_fapiao,
        require_acceptance=condition.require_acceptance,
        min_days_used=min_days_used,
    )
    return condition


def _contract_facts(
    session: Session, contract_ids: set[int]
) -> tuple[dict[int, datetime], set[int]]:
    if not contract_ids:
        return {}, set()
    from marketplace.db import UTCDateTime

    anchors = sa.table("contracts", sa.column("id"), sa.column("anchor_at", UTCDateTime()))
    started = dict(
        session.execute(
            sa.select(anchors.c.id, anchors.c.anchor_at).where(anchors.c.id.in_(contract_ids))
        ).all()
    )
    accepted = set(
        session.scalars(
            sa.select(_acceptances.c.contract_id).where(
                _acceptances.c.contract_id.in_(contract_ids)
            )
        )
    )
    return started, accepted


def holdback_reasons(
    session: Session,
    condition: SettlementCondition | None,
    redemptions: Iterable[Redemption],
    *,
    now: datetime,
) -> dict[int, list[str]]:
    """Per redemption id, why it may not be settled yet (an empty list: it qualifies)."""
    rows = list(redemptions)
    if condition is None or condition.is_empty:
        return {r.id: [] for r in rows}
    issued: set[int] = set()
    if condition.require_fapiao and rows:
        issued = set(
            session.scalars(
                sa.select(_fapiao.c.invoice_id).where(
                    _fapiao.c.invoice_id.in_({r.invoice_id for r in rows}),
                    _fapiao.c.status == "issued",
                )
            )
        )
    started: dict[int, datetime] = {}
    accepted: set[int] = set()
    if condition.requires_delivery:
        started, accepted = _contract_facts(
            session, {r.contract_id for r in rows if r.contract_id is not None}
        )
    found: dict[int, list[str]] = {}
    for r in rows:
        reasons = []
        if condition.require_fapiao and r.invoice_id not in issued:
            reasons.append(NO_FAPIAO)
        if condition.requires_delivery:
            is_accepted = r.contract_id in accepted
            days = condition.min_days_used
            start = started.get(r.contract_id) if r.contract_id is not None else None
            used_enough = (
                days is not None and start is not None and now >= start + timedelta(days=days)
            )
            if condition.require_acceptance and days is not None:
                if not (is_accepted or used_enough):
                    reasons.append(NOT_DELIVERED)
            elif condition.require_acceptance and not is_accepted:
                reasons.append(NOT_ACCEPTED)
            elif days is not None and not used_enough:
                reasons.append(TOO_FEW_DAYS)
        found[r.id] = reasons
    return found


def waiting(
    session: Session, program: Program, *, now: datetime
) -> list[tuple[Redemption, list[str]]]:
    """The program's unsettled redemptions that do not qualify yet, oldest first, with
    why: what the officer sees before drafting a batch."""
    condition = condition_of(session, program)
    if condition is None:
        return []
    rows = list(
        session.scalars(
            sa.select(Redemption)
            .where(
                Redemption.program_id == program.id,
                Redemption.status == RedemptionStatus.ACTIVE,
                Redemption.settlement_id.is_(None),
            )
            .order_by(Redemption.created_at, Redemption.id)
        )
    )
    reasons = holdback_reasons(session, condition, rows, now=now)
    return [(r, reasons[r.id]) for r in rows if reasons[r.id]]


def holdbacks_of(
    session: Session, settlement_ids: Iterable[int]
) -> dict[int, list[SettlementHoldback]]:
    """Per settlement batch, the redemptions it held back."""
    ids = set(settlement_ids)
    if not ids:
        return {}
    found: dict[int, list[SettlementHoldback]] = {}
    for row in session.scalars(
        sa.select(SettlementHoldback)
        .where(SettlementHoldback.settlement_id.in_(ids))
        .order_by(SettlementHoldback.id)
    ):
        found.setdefault(row.settlement_id, []).append(row)
    return found
