"""The platform operator's billing console actions as JSON endpoints (issue 14): record a
bank transfer, refund a payment, void an invoice, correct an invoiced outcome report with a
credit note, list outcome reports, read the ledger's balances and trial balance, and import a
bank statement. Each calls the service its console button calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
import stripe
from flask_babel import gettext as _
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from billing import bank_statements, invoice_money, ledger_reports
from billing.api.schemas import InvoiceOut
from billing.bank_statement_models import LineStatus
from billing.models import Invoice
from billing.outcomes import corrections
from billing.outcomes.api import ReportOut
from billing.outcomes.models import OutcomeReport, ReportStatus
from billing.payment_models import Payment
from billing.payments import bank_transfers, gateway, refunds
from billing.statement_files import MAX_BYTES as STATEMENT_MAX_BYTES
from marketplace.api_fields import state
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.jsonapi import (
    ApiError,
    ErrorSchema,
    Fen,
    current_actor,
    row_id,
    service_call,
    token_required,
)
from marketplace.models import OrgKind
from marketplace.states import IllegalTransition

blp = Blueprint(
    "operator_api",
    __name__,
    url_prefix="/api/v1",
    description="Platform operator: payments, voids, outcome corrections, the ledger",
)
OPERATOR = [OrgKind.PLATFORM]


class BankTransferIn(ma.Schema):
    amount_fen = Fen(required=True)
    reference = ma.fields.String(
        required=True,
        validate=ma.validate.Length(max=100),
        metadata={"description": "the bank's transaction reference"},
    )


class RefundIn(ma.Schema):
    amount_fen = Fen(required=True)
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class VoidIn(ma.Schema):
    note = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=500))


class CorrectionIn(ma.Schema):
    corrected = ma.fields.Decimal(
        required=True,
        places=6,
        as_string=True,
        metadata={"description": "the measured value that should have been invoiced"},
    )
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class ReportListArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in ReportStatus]))
    contract_id = row_id()
    invoiced = ma.fields.Boolean(metadata={"description": "only those on an invoice"})


class AccountBalanceOut(ma.Schema):
    account = ma.fields.String(required=True)
    organization_id = ma.fields.Integer(allow_none=True, required=True)
    balance_fen = ma.fields.Integer(required=True, metadata={"description": "debits minus credits"})
    entries = ma.fields.Integer(required=True)


class BalanceArgs(ma.Schema):
    account = ma.fields.String(validate=ma.validate.Length(max=40))
    organization_id = row_id()


class BalancesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AccountBalanceOut), required=True)


class TrialRowOut(ma.Schema):
    account = ma.fields.String(required=True)
    debit_fen = ma.fields.Integer(required=True)
    credit_fen = ma.fields.Integer(required=True)
    balance_fen = ma.fields.Integer(required=True)


class TrialBalanceOut(ma.Schema):
    accounts = ma.fields.List(ma.fields.Nested(TrialRowOut), required=True)
    debit_fen = ma.fields.Integer(required=True)
    credit_fen = ma.fields.Integer(required=True)
    balanced = ma.fields.Boolean(required=True)
    unbalanced_transactions = ma.fields.List(ma.fields.Integer(), required=True)


def _invoice(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        raise ApiError(404, _("No such invoice."))
    return invoice


@blp.post("/invoices/<int:invoice_id>/bank-transfers")
@token_required(OPERATOR, write=True)
@blp.arguments(BankTransferIn)
@blp.response(201, InvoiceOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def record_transfer(body: dict[str, Any], invoice_id: int) -> Invoice:
    """Record a bank transfer (对公转账) received for the invoice; answers the invoice."""
    invoice = _invoice(invoice_id)
    with service_call():
        bank_transfers.record_bank_transfer(
            db.session,
            invoice,
            amount_fen=body["amount_fen"],
            reference=body["reference"],
            actor=current_actor(),
            now=utcnow(),
        )
    return invoice


@blp.post("/payments/<int:payment_id>/refunds")
@token_required(OPERATOR, write=True)
@blp.arguments(RefundIn)
@blp.response(201, InvoiceOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
@blp.alt_response(503, schema=ErrorSchema)
def refund_payment(body: dict[str, Any], payment_id: int) -> Invoice:
    """Give back (part of) a payment; card payments through Stripe. Answers the invoice."""
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise ApiError(404, _("No such payment."))
    try:
        # Not in service_call's savepoint: a card refund commits itself, pending, before
        # Stripe is called (and a refusal after); the boundary rolls back anything else.
        refunds.refund(
            db.session,
            gateway.stripe_client(),
            payment,
            amount_fen=body["amount_fen"],
            reason=body["reason"],
            actor=current_actor(),
            now=utcnow(),
        )
    except DomainError as error:
        raise ApiError(
            error.status, str(error.message), code=error.code, fields=error.fields
        ) from error
    except stripe.StripeError as exc:
        raise ApiError(503, _("Stripe refused the refund; nothing was refunded.")) from exc
    return payment.invoice


@blp.post("/invoices/<int:invoice_id>/void")
@token_required(OPERATOR, write=True)
@blp.arguments(VoidIn)
@blp.response(200, InvoiceOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def void_invoice(body: dict[str, Any], invoice_id: int) -> Invoice:
    """Cancel an open invoice on which nothing has been paid; its booking is reversed."""
    invoice = _invoice(invoice_id)
    try:
        with service_call():
            invoice_money.void(
                db.session, invoice, note=body["note"].strip(), actor=current_actor(), now=utcnow()
            )
    except IllegalTransition as exc:
        raise ApiError(
            409, _("Only an open invoice on which nothing has been paid can be voided.")
        ) from exc
    return invoice


@blp.get("/outcome-reports")
@token_required(OPERATOR)
@blp.arguments(ReportListArgs, location="query")
@blp.response(200, ReportOut(many=True))
def list_reports(args: dict[str, Any]) -> list[OutcomeReport]:
    """Outcome reports, newest first (at most 500): disputes to resolve, invoiced ones."""
    query = sa.select(OutcomeReport).order_by(OutcomeReport.id.desc()).limit(500)
    if "status" in args:
        query = query.where(OutcomeReport.status == ReportStatus(args["status"]))
    if "contract_id" in args:
        query = query.where(OutcomeReport.contract_id == args["contract_id"])
    if args.get("invoiced") is True:
        query = query.where(OutcomeReport.invoice_id.is_not(None))
    return list(db.session.scalars(query))


@blp.post("/outcome-reports/<int:report_id>/correct")
@token_required(OPERATOR, write=True)
@blp.arguments(CorrectionIn)
@blp.response(201, InvoiceOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def correct_report(body: dict[str, Any], report_id: int) -> Invoice:
    """Correct an invoiced result found wrong: answers the credit note (or, for an
    under-reported result, the supplementary invoice)."""
    report_ = db.session.get(OutcomeReport, report_id)
    if report_ is None:
        raise ApiError(404, _("No such outcome report."))
    with service_call():
        document = corrections.correct(
            db.session,
            report_,
            actor=current_actor(),
            corrected=body["corrected"],
            note=body["note"],
            now=utcnow(),
        )
    return document


@blp.get("/ledger/balances")
@token_required(OPERATOR)
@blp.arguments(BalanceArgs, location="query")
@blp.response(200, BalancesOut)
def ledger_balances(args: dict[str, Any]) -> dict[str, Any]:
    """Balance of every account per organization (debits positive, credits negative)."""
    rows = ledger_reports.balances(
        db.session, account=args.get("account"), organization_id=args.get("organization_id")
    )
    return {"items": rows}


@blp.get("/ledger/trial-balance")
@token_required(OPERATOR)
@blp.response(200, TrialBalanceOut)
def trial_balance() -> dict[str, Any]:
    """Debits and credits per account; `balanced` when they are equal and every
    transaction sums to zero."""
    rows, unbalanced = ledger_reports.trial_balance(db.session)
    debit = sum(r.debit_fen for r in rows)
    credit = sum(r.credit_fen for r in rows)
    return {
        "accounts": rows,
        "debit_fen": debit,
        "credit_fen": credit,
        "balanced": debit == credit and not unbalanced,
        "unbalanced_transactions": unbalanced,
    }


# --- bank statements ----------------------------------------------------------------------------


class StatementIn(ma.Schema):
    file = Upload(
        required=True,
        metadata={"description": "the bank's statement: XLSX, or CSV in GBK or UTF-8, <= 5 MB"},
    )


class StatementLineOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    position = ma.fields.Integer(required=True, metadata={"description": "row in the file"})
    booked_on = ma.fields.Date(required=True)
    is_credit = ma.fields.Boolean(required=True)
    amount_fen = ma.fields.Integer(required=True)
    counterparty_name = ma.fields.String(required=True)
    memo = ma.fields.String(required=True)
    bank_serial = ma.fields.String(required=True)
    status = state(
        LineStatus,
        required=True,
        metadata={"description": "matched, unmatched, dismissed or ignored"},
    )
    reason = ma.fields.String(
        required=True,
        metadata={
            "description": "why an unmatched line waits: unknown_reference, ambiguous, "
            "invoice_not_open, refused"
        },
    )
    invoice_id = ma.fields.Integer(allow_none=True, required=True)
    payment_id = ma.fields.Integer(allow_none=True, required=True)
    due_after_fen = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "what the invoice still owes after this line (< 0: credit)"},
    )


@dataclass(frozen=True)
class StatementImport:
    """An imported statement's new lines and the counts of all its lines."""

    result: bank_statements.ImportResult
    summary: bank_statements.Summary


