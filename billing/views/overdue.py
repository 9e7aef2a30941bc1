"""The operator's overdue invoices: still owed after their due day (billing/overdue.py counts
the days in China), longest overdue or largest amount first, one vendor at a time."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import render_template, request
from sqlalchemy.orm import selectinload

from billing import invoices as invoice_rules
from billing import overdue
from billing.models import Invoice, InvoiceKind
from billing.views.common import OPERATOR, bp
from marketplace.auth import org_required
from marketplace.dates import day_start
from marketplace.db import db, utcnow
from marketplace.models import Organization

LIMIT = 500
SORTS = ("days", "amount")


@bp.get("/console/overdue")
@org_required(OPERATOR)
def overdue_invoices() -> str:
    now = utcnow()
    sort = request.args.get("sort", "days")
    if sort not in SORTS:
        sort = "days"
    vendor_id = request.args.get("vendor", type=int)
    # Due before today's China midnight: at least one day overdue.
    late = sa.and_(
        Invoice.kind == InvoiceKind.INVOICE,
        Invoice.status.in_(overdue.OWED),
        Invoice.due_at.is_not(None),
        Invoice.due_at < day_start(overdue.china_today(now)),
    )
    vendors = db.session.execute(
        sa.select(Organization.id, Organization.name)
        .where(Organization.id.in_(sa.select(Invoice.vendor_id).where(late)))
        .order_by(Organization.name)
    ).all()
    query = sa.select(Invoice).where(late)
    if vendor_id:
        query = query.where(Invoice.vendor_id == vendor_id)
    invoices = db.session.scalars(
        query.options(
            selectinload(Invoice.payments),
            selectinload(Invoice.buyer),
            selectinload(Invoice.vendor),
            selectinload(Invoice.corrections),
        )
        .order_by(Invoice.due_at)
        .limit(LIMIT)
    ).all()
    rows: list[dict[str, Any]] = []
    for invoice in invoices:
        days = overdue.overdue_days(invoice, now)
        due = invoice_rules.amount_due(invoice)
        if days and due > 0:
            rows.append({"invoice": invoice, "days": days, "due": due})
    key = "days" if sort == "days" else "due"
    rows.sort(key=lambda row: (row[key], row["invoice"].id), reverse=True)
    return render_template(
        "billing/console/overdue.html",
        rows=rows,
        total=sum(row["due"] for row in rows),
        sort=sort,
        vendors=vendors,
        vendor_id=vendor_id,
    )
