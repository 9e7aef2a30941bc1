"""Paying part of an invoice with vouchers, and reversing that when the invoice is voided
or refunded.

Billing passes plain facts about the invoice (its id, the buyer, and one
:class:`EligibleLine` per line); vouchers never reads billing's tables here. For each chosen
voucher, in the buyer's order, the subsidy is

    min(balance, ratio x eligible amount, per-invoice cap, eligible amount still unpaid)

where the ratio and the cap count what the same program already paid on the invoice, and a
line is eligible when its solution accepts the voucher's kind, its vendor is in the
program's pool (any verified vendor when the pool is empty) and the vendor is not a related
party of the buyer. The invoice's row and the voucher rows are locked for the whole
payment (in that order, as billing locks them), so concurrent payments can never spend more
than a balance, and two payments on one invoice see each other's subsidies.

Programs stacked on one invoice (vouchers/stacking.py) add two rules: a program whose
stacking rule does not list another program involved refuses, and the subsidies of all
programs on the invoice stay within the strictest combined cap of those involved. A
co-funded program's redemption is split between its funders as it is made
(vouchers/cofunding.py).

A redemption (one voucher, one vendor) records as its eligible amount the sum of every
eligible line of that vendor, whether or not the subsidy reached the line, and lists each
of those lines; its subsidy never passes ratio x that eligible amount, so the figures an
officer sees add up on every row (the anomaly scan re-checks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization
from marketplace.money import apply_basis_points
from marketplace.states import transition
from vouchers import cofunding, parties, settlements, stacking, wallet
from vouchers.models import (
    MovementKind,
    Program,
    Redemption,
    RedemptionStatus,
    Voucher,
    VoucherStatus,
)
from vouchers.rules_models import StackingRule

FIELD = "vouchers"  # the pay form's and the API's name for the chosen codes


@dataclass(frozen=True, kw_only=True)
class EligibleLine:
    """One invoice line as billing sees it."""

    line_id: int | None = None
    solution_id: int
    vendor_id: int
    amount_fen: int  # tax-inclusive; lines of zero or less are never subsidised
    voucher_kinds: Sequence[str]  # the kinds the line's solution accepts


@dataclass(frozen=True)
class LineShare:
    line: str  # the line's key: its id, or "#<position>" without one
    solution_id: int
    vendor_id: int
    eligible_fen: int
    subsidy_fen: int


@dataclass
class VoucherQuote:
    code: str
    subsidy_fen: int = 0
    problem: str | None = None  # why this voucher pays nothing (quote only)
    shares: list[LineShare] = field(default_factory=list)
    voucher: Voucher | None = None


@dataclass
class Quote:
    items: list[VoucherQuote]
    # The most each voucher paid in any order tried (best_quote): a voucher left out only
    # because another one pays more can still be chosen instead of it.
    alternatives: dict[str, int] = field(default_factory=dict)

    def could_pay(self, code: str) -> bool:
        return self.alternatives.get(code, 0) > 0 or any(
            item.code == code and item.subsidy_fen > 0 for item in self.items
        )

    @property
    def total_fen(self) -> int:
        return sum(item.subsidy_fen for item in self.items)


@dataclass
class RedemptionResult:
    redemptions: list[Redemption]

    @property
    def total_fen(self) -> int:
        return sum(r.amount_fen for r in self.redemptions)


@dataclass
class ReversalResult:
    reversed: list[Redemption]
    restored_fen: int = 0  # back on vouchers still usable
    released_fen: int = 0  # back to the budget: the voucher ended meanwhile

    @property
    def total_fen(self) -> int:
        return self.restored_fen + self.released_fen


class VoucherRefused(DomainError):
    """One chosen voucher cannot pay this invoice; ``reason`` is a stable code."""

    def __init__(self, message: object, *, reason: str) -> None:
        super().__init__(message, field=FIELD, code=f"voucher_{reason}")
        self.reason = reason


def _key(line: EligibleLine, position: int) -> str:
    return str(line.line_id) if line.line_id is not None else f"#{position}"


@dataclass
class _Invoice:
    """What the plan for one invoice keeps track of while it walks the vouchers."""

    buyer: Organization
    lines: list[tuple[str, EligibleLine]]
    vendors: dict[int, Organization]
    paid_by_line: dict[str, int]  # subsidy already on each line
    paid_by_program: dict[int, int]  # subsidy already paid by each program
    paid_by_program_vendor: dict[tuple[int, int], int]  # ... on each vendor's lines
    # The eligible amount each program found on each vendor's lines (for combined caps).
    eligible_by_program_vendor: dict[tuple[int, int], int] = field(default_factory=dict)
    rules: dict[int, StackingRule] = field(default_factory=dict)  # stacking, by program
    program_names: dict[int, str] = field(default_factory=dict)

    def eligible_of(self, program_id: int) -> int:
        return sum(
            amount
            for (program, _vendor), amount in self.eligible_by_program_vendor.items()
            if program == program_id
        )


def _context(
    session: Session,
    buyer_id: int,
    lines: Sequence[EligibleLine],
    prior: Sequence[Redemption] = (),
    rules: dict[int, StackingRule] | None = None,
) -> _Invoice:
    keyed = [(_key(line, i), line) for i, line in enumerate(lines) if line.amount_fen > 0]
    ids = {line.vendor_id for _key_, line in keyed} | {buyer_id}
    orgs = {
        o.id: o for o in session.scalars(sa.select(Organization).where(Organization.id.in_(ids)))
    }
    buyer = orgs.get(buyer_id)
    if buyer is None:
        raise DomainError(_l("Unknown buyer."), field="buyer_id")
    paid_by_line: dict[str, int] = {}
    paid_by_program: dict[int, int] = {}
    paid_by_program_vendor: dict[tuple[int, int], int] = {}
    eligible: dict[tuple[int, int], int] = {}
    names: dict[int, str] = {}
    for redemption in prior:
        names[redemption.program_id] = redemption.program.name
        pair = (redemption.program_id, redemption.vendor_id)
        eligible[pair] = max(eligible.get(pair, 0), redemption.eligible_fen)
        paid_by_program[redemption.program_id] = (
            paid_by_program.get(redemption.program_id, 0) + redemption.amount_fen
        )
        pair = (redemption.program_id, redemption.vendor_id)
        paid_by_program_vendor[pair] = paid_by_program_vendor.get(pair, 0) + redemption.amount_fen
        for share in redemption.lines:
            paid_by_line[share["line"]] = paid_by_line.get(share["line"], 0) + share["subsidy_fen"]
    return _Invoice(
        buyer,
        keyed,
        orgs,
        paid_by_line,
        paid_by_program,
        paid_by_program_vendor,
        eligible,
        rules or {},
        names,
    )


def _vendor_in_pool(program: Program, vendor: Organization) -> bool:
    if program.vendor_whitelist:
        return vendor.id in program.vendor_whitelist
    return vendor.is_verified


def _vendor_room(
    invoice: _Invoice, program: Program, vendor_id: int, rows: list[tuple[str, EligibleLine]]
) -> int:
    """What the program may still pay on one vendor's eligible lines: what is unpaid on
    them, and no more than the ratio of their total (with one vendor, as on every invoice,
    that is the program's ratio limit itself), so each redemption row adds up."""
    unpaid = sum(max(0, line.amount_fen - invoice.paid_by_line.get(k, 0)) for k, line in rows)
    by_ratio = apply_basis_points(sum(line.amount_fen for _k, line in rows), program.ratio_bp)
    already = invoice.paid_by_program_vendor.get((program.id, vendor_id), 0)
    return max(0, min(unpaid, by_ratio - already))


def _plan_voucher(invoice: _Invoice, voucher: Voucher, now: datetime) -> VoucherQuote:
    """The subsidy of one voucher, or VoucherRefused saying why it pays nothing."""
    program = voucher.program
    if voucher.holder_org_id != invoice.buyer.id:
        raise NotAllowed(
            _l("Voucher %(code)s belongs to another organization.", code=voucher.code), field=FIELD
        )
    if voucher.status is VoucherStatus.REVOKED:
        raise VoucherRefused(
            _l("Voucher %(code)s has been revoked.", code=voucher.code), reason="revoked"
        )
    if voucher.status is VoucherStatus.EXPIRED or voucher.expires_at <= now:
        raise VoucherRefused(
            _l("Voucher %(code)s has expired.", code=voucher.code), reason="expired"
        )
    if voucher.status is VoucherStatus.SPENT or voucher.balance_fen <= 0:
        raise VoucherRefused(_l("Voucher %(code)s is used up.", code=voucher.code), reason="spent")
    kind_lines = [
        (k, line) for k, line in invoice.lines if voucher.kind.value in line.voucher_kinds
    ]
    if not kind_lines:
        raise VoucherRefused(
            _l(
                "Voucher %(code)s (%(kind)s) cannot pay for any line of this invoice: no "
                "solution on it accepts this kind of voucher.",
                code=voucher.code,
                kind=voucher.kind.label,
            ),
            reason="wrong_kind",
        )
    pool_lines = [
        (k, line)
        for k, line in kind_lines
        if _vendor_in_pool(program, invoice.vendors[line.vendor_id])
    ]
    if not pool_lines:
        raise VoucherRefused(
            _l(
                "The vendor is not in the service provider pool of voucher %(code)s's program.",
                code=voucher.code,
            ),
            reason="vendor_not_in_pool",
        )
    eligible = [
        (k, line)
        for k, line in pool_lines
        if not parties.are_related(invoice.buyer, invoice.vendors[line.vendor_id])
    ]
    if not eligible:
        raise VoucherRefused(
            _l(
                "Vouchers cannot pay a vendor related to the buyer (same credit code, legal "
                "representative, phone, e-mail or address)."
            ),
            reason="related_party",
        )
    by_vendor: dict[int, list[tuple[str, EligibleLine]]] = {}
    for k, line in eligible:
        by_vendor.setdefault(line.vendor_id, []).append((k, line))
    room_by_vendor = {
        vendor_id: _vendor_room(invoice, program, vendor_id, rows)
        for vendor_id, rows in by_vendor.items()
    }
    already = invoice.paid_by_program.get(program.id, 0)
    eligible_total = sum(line.amount_fen for _k, line in eligible)
    limits = [
        voucher.balance_fen,
        apply_basis_points(eligible_total, program.ratio_bp) - already,
        sum(room_by_vendor.values()),  # within the eligible amount still unpaid
    ]
    if program.invoice_cap_fen is not None:
        limits.append(program.invoice_cap_fen - already)
    stacked_room = _stacking_room(invoice, program, eligible_total)
    subsidy = max(0, min(limits))
    if subsidy == 0:
        raise VoucherRefused(
            _l("Voucher %(code)s has nothing left to pay on this invoice.", code=voucher.code),
            reason="nothing_eligible",
        )
    if stacked_room is not None and stacked_room < subsidy:
        subsidy = stacked_room
        if subsidy == 0:
            raise VoucherRefused(
                _l(
                    "The programs on this invoice together have paid all they may "
                    "(combined cap); voucher %(code)s cannot add to it.",
                    code=voucher.code,
                ),
                reason="stacking_cap",
            )
    shares = []
    left = subsidy
    for vendor_id, rows in by_vendor.items():
        vendor_left = min(room_by_vendor[vendor_id], left)
        if not vendor_left:
            continue
        left -= vendor_left
        # Every eligible line of the vendor is listed, those the subsidy did not reach with
        # zero: the redemption's eligible amount is the sum of its eligible lines.
        for k, line in rows:
            part = min(max(0, line.amount_fen - invoice.paid_by_line.get(k, 0)), vendor_left)
            vendor_left -= part
            shares.append(LineShare(k, line.solution_id, line.vendor_id, line.amount_fen, part))
    return VoucherQuote(voucher.code, subsidy, None, shares, voucher)


def _stacking_room(invoice: _Invoice, program: Program, eligible_total: int) -> int | None:
    """Refuse a program that may not stack with one already on the invoice; else what
    all programs may still pay together under the combined caps (None: no cap)."""
    invoice.program_names.setdefault(program.id, program.name)
    involved = [p for p, paid in invoice.paid_by_program.items() if paid > 0]
    clash = stacking.refusal(invoice.rules, involved, program.id)
    if clash is not None:
        holder, other = clash
        raise VoucherRefused(
            _l(
                "%(program)s does not allow stacking with %(other)s on one invoice.",
                program=invoice.program_names.get(holder, holder),
                other=invoice.program_names.get(other, other),
            ),
            reason="not_stackable",
        )
    eligible = {p: invoice.eligible_of(p) for p in involved}
    eligible[program.id] = max(eligible.get(program.id, 0), eligible_total)
    rules = {p: rule for p, rule in invoice.rules.items() if p in eligible}
    return stacking.combined_room(rules, eligible, sum(invoice.paid_by_program.values()))


def _book(invoice: _Invoice, planned: VoucherQuote) -> None:
    """Count a planned subsidy as paid, for the vouchers after it."""
    assert planned.voucher is not None
    program_id = planned.voucher.program_id
    invoice.paid_by_program[program_id] = (
        invoice.paid_by_program.get(program_id, 0) + planned.subsidy_fen
    )
    eligible: dict[int, int] = {}
    for share in planned.shares:
        eligible[share.vendor_id] = eligible.get(share.vendor_id, 0) + share.eligible_fen
    for vendor_id, amount in eligible.items():
        pair = (program_id, vendor_id)
        invoice.eligible_by_program_vendor[pair] = max(
            invoice.eligible_by_program_vendor.get(pair, 0), amount
        )
    for share in planned.shares:
        pair = (program_id, share.vendor_id)
        invoice.paid_by_program_vendor[pair] = (
            invoice.paid_by_program_vendor.get(pair, 0) + share.subsidy_fen
        )
        invoice.paid_by_line[share.line] = (
            invoice.paid_by_line.get(share.line, 0) + share.subsidy_fen
        )


def _codes(codes: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(wallet.normalize_code(code) for code in codes if code.strip()))


def _find(session: Session, codes: list[str]) -> dict[str, Voucher]:
    found = {v.code: v for v in session.scalars(sa.select(Voucher).where(Voucher.code.in_(codes)))}
    for code in codes:
        if code not in found:
            raise VoucherRefused(
                _l("No voucher has the code %(code)s.", code=code), reason="unknown"
            )
    return found


# Billing's invoices, locked by name: vouchers never imports billing.
_invoices = sa.table("invoices", sa.column("id"))


def _lock_invoice(session: Session, invoice_id: int) -> None:
    """Serialize payments on one invoice (billing's pay path holds this lock already),
    so the subsidies of programs stacked on it are read after any racing payment's."""
    session.execute(
        sa.select(_invoices.c.id).where(_invoices.c.id == invoice_id).with_for_update()
    ).first()


def active_redemptions(session: Session, invoice_id: int) -> list[Redemption]:
    return list(
        session.scalars(
            sa.select(Redemption)
            .where(
                Redemption.invoice_id == invoice_id,
                Redemption.status == RedemptionStatus.ACTIVE,
            )
            .order_by(Redemption.id)
            .execution_options(populate_existing=True)
        )
    )


def quote(
    session: Session,
    *,
    buyer_id: int,
    lines: Sequence[EligibleLine],
    codes: Sequence[str],
    now: datetime,
    invoice_id: int | None = None,
) -> Quote:
    """What the vouchers would pay, without writing anything ("costs ¥X after your
    voucher"). A voucher that cannot pay is listed with its problem and zero."""
    codes = _codes(codes)
    prior = active_redemptions(session, invoice_id) if invoice_id is not None else []
    found = {v.code: v for v in session.scalars(sa.select(Voucher).where(Voucher.code.in_(codes)))}
    rules = stacking.rules_for(
        session, {r.program_id for r in prior} | {v.program_id for v in found.values()}
    )
    invoice = _context(session, buyer_id, lines, prior, rules)
    items = []
    for code in codes:
        voucher = found.get(code)
        if voucher is None or voucher.holder_org_id != buyer_id:
            # Another organization's code reads as unknown: a quote confirms nothing.
            items.append(
                VoucherQuote(code, problem=str(_l("No voucher has the code %(code)s.", code=code)))
            )
            continue
        try:
            planned = _plan_voucher(invoice, voucher, now)
        except DomainError as refusal:
            items.append(VoucherQuote(code, problem=str(refusal.message), voucher=voucher))
            continue
        _book(invoice, planned)
        items.append(planned)
    return Quote(items)


# The pay page tries each of the buyer's vouchers first; a buyer holds a handful.
BEST_QUOTE_TRIES = 12


def best_quote(
    session: Session,
    *,
    buyer_id: int,
    lines: Sequence[EligibleLine],
    codes: Sequence[str],
    now: datetime,
    invoice_id: int | None = None,
) -> Quote:
    """The default choice of a pay page: the order of the buyer's vouchers that pays the
    most. Vouchers of programs that may not share an invoice exclude each other, so taking
    them in expiry order alone could offer the smaller subsidy: each voucher is tried first
    (the others after it in the given order) and the largest total wins; on a tie, the
    given order (soonest expiry first)."""
    codes = _codes(codes)
    best: Quote | None = None
    alternatives: dict[str, int] = {}
    for index, first in enumerate(codes[:BEST_QUOTE_TRIES] or [None]):
        order = codes if first is None or index == 0 else [first, *(c for c in codes if c != first)]
        tried = quote(
            session, buyer_id=buyer_id, lines=lines, codes=order, now=now, invoice_id=invoice_id
        )
        for item in tried.items:
            alternatives[item.code] = max(alternatives.get(item.code, 0), item.subsidy_fen)
        if best is None or tried.total_fen > best.total_fen:
            best = tried
    assert best is not None
    best.alternatives = alternatives
    return best


def usable_codes(session: Session, buyer_id: int, now: datetime) -> list[str]:
    """The buyer's usable vouchers, soonest expiry first: the default choice on a pay page."""
    return list(
        session.scalars(
            sa.select(Voucher.code)
            .where(
                Voucher.holder_org_id == buyer_id,
                Voucher.status == VoucherStatus.ACTIVE,
                Voucher.expires_at > now,
                Voucher.balance_fen > 0,
            )
            .order_by(Voucher.expires_at, Voucher.id)
        )
    )


def redeem(
    session: Session,
    *,
    invoice_id: int,
    buyer_id: int,
    lines: Sequence[EligibleLine],
    codes: Sequence[str],
    now: datetime,
    contract_id: int | None = None,
    actor: Actor | None = None,
) -> RedemptionResult:
    """Pay part of the invoice with the chosen vouchers, all or nothing: any voucher that
    cannot pay refuses the whole payment with a clear error. Returns one redemption per
    voucher and vendor. The caller (billing) books the ledger and lowers the amount due."""
    codes = _codes(codes)
    if not codes:
        return RedemptionResult([])
    found = _find(session, codes)
    _lock_invoice(session, invoice_id)
    locked = wallet.lock_vouchers(session, [v.id for v in found.values()])
    prior = active_redemptions(session, invoice_id)
    used_here = {r.voucher_id for r in prior}
    rules = stacking.rules_for(
        session, {r.program_id for r in prior} | {v.program_id for v in locked.values()}
    )
    invoice = _context(session, buyer_id, lines, prior, rules)
    planned = []
    for code in codes:
        voucher = locked[found[code].id]
        if voucher.id in used_here:
            raise Conflict(
                _l("Voucher %(code)s already pays part of this invoice.", code=code), field=FIELD
            )
        item = _plan_voucher(invoice, voucher, now)
        _book(invoice, item)
        planned.append(item)

    redemptions = []
    for item in planned:
        assert item.voucher is not None
        voucher = item.voucher
        by_vendor: dict[int, list[LineShare]] = {}
        for share in item.shares:
            by_vendor.setdefault(share.vendor_id, []).append(share)
        for vendor_id, shares in by_vendor.items():
            amount = sum(s.subsidy_fen for s in shares)
            redemption = Redemption(
                invoice_id=invoice_id,
                contract_id=contract_id,
                voucher_id=voucher.id,
                program_id=voucher.program_id,
                buyer_id=buyer_id,
                vendor_id=vendor_id,
                amount_fen=amount,
                eligible_fen=sum(s.eligible_fen for s in shares),
                lines=[
                    {
                        "line": s.line,
                        "solution_id": s.solution_id,
                        "amount_fen": s.eligible_fen,
                        "subsidy_fen": s.subsidy_fen,
                    }
                    for s in shares
                ],
                status=RedemptionStatus.ACTIVE,
                created_at=now,
            )
            session.add(redemption)
            session.flush()
            cofunding.split_redemption(session, redemption)
            voucher.balance_fen -= amount
            voucher.redeemed_fen += amount
            wallet.move(
                session,
                voucher,
                MovementKind.REDEEMED,
                reserved=-amount,
                redeemed=amount,
                now=now,
                redemption_id=redemption.id,
            )
            redemptions.append(redemption)
        if voucher.balance_fen == 0:
            # recorded by the voucher.redeemed rows below
            transition(voucher, VoucherStatus.SPENT, actor, now=now, audit_row=False)
            voucher.ended_at = now
        session.flush()
    audit.record_many(
        session,
        [
            audit.Entry(
                "voucher.redeemed",
                "voucher_redemption",
                r.id,
                user_id=actor.user.id if actor else None,
                org_id=actor.organization.id if actor else None,
                data={
                    "invoice_id": invoice_id,
                    "voucher_id": r.voucher_id,
                    "program_id": r.program_id,
                    "vendor_id": r.vendor_id,
                    "amount_fen": r.amount_fen,
                    "eligible_fen": r.eligible_fen,
                },
            )
            for r in redemptions
        ],
    )
    session.flush()
    return RedemptionResult(redemptions)


def reverse_invoice(
    session: Session,
    *,
    invoice_id: int,
    reason: str,
    now: datetime,
    actor: Actor | None = None,
) -> ReversalResult:
    """Undo every redemption of a voided or refunded invoice: the balance comes back to a
    voucher still usable, or goes back to the budget when the voucher has ended. Running
    it again finds nothing left to reverse."""
    current = active_redemptions(session, invoice_id)
    if not current:
        return ReversalResult([])
    vouchers = wallet.lock_vouchers(session, sorted({r.voucher_id for r in current}))
    result = ReversalResult([])
    for redemption in active_redemptions(session, invoice_id):  # as they are under the locks
        voucher = (
            vouchers.get(redemption.voucher_id)
            or wallet.lock_vouchers(session, [redemption.voucher_id])[redemption.voucher_id]
        )
        amount = redemption.amount_fen
        redemption.reversal_reason = reason[:30]
        voucher.redeemed_fen -= amount
        if voucher.status in (VoucherStatus.EXPIRED, VoucherStatus.REVOKED):
            voucher.released_fen += amount
            wallet.move(
                session,
                voucher,
                MovementKind.REVERSED_RELEASED,
                redeemed=-amount,
                released=amount,
                now=now,
                redemption_id=redemption.id,
            )
            result.released_fen += amount
        else:
            voucher.balance_fen += amount
            wallet.move(
                session,
                voucher,
                MovementKind.RESTORED,
                redeemed=-amount,
                reserved=amount,
                now=now,
                redemption_id=redemption.id,
            )
            if voucher.status is VoucherStatus.SPENT:
                # recorded by the reversal (its voucher_status)
                transition(voucher, VoucherStatus.ACTIVE, actor, now=now, audit_row=False)
                voucher.ended_at = None
            result.restored_fen += amount
        session.flush()
        settlements.on_reversal(session, redemption)
        transition(
            redemption,
            RedemptionStatus.REVERSED,
            actor,
            now=now,
            reason=reason,
            data={
                "invoice_id": invoice_id,
                "amount_fen": amount,
                "voucher_status": voucher.status.value,
            },
        )
        result.reversed.append(redemption)
    # A voucher whose time ran out while it was spent ends now, with what came back.
    for voucher in vouchers.values():
        if voucher.status is VoucherStatus.ACTIVE and voucher.expires_at <= now:
            released = wallet.release_balance(session, voucher, VoucherStatus.EXPIRED, now=now)
            result.restored_fen -= released
            result.released_fen += released
    session.flush()
    return result


# --- who sees which redemptions -------------------------------------------------------------


def redemptions_in(
    session: Session, program: Program, *, status: RedemptionStatus | None = None
) -> list[Redemption]:
    """An officer's view of a program's redemptions, newest first."""
    query = sa.select(Redemption).where(Redemption.program_id == program.id)
    if status is not None:
        query = query.where(Redemption.status == status)
    return list(session.scalars(query.order_by(Redemption.created_at.desc(), Redemption.id.desc())))


def redemptions_for_vendor(session: Session, vendor_id: int) -> list[Redemption]:
    """A vendor sees the redemptions on its own invoices only."""
    return list(
        session.scalars(
            sa.select(Redemption)
            .where(Redemption.vendor_id == vendor_id)
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        )
    )


def redemptions_of_buyer(session: Session, buyer_id: int) -> list[Redemption]:
    return list(
        session.scalars(
            sa.select(Redemption)
            .where(Redemption.buyer_id == buyer_id)
            .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        )
    )


def redemptions_on_invoice(session: Session, invoice_id: int) -> list[Redemption]:
    return list(
        session.scalars(
            sa.select(Redemption).where(Redemption.invoice_id == invoice_id).order_by(Redemption.id)
        )
    )
