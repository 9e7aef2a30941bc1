"""Effectiveness figures of a program (使用效能): the budget over time, the enterprises
served by industry and district, top vendors, leverage (what enterprises spent per fen of
subsidy) and how many enterprises kept paying after their vouchers ran out."""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.dates import CHINA
from marketplace.db import UTCDateTime
from marketplace.models import Organization
from vouchers.models import Movement, Program, Redemption, RedemptionStatus, Voucher, VoucherStatus

# Billing's invoices, read by name: vouchers never imports billing.
_invoices = sa.table(
    "invoices",
    sa.column("id"),
    sa.column("buyer_id"),
    sa.column("status"),
    sa.column("total_fen"),
    sa.column("paid_at", UTCDateTime()),
)


@dataclass(frozen=True)
class MonthFigures:
    month: str  # "2026-01", China time
    issued_fen: int
    redeemed_fen: int  # net of reversals in the month
    released_fen: int
    # The figures at the month's end.
    reserved_total_fen: int
    redeemed_total_fen: int
    released_total_fen: int


def budget_by_month(session: Session, program: Program) -> list[MonthFigures]:
    """Reserved, redeemed and released month by month, from the movements."""
    rows = session.execute(
        sa.select(
            Movement.kind,
            Movement.reserved_fen,
            Movement.redeemed_fen,
            Movement.released_fen,
            Movement.created_at,
        )
        .where(Movement.program_id == program.id)
        .order_by(Movement.id)
    ).all()
    months: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # issued, Δres, Δred, Δrel
    for kind, reserved, redeemed, released, at in rows:
        figures = months[at.astimezone(CHINA).strftime("%Y-%m")]
        if kind == "issued":
            figures[0] += reserved
        figures[1] += reserved
        figures[2] += redeemed
        figures[3] += released
    result = []
    reserved_total = redeemed_total = released_total = 0
    for month in sorted(months):
        issued, reserved, redeemed, released = months[month]
        reserved_total += reserved
        redeemed_total += redeemed
        released_total += released
        result.append(
            MonthFigures(
                month, issued, redeemed, released, reserved_total, redeemed_total, released_total
            )
        )
    return result


@dataclass(frozen=True)
class Served:
    enterprises: int
    by_industry: list[tuple[str, int]]  # (GB/T 4754 code, enterprises), most first
    by_district: list[tuple[str, int]]  # (GB/T 2260 code, enterprises), most first


def enterprises_served(session: Session, program: Program) -> Served:
    """Enterprises that received a voucher of the program."""
    holders = list(
        session.execute(
            sa.select(Organization.id, Organization.industry_code, Organization.region_code).where(
                Organization.id.in_(
                    sa.select(Voucher.holder_org_id).where(Voucher.program_id == program.id)
                )
            )
        )
    )
    industries = Counter(industry or "" for _id, industry, _region in holders)
    districts = Counter(region for _id, _industry, region in holders)
    return Served(
        len(holders),
        sorted(industries.items(), key=lambda item: (-item[1], item[0])),
        sorted(districts.items(), key=lambda item: (-item[1], item[0])),
    )


@dataclass(frozen=True)
class VendorFigures:
    vendor_id: int
    name: str
    redeemed_fen: int
    buyers: int


def top_vendors(session: Session, program: Program, *, limit: int = 10) -> list[VendorFigures]:
    rows = session.execute(
        sa.select(
            Redemption.vendor_id,
            Organization.name,
            sa.func.sum(Redemption.amount_fen),
            sa.func.count(sa.distinct(Redemption.buyer_id)),
        )
        .join(Organization, Organization.id == Redemption.vendor_id)
        .where(Redemption.program_id == program.id, Redemption.status == RedemptionStatus.ACTIVE)
        .group_by(Redemption.vendor_id, Organization.name)
        .order_by(sa.func.sum(Redemption.amount_fen).desc(), Redemption.vendor_id)
        .limit(limit)
    )
    return [VendorFigures(v, name, int(amount), int(buyers)) for v, name, amount, buyers in rows]


@dataclass(frozen=True)
class Leverage:
    total_spend_fen: int  # what the subsidised invoices came to in all
    subsidy_fen: int

    @property
    def ratio(self) -> Decimal | None:
        """Spend per unit of subsidy, two places: 4.00 means ¥4 spent for each ¥1 given."""
        if not self.subsidy_fen:
            return None
        return (Decimal(self.total_spend_fen) / Decimal(self.subsidy_fen)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )


def leverage(session: Session, program: Program, *, total_spend_fen: int | None = None) -> Leverage:
    """Total spend / subsidy. Without ``total_spend_fen``, the spend is the total of every
    invoice the program subsidised."""
    subsidy = session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Redemption.amount_fen), 0)).where(
            Redemption.program_id == program.id, Redemption.status == RedemptionStatus.ACTIVE
        )
    )
    if total_spend_fen is None:
        subsidised = (
            sa.select(Redemption.invoice_id)
            .where(
                Redemption.program_id == program.id,
                Redemption.status == RedemptionStatus.ACTIVE,
            )
            .distinct()
        )
        total_spend_fen = int(
            session.scalar(
                sa.select(sa.func.coalesce(sa.func.sum(_invoices.c.total_fen), 0)).where(
                    _invoices.c.id.in_(subsidised)
                )
            )
            or 0
        )
    return Leverage(total_spend_fen, int(subsidy or 0))


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later, on the month's last day when it is shorter."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


PaidAfter = Callable[[Session, dict[int, datetime]], set[int]]


def paid_invoices_after(session: Session, since: dict[int, datetime]) -> set[int]:
    """Of these buyers, those with a paid invoice at or after their moment."""
    if not since:
        return set()
    rows = session.execute(
        sa.select(_invoices.c.buyer_id, sa.func.max(_invoices.c.paid_at))
        .where(_invoices.c.buyer_id.in_(since), _invoices.c.status == "paid")
        .group_by(_invoices.c.buyer_id)
    )
    result = set()
    for buyer_id, last_paid in rows:
        if last_paid is not None and last_paid >= since[buyer_id]:
            result.add(buyer_id)
    return result


@dataclass(frozen=True)
class Retention:
    ran_out: int  # enterprises whose vouchers all ended at least `months` ago
    still_paying: int  # ... of which paid an invoice `months` or more after that

    @property
    def rate_bp(self) -> int | None:
        return None if not self.ran_out else self.still_paying * 10_000 // self.ran_out


def still_paying(
    session: Session,
    program: Program,
    *,
    now: datetime,
    months: int = 3,
    paid_after: PaidAfter = paid_invoices_after,
) -> Retention:
    """Enterprises still paying ``months`` after their last voucher of the program ran out
    (spent, expired or revoked) — the subsidy changed a habit, not just one purchase."""
    rows = session.execute(
        sa.select(Voucher.holder_org_id, Voucher.status, Voucher.ended_at).where(
            Voucher.program_id == program.id
        )
    )
    ended: dict[int, datetime] = {}
    usable: set[int] = set()
    for holder, status, ended_at in rows:
        if status is VoucherStatus.ACTIVE or ended_at is None:
            usable.add(holder)
        else:
            ended[holder] = max(ended.get(holder, ended_at), ended_at)
    since = {
        holder: add_months(at, months)
        for holder, at in ended.items()
        if holder not in usable and add_months(at, months) <= now
    }
    return Retention(len(since), len(paid_after(session, since)))
