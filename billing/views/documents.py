"""Invoices and monthly statements as PDF files, for the buyer and the vendor (the operator
downloads an invoice's from the console's invoice page through the same route)."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import Response, abort, g
from sqlalchemy.orm import selectinload

from billing import line_words, pdf
from billing.models import Invoice, InvoiceKind
from billing.payment_models import Payment
from billing.views.common import BUYER_OR_VENDOR, bp, load_invoice
from marketplace.auth import org_required
from marketplace.dates import CHINA, day_start
from marketplace.db import db
from marketplace.i18n import current_language
from marketplace.models import Organization, OrgKind


def _pdf(body: bytes, filename: str) -> Response:
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/invoices/<int:invoice_id>.pdf")
@org_required(BUYER_OR_VENDOR)
def invoice_pdf(invoice_id: int) -> Response:
    invoice = load_invoice(invoice_id)
    words = line_words.invoice_words(db.session, invoice, english=current_language() == "en")
    return _pdf(pdf.invoice_pdf(invoice, words), f"{invoice.number}.pdf")


@bp.get("/statements/<int:other_id>/<int:year>-<int:month>.pdf")
@org_required(BUYER_OR_VENDOR)
def statement_pdf(other_id: int, year: int, month: int) -> Response:
    """One buyer's invoices from one vendor issued in a calendar month (China); the reader
    is either side, ``other_id`` the other."""
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        abort(404)
    me = g.actor.organization
    other = db.session.get(Organization, other_id)
    if other is None:
        abort(404)
    as_vendor = g.actor.org_kind is OrgKind.VENDOR
    buyer, vendor = (other, me) if as_vendor else (me, other)
    start = date(year, month, 1)
    end = date(year + month // 12, month % 12 + 1, 1)
    invoices = list(
        db.session.scalars(
            sa.select(Invoice)
            .where(
                Invoice.buyer_id == buyer.id,
                Invoice.vendor_id == vendor.id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.issued_at >= day_start(start),
                Invoice.issued_at < day_start(end),
            )
            .options(selectinload(Invoice.payments).selectinload(Payment.refunds))
            .order_by(Invoice.issued_at, Invoice.id)
        )
    )
    if not invoices:
        abort(404)  # also what another pair of organizations gets: nothing to show
    body = pdf.statement_pdf(buyer, vendor, start, invoices)
    return _pdf(body, f"statement-{vendor.id}-{buyer.id}-{year}-{month:02d}.pdf")


@bp.app_template_filter("china_month")
def china_month(moment: datetime) -> tuple[int, int]:
    """(year, month) of an instant in China: the statement an invoice belongs to."""
    local = moment.astimezone(CHINA)
    return local.year, local.month
