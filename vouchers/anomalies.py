"""Anomaly rules (DESIGN.md section 5): a scan records each suspicious case once, and the
program's officer reviews it as cleared or confirmed with a note.

Rules:
- related parties: buyer and vendor share a credit code, legal representative, phone,
  e-mail or address as they are now, or a company mail domain or phone number tail;
- quick reversal: an invoice voided or refunded within a few days of its redemption (the
  classic cash-out: pay with the voucher, get the money back another way);
- vendor concentration: one vendor takes more than a share of what the program redeemed;
- split invoices: several invoices between one buyer and one vendor within a short time,
  each subsidised at (or just under) the per-invoice cap;
- no usage: redemptions on pay-after-use contracts for which no usage was ever recorded;
- subsidy over ratio: every redemption, active or reversed, recomputed from its own
  figures: subsidy <= ratio x eligible amount, subsidy <= eligible amount <= invoice total,
  and the eligible amount is the sum of the eligible lines it lists (rows written before
  redemption kept to that, or changed in the database by hand, show up here).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from catalog.models import BillingModel, Plan
from marketplace.db import insert_or_skip
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.models import Organization
from marketplace.money import BASIS_POINTS_PER_UNIT, apply_basis_points
from marketplace.states import transition
from vouchers import access, parties
from vouchers.models import (
    Anomaly,
    AnomalyRule,
    AnomalyStatus,
    Program,
    Redemption,
    RedemptionStatus,
)

# Billing's tables, read by name: vouchers never imports billing.
_contracts = sa.table("contracts", sa.column("id"), sa.column("plan_id"))
_usage_events = sa.table("usage_events", sa.column("contract_id"))
_invoices = sa.table("invoices", sa.column("id"), sa.column("total_fen"))

UsageCheck = Callable[[Session, set[int]], set[int]]


@dataclass(frozen=True)
class AnomalySettings:
    quick_reversal_days: int = 7
    concentration_bp: int = 5000  # a vendor above this share of the program's redeemed
    concentration_min_fen: int = 0  # ... once the program has redeemed at least this much
    split_window_days: int = 7
    split_min_invoices: int = 2
    split_near_cap_bp: int = 9000  # "just under the cap": at least 90 percent of it


@dataclass(frozen=True)
class _Case:
    rule: AnomalyRule
    subject_key: str
    amount_fen: int
    details: dict[str, Any]
    redemption_id: int | None = None
    buyer_id: int | None = None
    vendor_id: int | None = None


def contracts_without_usage(session: Session, contract_ids: set[int]) -> set[int]:
    """Of these contracts, the pay-after-use ones with no usage event at all."""
    if not contract_ids:
        return set()
    metered = set(
        session.scalars(
            sa.select(_contracts.c.id)
            .join(Plan, Plan.id == _contracts.c.plan_id)
            .where(_contracts.c.id.in_(contract_ids), Plan.billing_model == BillingModel.USAGE)
        )
    )
    used = set(
        session.scalars(
            sa.select(_usage_events.c.contract_id)
            .where(_usage_events.c.contract_id.in_(metered))
            .distinct()
        )
    )
    return metered - used


def _related(session: Session, active: list[Redemption]) -> Iterable[_Case]:
    ids = {r.buyer_id for r in active} | {r.vendor_id for r in active}
    orgs = {
        o.id: o for o in session.scalars(sa.select(Organization).where(Organization.id.in_(ids)))
    }
    for r in active:
        reasons = parties.related_party_reasons(orgs[r.buyer_id], orgs[r.vendor_id], loose=True)
        if reasons:
            yield _Case(
                AnomalyRule.RELATED_PARTY,
                f"redemption:{r.id}",
                r.amount_fen,
                {"invoice_id": r.invoice_id, "shared": reasons},
                r.id,
                r.buyer_id,
                r.vendor_id,
            )


def _quick_reversals(rows: list[Redemption], settings: AnomalySettings) -> Iterable[_Case]:
    limit = timedelta(days=settings.quick_reversal_days)
    for r in rows:
        if r.status is RedemptionStatus.REVERSED and r.reversed_at is not None:
            held = r.reversed_at - r.created_at
            if held <= limit:
                yield _Case(
                    AnomalyRule.QUICK_REVERSAL,
                    f"redemption:{r.id}",
                    r.amount_fen,
                    {
                        "invoice_id": r.invoice_id,
                        "reason": r.reversal_reason,
                        "hours": round(held.total_seconds() / 3600, 1),
                    },
                    r.id,
                    r.buyer_id,
                    r.vendor_id,
                )


def _concentration(
    program: Program, active: list[Redemption], settings: AnomalySettings
) -> Iterable[_Case]:
    total = sum(r.amount_fen for r in active)
    if total == 0 or total < settings.concentration_min_fen:
        return
    by_vendor: dict[int, int] = defaultdict(int)
    for r in active:
        by_vendor[r.vendor_id] += r.amount_fen
    for vendor_id, amount in sorted(by_vendor.items()):
        if amount * BASIS_POINTS_PER_UNIT > settings.concentration_bp * total:
            share_bp = amount * BASIS_POINTS_PER_UNIT // total
            yield _Case(
                AnomalyRule.VENDOR_CONCENTRATION,
                f"program:{program.id}:vendor:{vendor_id}",
                amount,
                {"share_bp": share_bp, "program_redeemed_fen": total, "vendors": len(by_vendor)},
                vendor_id=vendor_id,
            )


def _split_invoices(
    program: Program, active: list[Redemption], settings: AnomalySettings
) -> Iterable[_Case]:
    cap = program.invoice_cap_fen
    if cap is None:
        return
    per_invoice: dict[tuple[int, int, int], list[Redemption]] = defaultdict(list)
    for r in active:
        per_invoice[(r.buyer_id, r.vendor_id, r.invoice_id)].append(r)
    near: dict[tuple[int, int], list[tuple[datetime, int, int]]] = defaultdict(list)
    for (buyer_id, vendor_id, invoice_id), rows in per_invoice.items():
        subsidy = sum(r.amount_fen for r in rows)
        if subsidy * BASIS_POINTS_PER_UNIT >= settings.split_near_cap_bp * cap:
            at = min(r.created_at for r in rows)
            near[(buyer_id, vendor_id)].append((at, invoice_id, subsidy))
    window = timedelta(days=settings.split_window_days)
    for (buyer_id, vendor_id), invoices in near.items():
        invoices.sort()
        cluster: list[tuple[datetime, int, int]] = []
        for item in [*invoices, None]:
            if item is not None and (not cluster or item[0] - cluster[-1][0] <= window):
                cluster.append(item)
                continue
            if len(cluster) >= settings.split_min_invoices:
                first = cluster[0][1]
                yield _Case(
                    AnomalyRule.SPLIT_INVOICES,
                    f"program:{program.id}:buyer:{buyer_id}:vendor:{vendor_id}:invoice:{first}",
                    sum(c[2] for c in cluster),
                    {"invoice_ids": [c[1] for c in cluster], "invoice_cap_fen": cap},
                    buyer_id=buyer_id,
                    vendor_id=vendor_id,
                )
            cluster = [item] if item is not None else []


def _no_usage(
    session: Session, program: Program, active: list[Redemption], check: UsageCheck
) -> Iterable[_Case]:
    by_contract: dict[int, list[Redemption]] = defaultdict(list)
    for r in active:
        if r.contract_id is not None:
            by_contract[r.contract_id].append(r)
    for contract_id in sorted(check(session, set(by_contract))):
        rows = by_contract[contract_id]
        yield _Case(
            AnomalyRule.NO_USAGE,
            f"program:{program.id}:contract:{contract_id}",
            sum(r.amount_fen for r in rows),
            {"contract_id": contract_id, "invoice_ids": sorted({r.invoice_id for r in rows})},
            rows[0].id,
            rows[0].buyer_id,
            rows[0].vendor_id,
        )


def invoice_totals(session: Session, invoice_ids: set[int]) -> dict[int, int]:
    if not invoice_ids:
        return {}
    rows = session.execute(
        sa.select(_invoices.c.id, _invoices.c.total_fen).where(_invoices.c.id.in_(invoice_ids))
    )
    return {invoice_id: int(total) for invoice_id, total in rows}


def _over_ratio(session: Session, program: Program, rows: list[Redemption]) -> Iterable[_Case]:
    totals = invoice_totals(session, {r.invoice_id for r in rows})
    for r in rows:
        limit = apply_basis_points(r.eligible_fen, program.ratio_bp)
        lines_fen = sum(int(line["amount_fen"]) for line in r.lines)
        invoice_total = totals.get(r.invoice_id)
        problems = []
        if r.amount_fen > limit:
            problems.append("over_ratio")
        if r.amount_fen > r.eligible_fen:
            problems.append("over_eligible")
        if invoice_total is not None and r.eligible_fen > invoice_total:
            problems.append("eligible_over_invoice")
        if lines_fen != r.eligible_fen:
            problems.append("eligible_not_lines")
        if problems:
            yield _Case(
                AnomalyRule.SUBSIDY_OVER_RATIO,
                f"redemption:{r.id}",
                r.amount_fen,
                {
                    "invoice_id": r.invoice_id,
                    "problems": problems,
                    "eligible_fen": r.eligible_fen,
                    "lines_fen": lines_fen,
                    "ratio_bp": program.ratio_bp,
                    "ratio_limit_fen": limit,
                    "excess_fen": max(0, r.amount_fen - limit),
                    "invoice_total_fen": invoice_total,
                },
                r.id,
                r.buyer_id,
                r.vendor_id,
            )


def scan(
    session: Session,
    program: Program,
    *,
    now: datetime,
    settings: AnomalySettings | None = None,
    usage_check: UsageCheck = contracts_without_usage,
) -> list[Anomaly]:
    """Run every rule over the program's redemptions; returns the cases found for the first
    time (a case already recorded, reviewed or not, is never recorded again)."""
    settings = settings or AnomalySettings()
    rows = list(
        session.scalars(
            sa.select(Redemption).where(Redemption.program_id == program.id).order_by(Redemption.id)
        )
    )
    active = [r for r in rows if r.status is RedemptionStatus.ACTIVE]
    cases = [
        *_related(session, active),
        *_quick_reversals(rows, settings),
        *_concentration(program, active, settings),
        *_split_invoices(program, active, settings),
        *_no_usage(session, program, active, usage_check),
        *_over_ratio(session, program, rows),
    ]
    found = []
    for case in cases:
        statement = (
            insert_or_skip(session, Anomaly.__table__)
            .values(
                program_id=program.id,
                rule=case.rule.value,
                subject_key=case.subject_key,
                redemption_id=case.redemption_id,
                buyer_id=case.buyer_id,
                vendor_id=case.vendor_id,
                amount_fen=case.amount_fen,
                details=case.details,
                status=AnomalyStatus.OPEN.value,
                detected_at=now,
                review_note="",
            )
            .on_conflict_do_nothing()
            .returning(Anomaly.__table__.c.id)
        )
        new_id = session.scalar(statement)
        if new_id is not None:
            anomaly = session.get(Anomaly, new_id)
            assert anomaly is not None
            found.append(anomaly)
            access.record(
                session,
                "voucher_anomaly.detected",
                "voucher_anomaly",
                new_id,
                None,
                program_id=program.id,
                rule=case.rule.value,
                subject_key=case.subject_key,
                amount_fen=case.amount_fen,
            )
    return found


def review(
    session: Session,
    anomaly: Anomaly,
    *,
    actor: Actor,
    status: AnomalyStatus,
    note: str,
    now: datetime,
) -> Anomaly:
    """The officer's finding: cleared (nothing wrong) or confirmed (fraud or error)."""
    program = session.get(Program, anomaly.program_id)
    assert program is not None
    access.require_manager(program, actor)
    if status is AnomalyStatus.OPEN:
        raise DomainError(_l("Mark the case cleared or confirmed."), field="status")
    note = note.strip()
    if not note:
        raise DomainError(_l("Write down what you found."), field="note")
    if anomaly.status is not AnomalyStatus.OPEN:
        raise Conflict(_l("This case has been reviewed already."))
    anomaly.review_note = note
    anomaly.reviewed_by_user_id = actor.user.id
    transition(anomaly, status, actor, now=now, data={"note": note})
    return anomaly


def anomalies_in(
    session: Session, program: Program, *, status: AnomalyStatus | None = None
) -> list[Anomaly]:
    query = sa.select(Anomaly).where(Anomaly.program_id == program.id)
    if status is not None:
        query = query.where(Anomaly.status == status)
    return list(session.scalars(query.order_by(Anomaly.detected_at.desc(), Anomaly.id.desc())))
