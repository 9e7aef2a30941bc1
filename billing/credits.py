"""The buyer's credit balance with a vendor (DESIGN.md section 4, as Stripe's customer
balance): a credit is never lost, it pays the next invoices of that buyer and vendor.

Where credit comes from: an invoice whose total is negative (a downgrade mid-period whose
unused days outweigh the new plan's charge) and a credit note beyond what was left to pay
on the invoice it corrects (a credit note on a paid invoice goes wholly to the balance).

Where it goes: every new invoice of the same buyer and vendor with a positive total takes
as much credit as the balance holds, up to its total, when it is issued (an invoice paid
wholly by credit is paid at once). Voiding an invoice gives its credit back; refunding all
its payments gives it back too (with the vouchers). A refund of a payment of an invoice
whose credit note went to the balance pays that credit out first (as long as the balance
still holds it), so the vendor's share is not taken back twice.

The order on an invoice, so that nothing pays more than the total:

    1. customer credit, when the invoice is issued;
    2. vouchers, on what credit left to pay (billing/voucher_payments.py takes the credit
       off the eligible lines before the subsidy is computed);
    3. card or bank transfer, for the rest.

    amount owed = total - credit applied - vouchers - credit notes (the part of them not
                  moved to the balance) + credit granted from the invoice itself

The balance is the sum of the pair's append-only rows (billing/credit_models.py), never a
counter. Credit is applied under a row lock of the buyer's organization, taken only by
batches in which the buyer has a balance, so two invoices issued at once never apply the
same credit twice; granting and giving back only add to a balance and need no lock.

Ledger: ``customer_credit`` is what the platform owes a buyer as credit (a liability,
``organization_id`` the buyer; the vendor is on the credit rows). A grant moves the amount
from ``buyer_receivable`` (where the negative total left it) into ``customer_credit``; an
application moves it back onto the new invoice's receivable; giving back on a void reverses
the application, on a refund it takes back the vendor's share and the commission instead,
as a refunded payment does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing import ledger
from billing.credit_models import CreditKind, CreditTransaction
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from marketplace.models import Organization

Pair = tuple[int, int]  # (buyer organization id, vendor organization id)


def balance(session: Session, buyer_id: int, vendor_id: int) -> int:
    """The buyer's credit with the vendor now (never negative)."""
    return balances(session, [(buyer_id, vendor_id)]).get((buyer_id, vendor_id), 0)


def balances(session: Session, pairs: Iterable[Pair]) -> dict[Pair, int]:
    """The balances of many pairs in one query; pairs without credit are left out."""
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = session.execute(
        sa.select(
            CreditTransaction.buyer_id,
            CreditTransaction.vendor_id,
            sa.func.sum(CreditTransaction.amount_fen),
        )
        .where(CreditTransaction.buyer_id.in_({b for b, _v in wanted}))
        .where(CreditTransaction.vendor_id.in_({v for _b, v in wanted}))
        .group_by(CreditTransaction.buyer_id, CreditTransaction.vendor_id)
    )
    return {(b, v): int(total) for b, v, total in rows if (b, v) in wanted and total}


def _lock_buyers(session: Session, buyer_ids: set[int]) -> None:
    """Serialize the application of credit per buyer until the transaction ends. FOR NO KEY
    UPDATE: rows that merely refer to the organization (new invoices, audit rows) still go
    in. SQLite has one writer at a time anyway."""
    session.execute(
        sa.select(Organization.id)
        .where(Organization.id.in_(sorted(buyer_ids)))
        .order_by(Organization.id)
        .with_for_update(key_share=True)
    )


def apply_to_new_invoices(
    session: Session, rows: Sequence[dict[str, Any]], grants: Sequence[int]
) -> None:
    """Fill ``credit_applied_fen`` and ``credit_granted_fen`` of invoice rows about to be
    inserted (in order: a credit granted by one row of the batch pays the later ones).
    ``grants`` is what each row gives to the balance."""
    for row, grant in zip(rows, grants, strict=True):
        row["credit_granted_fen"] = grant
        row["credit_applied_fen"] = 0
    payable = {(r["buyer_id"], r["vendor_id"]) for r in rows if r["total_fen"] > 0}
    available = balances(session, payable)
    if any(available.values()):
        _lock_buyers(session, {buyer for buyer, _vendor in available})
        available = balances(session, available)  # as committed by whoever held the lock
    for row in rows:
        pair = (row["buyer_id"], row["vendor_id"])
        left = available.get(pair, 0) + row["credit_granted_fen"]
        applied = min(left, max(row["total_fen"], 0))
        row["credit_applied_fen"] = applied
        available[pair] = left - applied


@dataclass(frozen=True)
class Movement:
    """A credit row to insert with its ledger booking."""

    row: dict[str, Any]
    booking: ledger.Booking


def movements_of_new_invoice(invoice_id: int, row: dict[str, Any], now: datetime) -> list[Movement]:
    """The credit rows and bookings of an invoice row filled by :func:`apply_to_new_invoices`."""
    buyer, vendor, number = row["buyer_id"], row["vendor_id"], row["number"]
    found = []
    if row["credit_granted_fen"]:
        found.append(
            _movement(
                CreditKind.GRANTED,
                row["credit_granted_fen"],
                buyer,
                vendor,
                invoice_id,
                number,
                now,
            )
        )
    if row["credit_applied_fen"]:
        found.append(
            _movement(
                CreditKind.APPLIED,
                -row["credit_applied_fen"],
                buyer,
                vendor,
                invoice_id,
                number,
                now,
            )
        )
    return found


