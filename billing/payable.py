"""The vendor's payable balance split the way a vendor reads it, consistent with the ledger.

The balance is what the ledger's ``vendor_payable`` account holds for the vendor: its share
(net of the platform's commission) of every invoice issued, less refunds and less what
voucher programs paid it directly. It splits into three parts that add up to it exactly:

- 券补贴结算中 (voucher share awaiting settlement): the vouchers redeemed on its invoices
  that no program has paid yet. A program pays this gross, straight to the vendor, and the
  platform then owes that much less (``voucher.settled``).
- 待收 (invoices open): the vendor's share of what buyers still owe on open invoices.
- 已收 (received): the rest, what buyers paid, net of the commission on the whole invoice
  (the voucher part's commission included, as the program pays the voucher part gross).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing import invoices as invoice_rules
from billing import ledger, overdue
from billing.ledger_models import LedgerEntry, LedgerTransaction
from billing.models import Invoice, InvoiceKind, InvoiceStatus


@dataclass(frozen=True)
class LedgerKindTotal:
    kind: str  # the ledger transaction's kind: "invoice.issued", "voucher.settled", ...
    count: int
    payable_fen: int  # what these entries added to the vendor's payable balance


@dataclass(frozen=True)
class PayableSplit:
    balance_fen: int
    received_fen: int
    open_fen: int
    voucher_pending_fen: int
    by_kind: list[LedgerKindTotal]


def split(session: Session, vendor_id: int) -> PayableSplit:
    by_kind = [
        LedgerKindTotal(kind, count, -int(total))
        for kind, count, total in session.execute(
            sa.select(
                LedgerTransaction.kind,
                sa.func.count(LedgerEntry.id),
                sa.func.sum(LedgerEntry.amount_fen),
            )
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(
                LedgerEntry.account == ledger.VENDOR_PAYABLE,
                LedgerEntry.organization_id == vendor_id,
            )
            .group_by(LedgerTransaction.kind)
            .order_by(LedgerTransaction.kind)
        )
    ]
    balance = sum(row.payable_fen for row in by_kind)
    settled = -sum(row.payable_fen for row in by_kind if row.kind == "voucher.settled")
    redeemed = session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(Invoice.voucher_fen), 0)).where(
            Invoice.vendor_id == vendor_id, Invoice.status != InvoiceStatus.VOID
        )
    ).scalar_one()
    voucher_pending = int(redeemed) - settled
    owed = session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.vendor_id == vendor_id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status.in_(overdue.OWED),
        )
        .options(selectinload(Invoice.payments), selectinload(Invoice.corrections))
    )
    open_fen = 0
    for invoice in owed:
        due = invoice_rules.amount_due(invoice)
        if due > 0:
            open_fen += ledger.split_commission(due, invoice.commission_bp)[0]
    return PayableSplit(
        balance_fen=balance,
        received_fen=balance - open_fen - voucher_pending,
        open_fen=open_fen,
        voucher_pending_fen=voucher_pending,
        by_kind=by_kind,
    )
