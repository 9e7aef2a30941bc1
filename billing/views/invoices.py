"""Invoices as pages: the list (open, paid, void) and the printable invoice, for the buyer
and the vendor. The operator sees the same document in the billing console."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import abort, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import selectinload

from billing import credits, line_words
from billing import invoices as invoice_rules
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentStatus
from billing.views.common import BUYER_OR_VENDOR, PER_PAGE, bp, load_invoice, page_number
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.i18n import current_language
from marketplace.models import OrgKind

# The list's filters: what a person means by "open" includes invoices written off as
# uncollectible, which can still be paid.
STATUS_FILTERS: dict[str, list[InvoiceStatus]] = {
    "open": [InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE],
    "paid": [InvoiceStatus.PAID],
    "void": [InvoiceStatus.VOID],
}


@dataclass(frozen=True)
class VatGroup:
    rate_bp: int
    net_fen: int
    tax_fen: int

    @property
    def gross_fen(self) -> int:
        return self.net_fen + self.tax_fen


def vat_groups(invoice: Invoice) -> list[VatGroup]:
    """Net amount and VAT per rate, as a fapiao shows them; they add up to the totals."""
    groups: dict[int, list[int]] = {}
    for line in invoice.lines:
        net_tax = groups.setdefault(line.vat_rate_bp, [0, 0])
        net_tax[0] += line.amount_fen - line.tax_fen
        net_tax[1] += line.tax_fen
    return [VatGroup(rate, net, tax) for rate, (net, tax) in sorted(groups.items())]


def invoice_document(invoice: Invoice) -> dict[str, Any]:
    """Everything the printable invoice shows (shared by buyer, vendor and operator pages)."""
    payments = list(invoice.payments)
    return {
        "invoice": invoice,
        "vat_groups": vat_groups(invoice),
        "amount_paid": invoice_rules.amount_paid(invoice),
        "amount_due": invoice_rules.amount_due(invoice),
        "payments": payments,
        "refunds": [r for p in payments for r in p.refunds],
        "received": [p for p in payments if p.status is PaymentStatus.SUCCEEDED],
        "is_payable": is_payable(invoice),
        "line_words": line_words.invoice_words(
            db.session, invoice, english=current_language() == "en"
        ),
    }


def is_payable(invoice: Invoice) -> bool:
    return (
        invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        and invoice_rules.amount_due(invoice) > 0
    )


@bp.get("/invoices")
@org_required(BUYER_OR_VENDOR)
def invoices() -> str:
    org_id = g.actor.organization.id
    as_vendor = g.actor.org_kind is OrgKind.VENDOR
    query = sa.select(Invoice).where(
        (Invoice.vendor_id if as_vendor else Invoice.buyer_id) == org_id
    )
    status = request.args.get("status", "")
    if status in STATUS_FILTERS:
        query = query.where(Invoice.status.in_(STATUS_FILTERS[status]))
    else:
        status = ""
    counts = dict(
        db.session.execute(
            sa.select(Invoice.status, sa.func.count())
            .where((Invoice.vendor_id if as_vendor else Invoice.buyer_id) == org_id)
            .group_by(Invoice.status)
        ).all()
    )
    page = page_number(request.args.get("page"))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = list(
        db.session.scalars(
            query.options(
                selectinload(Invoice.payments).selectinload(Payment.refunds),
                selectinload(Invoice.buyer),
                selectinload(Invoice.vendor),
            )
            .order_by(Invoice.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    return render_template(
        "billing/invoices.html",
        invoices=rows,
        due={i.id: invoice_rules.amount_due(i) for i in rows},
        status=status,
        counts={
            name: sum(counts.get(s, 0) for s in statuses)
            for name, statuses in STATUS_FILTERS.items()
        },
        all_count=sum(counts.values()),
        as_vendor=as_vendor,
        credit_balances=credits.statement(db.session, org_id, as_vendor=as_vendor),
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
    )


@bp.get("/invoices/<int:invoice_id>")
@org_required()
def invoice(invoice_id: int) -> ResponseReturnValue:
    if g.actor.org_kind is OrgKind.PLATFORM:
        return redirect(url_for("billing.console_invoice", invoice_id=invoice_id))
    if g.actor.org_kind not in BUYER_OR_VENDOR:
        abort(403)
    found = load_invoice(invoice_id)
    return render_template(
        "billing/invoice.html",
        is_buyer=found.buyer_id == g.actor.organization.id,
        **invoice_document(found),
    )