class StatementImportOut(ma.Schema):
    """A :class:`StatementImport`."""

    statement_id = ma.fields.Integer(attribute="result.statement.id", required=True)
    matched = ma.fields.Integer(attribute="summary.matched", required=True)
    matched_fen = ma.fields.Integer(attribute="summary.matched_fen", required=True)
    # Marshmallow takes declared fields off the class, so this does not hide Schema.partial
    # at run time; its stubs only see the class attribute.
    partial = ma.fields.Integer(  # type: ignore[assignment]
        attribute="summary.partial", required=True
    )
    overpaid = ma.fields.Integer(attribute="summary.overpaid", required=True)
    unmatched = ma.fields.Integer(attribute="summary.unmatched", required=True)
    unmatched_fen = ma.fields.Integer(attribute="summary.unmatched_fen", required=True)
    ignored = ma.fields.Integer(attribute="summary.ignored", required=True)
    duplicates = ma.fields.Integer(
        attribute="summary.duplicates",
        required=True,
        metadata={"description": "lines imported before, skipped"},
    )
    lines = ma.fields.List(
        ma.fields.Nested(StatementLineOut), attribute="result.lines", required=True
    )


@blp.post("/bank-statements")
@token_required(OPERATOR, write=True)
@blp.arguments(StatementIn, location="files")
@blp.response(201, StatementImportOut)
@blp.alt_response(400, schema=ErrorSchema)
def import_bank_statement(files: dict[str, Any]) -> StatementImport:
    """Import the bank's statement (multipart field ``file``): each credit naming an open
    invoice's transfer reference is booked on it; the rest waits in the console's queue;
    lines imported before are skipped (counted in ``duplicates``). A file that cannot be
    read is refused whole (400) and nothing is stored."""
    upload = files["file"]
    with service_call():
        result = bank_statements.import_statement(
            db.session,
            data=upload.stream.read(STATEMENT_MAX_BYTES + 1),
            filename=upload.filename or "",
            actor=current_actor(),
            now=utcnow(),
        )
    return StatementImport(result, bank_statements.summarize(result.statement))
