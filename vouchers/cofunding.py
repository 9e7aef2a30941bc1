"""Co-funding: a program paid by two or more government organizations in a ratio
(市:区 = 1:1 is weights 1 and 1).

Each redemption of a co-funded program is split between the funders when it is made, by
the largest-remainder rule: every funder first gets ``floor(amount x weight / total
weight)``; the fen left over (fewer than the number of funders) go one each to the funders
with the largest remainders, ties to the funder listed first (the owner, then the others
in the order they were added). The shares sum exactly to the amount and each is within one
fen of the exact ratio. The split is stored (FunderShare), so the ledger books each
funder's part, a reversal takes back exactly those parts, and a settlement's share of each
funder is the sum of its redemptions' shares less its clawbacks': every funder's
``voucher_program_payable`` account comes back to zero once it is settled.

A program with no funder rows is paid by its owner alone. Funders are set while the
program is a draft; its terms are fixed once published.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind
from vouchers import access
from vouchers.models import Program, ProgramStatus, Redemption, Settlement
from vouchers.rules_models import FunderShare, ProgramFunder

MAX_FUNDERS = 5
MAX_WEIGHT = 1000


def split_by_ratio(total_fen: int, weights: Sequence[int]) -> list[int]:
    """``total_fen`` split by ``weights`` (largest remainder, ties to the first listed)."""
    if total_fen < 0:
        raise ValueError("total_fen must not be negative")
    if not weights or any(w <= 0 for w in weights):
        raise ValueError("weights must be positive")
    whole = sum(weights)
    shares = [total_fen * w // whole for w in weights]
    remainders = [total_fen * w % whole for w in weights]
    left = total_fen - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[index] += 1
    return shares


def funders_of(session: Session, program: Program) -> list[ProgramFunder]:
    """The program's funders, the owner first; empty when the owner pays alone."""
    rows = list(
        session.scalars(
            sa.select(ProgramFunder)
            .where(ProgramFunder.program_id == program.id)
            .order_by(ProgramFunder.id)
        )
    )
    return sorted(rows, key=lambda f: (f.organization_id != program.owner_org_id, f.id))


def set_funders(
    session: Session,
    program: Program,
    *,
    actor: Actor,
    funders: Sequence[tuple[int, int]],
) -> list[ProgramFunder]:
    """Set who co-funds a draft program: ``(organization_id, weight)`` pairs, the owner
    among them, every one a government organization; an empty list: the owner alone."""
    access.require_manager(program, actor)
    if program.status is not ProgramStatus.DRAFT:
        raise Conflict(_l("Co-funders are set before the program is published."))
    pairs = [(int(org_id), int(weight)) for org_id, weight in funders]
    if pairs:
        ids = [org_id for org_id, _w in pairs]
        if len(set(ids)) != len(ids):
            raise DomainError(_l("Each organization is listed once."), field="funders")
        if not 2 <= len(pairs) <= MAX_FUNDERS:
            raise DomainError(
                _l("A co-funded program has 2 to %(n)s funders.", n=MAX_FUNDERS), field="funders"
            )
        if program.owner_org_id not in ids:
            raise DomainError(
                _l("The program's own organization is one of its funders."), field="funders"
            )
        if any(not 0 < weight <= MAX_WEIGHT for _id, weight in pairs):
            raise DomainError(
                _l("Each share of the ratio is a whole number from 1 to %(n)s.", n=MAX_WEIGHT),
                field="funders",
            )
        kinds = dict(
            session.execute(
                sa.select(Organization.id, Organization.kind).where(Organization.id.in_(ids))
            ).all()
        )
        if any(kinds.get(org_id) is not OrgKind.GOVERNMENT for org_id in ids):
            raise DomainError(
                _l("Only government organizations co-fund a program."), field="funders"
            )
    session.execute(sa.delete(ProgramFunder).where(ProgramFunder.program_id == program.id))
    rows = [ProgramFunder(program_id=program.id, organization_id=o, weight=w) for o, w in pairs]
    session.add_all(rows)
    session.flush()
    access.record(
        session,
        "voucher_program.funders_set",
        "voucher_program",
        program.id,
        actor,
        funders=[{"organization_id": o, "weight": w} for o, w in pairs],
    )
    return funders_of(session, program)


