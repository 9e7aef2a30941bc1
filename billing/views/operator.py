"""The platform operator's billing console: find an invoice by number or transfer
reference, record a bank transfer, refund a payment, void an invoice; the ledger and the
platform's commission. Auditors of the platform read everything and change nothing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import stripe
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from billing import invoice_money, ledger, run_errors
from billing import invoices as invoice_rules
from billing.forms import BankTransferForm, RefundForm, VoidForm
from billing.ledger_models import LedgerEntry, LedgerTransaction
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentStatus
from billing.payments import bank_transfers, gateway, refunds
from billing.views.common import OPERATOR, PER_PAGE, bp, page_number
from billing.views.invoices import invoice_document
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import Organization
from marketplace.money import format_fen
from marketplace.states import IllegalTransition
from marketplace.views.accounts import show_error

CONSOLE_FILTERS: dict[str, list[InvoiceStatus]] = {
    "open": [InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE],
    "paid": [InvoiceStatus.PAID],
    "void": [InvoiceStatus.VOID],
}

# The ledger's accounts in words (billing/ledger.py explains their signs).
ACCOUNT_LABELS = {
    ledger.BUYER_RECEIVABLE: lambda: _("Buyer receivables"),
    ledger.VENDOR_PAYABLE: lambda: _("Payable to vendors"),
    ledger.PLATFORM_COMMISSION: lambda: _("Platform commission"),
    ledger.STRIPE_CLEARING: lambda: _("Card payments held at Stripe"),
    ledger.BANK_CLEARING: lambda: _("Bank transfers received"),
    ledger.VOUCHER_PROGRAM_PAYABLE: lambda: _("Payable by voucher programs"),
    ledger.CUSTOMER_CREDIT: lambda: _("Buyers' credit balances"),
}


def account_label(account: str) -> str:
    label = ACCOUNT_LABELS.get(account)
    return label() if label else account


def invoice_search(text: str) -> sa.ColumnElement[bool]:
    """Match an invoice number ("INV-2026-000012", "2026-000012", "12") or a transfer
    reference ("MKTINV2026000012", as buyers write it in the remark), or a buyer's name."""
    text = text.strip()
    compact = text.upper().replace("-", "").replace(" ", "")
    if compact.startswith("MKT"):
        compact = compact[3:]
    conditions = [
        Invoice.number.ilike(f"%{text}%"),
        sa.func.replace(Invoice.number, "-", "").ilike(f"%{compact}%"),
        Invoice.buyer_id.in_(
            sa.select(Organization.id).where(Organization.name.ilike(f"%{text}%"))
        ),
    ]
    return sa.or_(*conditions)


@bp.get("/console")
@org_required(OPERATOR)
def console() -> str:
    q = request.args.get("q", "").strip()[:100]
    status = request.args.get("status", "open")
    if status not in (*CONSOLE_FILTERS, "all"):
        status = "open"
    query = sa.select(Invoice)
    if status != "all":
        query = query.where(Invoice.status.in_(CONSOLE_FILTERS[status]))
    if q:
        query = query.where(invoice_search(q))
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
    receivable = ledger.balance(db.session, ledger.BUYER_RECEIVABLE)
    return render_template(
        "billing/console/invoices.html",
        invoices=rows,
        due={i.id: invoice_rules.amount_due(i) for i in rows},
        q=q,
        status=status,
        total=total,
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        receivable=receivable,
    )


