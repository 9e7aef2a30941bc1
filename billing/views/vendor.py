"""The vendor's payable balance: what the platform owes it, from the ledger, by invoice."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import g, render_template

from billing import ledger
from billing import payable as payable_split
from billing.ledger_models import LedgerEntry, LedgerTransaction
from billing.models import Invoice
from billing.views.common import bp
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.models import OrgKind

BREAKDOWN_ROWS = 200


@dataclass(frozen=True)
class PayableLine:
    invoice: Invoice
    payable_fen: int  # the vendor's share still booked for this invoice


@bp.get("/payable")
@org_required([OrgKind.VENDOR])
def payable() -> str:
    vendor_id = g.actor.organization.id
    balance = -ledger.balance(db.session, ledger.VENDOR_PAYABLE, vendor_id)
    rows = db.session.execute(
        sa.select(LedgerTransaction.invoice_id, sa.func.sum(LedgerEntry.amount_fen))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(
            LedgerEntry.account == ledger.VENDOR_PAYABLE,
            LedgerEntry.organization_id == vendor_id,
        )
        .group_by(LedgerTransaction.invoice_id)
        .order_by(LedgerTransaction.invoice_id.desc())
        .limit(BREAKDOWN_ROWS)
    ).all()
    ids = [invoice_id for invoice_id, _sum in rows if invoice_id is not None]
    invoices = {i.id: i for i in db.session.scalars(sa.select(Invoice).where(Invoice.id.in_(ids)))}
    lines = [
        PayableLine(invoices[invoice_id], -int(total))
        for invoice_id, total in rows
        if invoice_id in invoices
    ]
    other = balance - sum(line.payable_fen for line in lines)
    return render_template(
        "billing/payable.html",
        balance=balance,
        lines=lines,
        other=other,
        truncated=len(rows) >= BREAKDOWN_ROWS,
        split=payable_split.split(db.session, vendor_id),
    )