def _movement(
    kind: CreditKind,
    amount_fen: int,
    buyer_id: int,
    vendor_id: int,
    invoice_id: int,
    number: str,
    now: datetime,
    *,
    commission_bp: int | None = None,
) -> Movement:
    row = {
        "buyer_id": buyer_id,
        "vendor_id": vendor_id,
        "kind": kind,
        "amount_fen": amount_fen,
        "invoice_id": invoice_id,
        "created_at": now,
    }
    credit = ledger.Line(ledger.CUSTOMER_CREDIT, -amount_fen, buyer_id)
    if commission_bp is None:
        other = [ledger.Line(ledger.BUYER_RECEIVABLE, amount_fen, buyer_id)]
        name = f"credit.{kind.value}"
    else:  # given back on a refund: the vendor and the platform return what they were paid
        vendor_share, commission = ledger.split_commission(amount_fen, commission_bp)
        other = [
            ledger.Line(ledger.VENDOR_PAYABLE, vendor_share, vendor_id),
            ledger.Line(ledger.PLATFORM_COMMISSION, commission),
        ]
        name = f"credit.{kind.value}.refund"
    booking = ledger.booking(name, [credit, *other], memo=f"{number} credit", invoice_id=invoice_id)
    return Movement(row, booking)


def record(session: Session, movements: Sequence[Movement], *, now: datetime) -> None:
    """Insert credit rows and their ledger bookings (multi-row inserts, for batches)."""
    if not movements:
        return
    session.execute(sa.insert(CreditTransaction.__table__), [m.row for m in movements])
    ledger.insert_many(session, [m.booking for m in movements], now=now)


def give_back(session: Session, invoice: Invoice, *, reason: str, now: datetime) -> int:
    """The credit applied to a voided (``reason="void"``) or wholly refunded (``"refund"``)
    invoice goes back to the balance; returns the amount."""
    amount = invoice.credit_applied_fen
    if amount <= 0:
        return 0
    movement = _movement(
        CreditKind.RESTORED,
        amount,
        invoice.buyer_id,
        invoice.vendor_id,
        invoice.id,
        invoice.number,
        now,
        commission_bp=invoice.commission_bp if reason == "refund" else None,
    )
    record(session, [movement], now=now)
    invoice.credit_applied_fen = 0
    session.flush()
    return amount


def pay_out(session: Session, invoice: Invoice, up_to_fen: int, *, now: datetime) -> int:
    """Part of a refund of ``invoice`` paid from the credit its credit notes put on the
    balance (what the balance still holds of it, at most ``up_to_fen``); the refund books
    it against ``customer_credit``. Returns the amount."""
    granted = sum(
        note.credit_granted_fen
        for note in invoice.corrections
        if note.kind is InvoiceKind.CREDIT_NOTE and note.status is not InvoiceStatus.VOID
    )
    if up_to_fen <= 0 or granted <= 0:
        return 0
    _lock_buyers(session, {invoice.buyer_id})
    paid_out = -int(
        session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(CreditTransaction.amount_fen), 0)).where(
                CreditTransaction.invoice_id == invoice.id,
                CreditTransaction.kind == CreditKind.PAID_OUT,
            )
        )
        or 0
    )
    amount = min(
        up_to_fen, granted - paid_out, balance(session, invoice.buyer_id, invoice.vendor_id)
    )
    if amount <= 0:
        return 0
    session.add(
        CreditTransaction(
            buyer_id=invoice.buyer_id,
            vendor_id=invoice.vendor_id,
            kind=CreditKind.PAID_OUT,
            amount_fen=-amount,
            invoice_id=invoice.id,
            created_at=now,
        )
    )
    session.flush()
    return amount


@dataclass(frozen=True)
class VendorBalance:
    vendor: Organization
    buyer: Organization
    balance_fen: int
    history: list[CreditTransaction]


def statement(
    session: Session, org_id: int, *, as_vendor: bool = False, history: int = 20
) -> list[VendorBalance]:
    """The organization's credit balances, one per counterpart (a buyer's with each vendor,
    or what a vendor's buyers hold with it), each with its latest movements, newest first."""
    mine = CreditTransaction.vendor_id if as_vendor else CreditTransaction.buyer_id
    rows = list(
        session.scalars(
            sa.select(CreditTransaction)
            .where(mine == org_id)
            .options(selectinload(CreditTransaction.invoice))
            .order_by(CreditTransaction.id.desc())
        )
    )
    if not rows:
        return []
    orgs = {
        o.id: o
        for o in session.scalars(
            sa.select(Organization).where(
                Organization.id.in_({r.buyer_id for r in rows} | {r.vendor_id for r in rows})
            )
        )
    }
    grouped: dict[Pair, list[CreditTransaction]] = {}
    for row in rows:
        grouped.setdefault((row.buyer_id, row.vendor_id), []).append(row)
    return [
        VendorBalance(
            vendor=orgs[vendor],
            buyer=orgs[buyer],
            balance_fen=sum(r.amount_fen for r in moves),
            history=moves[:history],
        )
        for (buyer, vendor), moves in sorted(grouped.items())
    ]
