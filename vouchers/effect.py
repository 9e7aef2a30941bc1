"""What a program achieved beyond the money (使用效能): the results its subsidised outcome
contracts measured, summed per KPI; where the subsidy went (district, industry, size class);
and the subsidy redeemed month over month.

An outcome contract (效果付费, DESIGN.md section 4) counts as subsidised by the program
when a voucher of the program paid part of one of its invoices (a redemption still in
force). Its results are the confirmed reports: improvement = measured - baseline for a KPI
that should rise, baseline - measured for one that should fall, floored at 0, with the
operator's adjusted value where a dispute set one. A KPI is its name, unit and direction as
the plan states them, so "月用电量 kWh (lower is better)" of two vendors add up and a KPI
named differently does not.

Billing's tables are read by name: vouchers never imports billing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog.models import Plan
from marketplace.db import UTCDateTime
from marketplace.models import Organization
from vouchers.models import Program, Redemption, RedemptionStatus, Voucher
from vouchers.stats import MonthFigures

_invoices = sa.table("invoices", sa.column("id"), sa.column("contract_id"))
_contracts = sa.table(
    "contracts",
    sa.column("id"),
    sa.column("plan_id"),
    sa.column("buyer_id"),
    sa.column("baseline", sa.Numeric(24, 6)),
)
_reports = sa.table(
    "outcome_reports",
    sa.column("id"),
    sa.column("contract_id"),
    sa.column("period_start", UTCDateTime()),
    sa.column("status"),
    sa.column("measured", sa.Numeric(24, 6)),
    sa.column("billable_measured", sa.Numeric(24, 6)),
)
CONFIRMED = "confirmed"


def _active(program: Program) -> list[sa.ColumnElement[bool]]:
    return [Redemption.program_id == program.id, Redemption.status == RedemptionStatus.ACTIVE]


# --- results of outcome contracts ------------------------------------------------------------


@dataclass(frozen=True)
class KpiOutcome:
    """One KPI's results over the program's subsidised outcome contracts."""

    name: str
    unit: str
    direction: str  # "increase" or "decrease"
    contracts: int
    periods: int  # confirmed reports counted
    improvement: Decimal  # summed over every confirmed period of every contract
    latest_improvement: Decimal  # each contract's latest confirmed period, summed

    @property
    def key(self) -> str:
        return f"{self.name}|{self.unit}|{self.direction}"


def improvement(direction: str, baseline: Decimal, measured: Decimal) -> Decimal:
    """How much better than the baseline, never below zero."""
    change = measured - baseline if direction == "increase" else baseline - measured
    return max(change, Decimal(0))


def subsidised_contracts(program: Program) -> sa.Select[tuple[int]]:
    """Ids of the contracts whose invoices the program's vouchers paid part of."""
    return (
        sa.select(_invoices.c.contract_id)
        .join(Redemption, Redemption.invoice_id == _invoices.c.id)
        .where(*_active(program))
        .distinct()
    )


def outcomes(session: Session, program: Program) -> list[KpiOutcome]:
    """The KPIs of the subsidised outcome contracts with their summed improvement, the
    largest number of contracts first."""
    rows = session.execute(
        sa.select(
            Plan.kpi_name,
            Plan.kpi_unit,
            Plan.direction,
            _contracts.c.id,
            _contracts.c.baseline,
            _reports.c.period_start,
            sa.func.coalesce(_reports.c.billable_measured, _reports.c.measured),
        )
        .select_from(_contracts)
        .join(Plan, Plan.id == _contracts.c.plan_id)
        .join(_reports, _reports.c.contract_id == _contracts.c.id)
        .where(
            _contracts.c.id.in_(subsidised_contracts(program)),
            Plan.billing_model == "outcome",
            _contracts.c.baseline.is_not(None),
            _reports.c.status == CONFIRMED,
        )
        .order_by(_contracts.c.id, _reports.c.period_start)
    ).all()
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    periods: dict[tuple[str, str, str], int] = defaultdict(int)
    latest: dict[tuple[str, str, str], dict[int, Decimal]] = defaultdict(dict)
    for name, unit, direction, contract_id, baseline, _start, measured in rows:
        key = (name or "", unit or "", str(getattr(direction, "value", direction)))
        gained = improvement(key[2], Decimal(baseline), Decimal(measured))
        totals[key] += gained
        periods[key] += 1
        latest[key][contract_id] = gained  # ordered by period: the last one stays
    result = [
        KpiOutcome(
            name,
            unit,
            direction,
            len(latest[(name, unit, direction)]),
            periods[(name, unit, direction)],
            totals[(name, unit, direction)],
            sum(latest[(name, unit, direction)].values(), Decimal(0)),
        )
        for name, unit, direction in totals
    ]
    return sorted(result, key=lambda k: (-k.contracts, k.name, k.unit))


# --- where the subsidy went ------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    code: str  # GB/T 2260 region, GB/T 4754 industry or size class ("" when not given)
    enterprises: int  # that received a voucher of the program
    redeemed_fen: int  # subsidy in force on their invoices


@dataclass(frozen=True)
class Breakdowns:
    by_district: list[Share]
    by_industry: list[Share]
    by_size: list[Share]


def breakdowns(session: Session, program: Program) -> Breakdowns:
    """Enterprises served and subsidy redeemed by district, industry and size class, the
    largest subsidy first."""
    holders = sa.select(Voucher.holder_org_id).where(Voucher.program_id == program.id)
    redeemed = dict(
        session.execute(
            sa.select(Redemption.buyer_id, sa.func.sum(Redemption.amount_fen))
            .where(*_active(program))
            .group_by(Redemption.buyer_id)
        ).all()
    )
    enterprises = session.execute(
        sa.select(
            Organization.id,
            Organization.region_code,
            Organization.industry_code,
            Organization.size_class,
        ).where(sa.or_(Organization.id.in_(holders), Organization.id.in_(list(redeemed))))
    ).all()

    def shares(position: int) -> list[Share]:
        counts: dict[str, int] = defaultdict(int)
        money: dict[str, int] = defaultdict(int)
        for row in enterprises:
            value = row[position]
            code = str(getattr(value, "value", value) or "")
            counts[code] += 1
            money[code] += int(redeemed.get(row[0], 0))
        return sorted(
            (Share(code, counts[code], money[code]) for code in counts),
            key=lambda s: (-s.redeemed_fen, -s.enterprises, s.code),
        )

    return Breakdowns(shares(1), shares(2), shares(3))


# --- month over month ------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthChange:
    month: str
    redeemed_fen: int  # net of reversals in the month
    change_fen: int | None  # against the month before (None for the first month)
    change_bp: int | None  # the same in basis points of the month before (None from zero)


def month_over_month(months: list[MonthFigures]) -> list[MonthChange]:
    result: list[MonthChange] = []
    previous: int | None = None
    for month in months:
        change = None if previous is None else month.redeemed_fen - previous
        change_bp = (
            None if previous in (None, 0) or change is None else change * 10_000 // abs(previous)
        )
        result.append(MonthChange(month.month, month.redeemed_fen, change, change_bp))
        previous = month.redeemed_fen
    return result