def split_redemption(session: Session, redemption: Redemption) -> list[FunderShare]:
    """Store the funders' shares of a new redemption (nothing for a single funder)."""
    funders = funders_of(session, redemption.program)
    if not funders:
        return []
    amounts = split_by_ratio(redemption.amount_fen, [f.weight for f in funders])
    rows = [
        FunderShare(redemption_id=redemption.id, organization_id=f.organization_id, amount_fen=a)
        for f, a in zip(funders, amounts, strict=True)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def shares_of(
    session: Session, redemptions: Iterable[Redemption]
) -> dict[int, list[tuple[int, int]]]:
    """Per redemption id, ``[(funder organization id, fen)]``: the stored split, or the
    whole amount on the program's owner."""
    rows = list(redemptions)
    if not rows:
        return {}
    stored: dict[int, list[tuple[int, int]]] = {}
    for share in session.scalars(
        sa.select(FunderShare)
        .where(FunderShare.redemption_id.in_([r.id for r in rows]))
        .order_by(FunderShare.id)
    ):
        stored.setdefault(share.redemption_id, []).append((share.organization_id, share.amount_fen))
    return {r.id: stored.get(r.id) or [(r.program.owner_org_id, r.amount_fen)] for r in rows}


def _sum_by_funder(
    session: Session, redemptions: Iterable[Redemption], sign: int, into: dict[int, int]
) -> None:
    for parts in shares_of(session, redemptions).values():
        for org_id, amount in parts:
            into[org_id] = into.get(org_id, 0) + sign * amount


def settlement_shares(session: Session, settlement: Settlement) -> dict[int, int]:
    """What each funder pays of a settlement batch: its redemptions' shares less the
    shares of the redemptions it takes back. The values sum to the batch's total."""
    redeemed = session.scalars(
        sa.select(Redemption).where(Redemption.settlement_id == settlement.id)
    )
    clawed = session.scalars(
        sa.select(Redemption).where(Redemption.clawback_settlement_id == settlement.id)
    )
    shares: dict[int, int] = {}
    _sum_by_funder(session, redeemed, 1, shares)
    _sum_by_funder(session, clawed, -1, shares)
    return shares


@dataclass(frozen=True)
class FunderFigures:
    """One funder's part of a program: its weight, what it paid on redemptions (net of
    reversals) and what it settled."""

    organization: Organization
    weight: int
    redeemed_fen: int
    settled_fen: int


def figures(session: Session, program: Program) -> list[FunderFigures]:
    """Each funder's share of the program's active redemptions and of its paid batches."""
    from vouchers.models import RedemptionStatus, SettlementStatus

    funders = funders_of(session, program)
    if not funders:
        return []
    active = session.scalars(
        sa.select(Redemption).where(
            Redemption.program_id == program.id, Redemption.status == RedemptionStatus.ACTIVE
        )
    )
    redeemed: dict[int, int] = {}
    _sum_by_funder(session, active, 1, redeemed)
    settled: dict[int, int] = {}
    for settlement in session.scalars(
        sa.select(Settlement).where(
            Settlement.program_id == program.id, Settlement.status == SettlementStatus.PAID
        )
    ):
        for org_id, amount in settlement_shares(session, settlement).items():
            settled[org_id] = settled.get(org_id, 0) + amount
    orgs = {
        o.id: o
        for o in session.scalars(
            sa.select(Organization).where(Organization.id.in_([f.organization_id for f in funders]))
        )
    }
    return [
        FunderFigures(
            orgs[f.organization_id],
            f.weight,
            redeemed.get(f.organization_id, 0),
            settled.get(f.organization_id, 0),
        )
        for f in funders
    ]


def cofunded_programs(session: Session, organization_id: int) -> list[Program]:
    """Programs another organization owns that this one co-funds (its read-only view)."""
    return list(
        session.scalars(
            sa.select(Program)
            .join(ProgramFunder, ProgramFunder.program_id == Program.id)
            .where(
                ProgramFunder.organization_id == organization_id,
                Program.owner_org_id != organization_id,
            )
            .order_by(Program.id.desc())
        )
    )


def is_funder(session: Session, program: Program, organization_id: int) -> bool:
    return (
        session.scalar(
            sa.select(ProgramFunder.id).where(
                ProgramFunder.program_id == program.id,
                ProgramFunder.organization_id == organization_id,
            )
        )
        is not None
    )