def _load(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def render_console_invoice(
    invoice: Invoice,
    *,
    transfer_form: BankTransferForm | None = None,
    refund_form: RefundForm | None = None,
    refund_payment_id: int | None = None,
    void_form: VoidForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    document = invoice_document(invoice)
    refundable = [
        p
        for p in invoice.payments
        if p.status is PaymentStatus.SUCCEEDED and p.amount_fen > p.refunded_fen
    ]
    return render_template(
        "billing/console/invoice.html",
        **document,
        can_write=g.actor.role.can_write,
        transfer_form=transfer_form or BankTransferForm(formdata=None),
        refund_form=refund_form or RefundForm(formdata=None),
        refund_payment_id=refund_payment_id,
        void_form=void_form or VoidForm(formdata=None),
        refundable=refundable,
        card_refunds=gateway.stripe_client() is not None,
        can_void=invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        and document["amount_paid"] <= 0,
        can_record=invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE),
    ), status


@bp.get("/console/invoices/<int:invoice_id>")
@org_required(OPERATOR)
def console_invoice(invoice_id: int) -> ResponseReturnValue:
    return render_console_invoice(_load(invoice_id))


@bp.post("/console/invoices/<int:invoice_id>/transfers")
@org_required(OPERATOR, write=True)
def record_transfer(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    form = BankTransferForm()
    if form.validate_on_submit():
        assert form.amount.data is not None  # InputRequired
        try:
            with db.session.begin_nested():
                payment = bank_transfers.record_bank_transfer(
                    db.session,
                    invoice,
                    amount_fen=form.amount.data,
                    reference=form.reference.data or "",
                    actor=g.actor,
                    now=utcnow(),
                )
        except DomainError as error:
            show_error(form, error)
        else:
            due = invoice_rules.amount_due(invoice)
            flash(_transfer_message(payment.amount_fen, due), "success")
            return redirect(url_for("billing.console_invoice", invoice_id=invoice.id))
    return render_console_invoice(invoice, transfer_form=form, status=422)


def _transfer_message(amount_fen: int, due_fen: int) -> str:
    amount = format_fen(amount_fen)
    if due_fen > 0:
        return _(
            "%(amount)s recorded. %(due)s is still due.", amount=amount, due=format_fen(due_fen)
        )
    if due_fen < 0:
        return _(
            "%(amount)s recorded. The invoice is paid, with %(credit)s paid too much (a credit for the buyer).",
            amount=amount,
            credit=format_fen(-due_fen),
        )
    return _("%(amount)s recorded. The invoice is paid.", amount=amount)


@bp.post("/console/payments/<int:payment_id>/refund")
@org_required(OPERATOR, write=True)
def refund(payment_id: int) -> ResponseReturnValue:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        abort(404)
    invoice = payment.invoice
    form = RefundForm()
    if form.validate_on_submit():
        assert form.amount.data is not None  # InputRequired
        try:
            # Not in a savepoint: a card refund commits itself, pending, before Stripe is
            # called (and a refusal after); the 422 below rolls back anything else.
            refunds.refund(
                db.session,
                gateway.stripe_client(),
                payment,
                amount_fen=form.amount.data,
                reason=form.reason.data or "",
                actor=g.actor,
                now=utcnow(),
            )
        except DomainError as error:
            show_error(form, error)
        except stripe.StripeError:
            form.form_errors.append(_("Stripe refused the refund; nothing was refunded."))
        else:
            flash(_("Refund recorded."), "success")
            return redirect(url_for("billing.console_invoice", invoice_id=invoice.id))
    return render_console_invoice(
        invoice, refund_form=form, refund_payment_id=payment.id, status=422
    )


@bp.post("/console/invoices/<int:invoice_id>/void")
@org_required(OPERATOR, write=True)
def void(invoice_id: int) -> ResponseReturnValue:
    invoice = _load(invoice_id)
    form = VoidForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                invoice_money.void(
                    db.session,
                    invoice,
                    note=(form.note.data or "").strip(),
                    actor=g.actor,
                    now=utcnow(),
                )
        except IllegalTransition:
            form.form_errors.append(
                _("Only an open invoice on which nothing has been paid can be voided.")
            )
        else:
            flash(_("Invoice %(number)s is void.", number=invoice.number), "info")
            return redirect(url_for("billing.console_invoice", invoice_id=invoice.id))
    return render_console_invoice(invoice, void_form=form, status=422)


# --- the ledger and the commission ------------------------------------------------------------


@bp.get("/console/ledger")
@org_required(OPERATOR)
def ledger_page() -> str:
    page = page_number(request.args.get("page"))
    transactions = list(
        db.session.scalars(
            sa.select(LedgerTransaction)
            .options(selectinload(LedgerTransaction.entries))
            .order_by(LedgerTransaction.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    count = db.session.scalar(sa.select(sa.func.count()).select_from(LedgerTransaction)) or 0
    balances = db.session.execute(
        sa.select(LedgerEntry.account, sa.func.sum(LedgerEntry.amount_fen), sa.func.count())
        .group_by(LedgerEntry.account)
        .order_by(LedgerEntry.account)
    ).all()
    org_ids = {e.organization_id for t in transactions for e in t.entries if e.organization_id}
    names = (
        dict(
            db.session.execute(
                sa.select(Organization.id, Organization.name).where(Organization.id.in_(org_ids))
            ).all()
        )
        if org_ids
        else {}
    )
    invoice_numbers = _invoice_numbers({t.invoice_id for t in transactions if t.invoice_id})
    return render_template(
        "billing/console/ledger.html",
        transactions=transactions,
        balances=[(account, int(total or 0), n) for account, total, n in balances],
        total=sum(int(total or 0) for _a, total, _n in balances),
        unbalanced=ledger.unbalanced_transactions(db.session),
        names=names,
        invoice_numbers=invoice_numbers,
        account_label=account_label,
        page=page,
        pages=max((count + PER_PAGE - 1) // PER_PAGE, 1),
    )


def _invoice_numbers(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        db.session.execute(sa.select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids))).all()
    )


def month_of(column: Any) -> sa.ColumnElement[str]:
    """ "YYYY-MM" of a UTC timestamp in China Standard Time, on SQLite and PostgreSQL."""
    # Constants as literals: PostgreSQL must see the same expression in GROUP BY.
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(
            sa.func.timezone(sa.literal_column("'Asia/Shanghai'"), column),
            sa.literal_column("'YYYY-MM'"),
        )
    return sa.func.strftime(sa.literal_column("'%Y-%m'"), column, sa.literal_column("'+8 hours'"))


@bp.get("/console/commission")
@org_required(OPERATOR)
def commission() -> str:
    month = month_of(LedgerTransaction.created_at).label("month")
    earned = sa.func.sum(sa.case((LedgerEntry.amount_fen < 0, -LedgerEntry.amount_fen), else_=0))
    reversed_ = sa.func.sum(sa.case((LedgerEntry.amount_fen > 0, LedgerEntry.amount_fen), else_=0))
    rows = db.session.execute(
        sa.select(
            month, earned, reversed_, sa.func.count(sa.distinct(LedgerTransaction.invoice_id))
        )
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account == ledger.PLATFORM_COMMISSION)
        .group_by(month)
        .order_by(month.desc())
        .limit(36)
    ).all()
    months = [
        {
            "month": m,
            "earned": int(e or 0),
            "reversed": int(r or 0),
            "net": int(e or 0) - int(r or 0),
            "invoices": n,
        }
        for m, e, r, n in rows
    ]
    return render_template(
        "billing/console/commission.html",
        total=-ledger.balance(db.session, ledger.PLATFORM_COMMISSION),
        months=months,
    )


# --- billing errors ---------------------------------------------------------------------------


@bp.get("/console/billing-errors")
@org_required(OPERATOR)
def billing_errors() -> str:
    """Contracts whose period the billing run could not close (billing/run_errors.py)."""
    return render_template(
        "billing/console/billing_errors.html", errors=run_errors.open_errors(db.session)
    )
