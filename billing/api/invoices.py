"""Invoice endpoints of the JSON API: list and read invoices, pay one, and the customer
credit balances that pay the next ones."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
import stripe
from flask_babel import gettext as _

from billing import credits, voucher_payments
from billing import invoices as invoice_rules
from billing.api.blueprint import blp
from billing.api.schemas import InvoiceOut, InvoiceSummaryOut
from billing.credit_models import CreditKind
from billing.credits import VendorBalance
from billing.models import Invoice, InvoiceStatus
from billing.payments import card_payments, gateway
from marketplace.api_fields import state
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind


class InvoiceListArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in InvoiceStatus]))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class InvoiceListOut(ma.Schema):
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(InvoiceSummaryOut), required=True)


@blp.get("/invoices")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.arguments(InvoiceListArgs, location="query")
@blp.response(200, InvoiceListOut)
def list_invoices(args: dict[str, Any]) -> dict[str, Any]:
    """The organization's invoices, newest first (as buyer or as vendor)."""
    org_id = current_actor().organization.id
    query = sa.select(Invoice).where(
        sa.or_(Invoice.buyer_id == org_id, Invoice.vendor_id == org_id)
    )
    if args.get("status"):
        query = query.where(Invoice.status == args["status"])
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(Invoice.id.desc())
        .limit(args["per_page"])
        .offset((args["page"] - 1) * args["per_page"])
    )
    return {"total": total, "page": args["page"], "items": list(rows)}


@blp.get("/invoices/<int:invoice_id>")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, InvoiceOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_invoice(invoice_id: int) -> Invoice:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or not invoice.can_view(current_actor().organization.id):
        raise ApiError(404, _("No such invoice."))
    return invoice


class CreditMoveOut(ma.Schema):
    kind = state(CreditKind, required=True, metadata={"description": "granted, applied, restored"})
    amount_fen = ma.fields.Integer(required=True)
    invoice_id = ma.fields.Integer(required=True)
    invoice_number = ma.fields.String(attribute="invoice.number", required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class CreditBalanceOut(ma.Schema):
    """One :class:`billing.credits.VendorBalance`."""

    buyer_id = ma.fields.Integer(attribute="buyer.id", required=True)
    vendor_id = ma.fields.Integer(attribute="vendor.id", required=True)
    balance_fen = ma.fields.Integer(required=True)
    history = ma.fields.List(ma.fields.Nested(CreditMoveOut), required=True)


class CreditBalancesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CreditBalanceOut), required=True)


@blp.get("/credit-balances")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, CreditBalancesOut)
def credit_balances() -> dict[str, list[VendorBalance]]:
    """The customer credit balances of the organization: a buyer's with each vendor, or a
    vendor's buyers' with it, with the latest movements (newest first). Credit comes from a
    downgrade or a credit note and pays the next invoices of the same buyer and vendor."""
    actor = current_actor()
    statement = credits.statement(
        db.session, actor.organization.id, as_vendor=actor.org_kind is OrgKind.VENDOR
    )
    return {"items": statement}


class PayIn(ma.Schema):
    vouchers = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=40)),
        load_default=list,
        validate=ma.validate.Length(max=10),
        metadata={"description": "voucher codes, applied in this order before anything else"},
    )
    method = ma.fields.String(
        load_default="bank_transfer",
        validate=ma.validate.OneOf(["card", "bank_transfer"]),
        metadata={"description": "how the rest is paid: the saved card, or a bank transfer"},
    )


@dataclass(frozen=True)
class PayAnswer:
    """What a call to pay did: the invoice after it, and how the rest is being paid."""

    invoice: Invoice
    voucher_fen: int
    method: str
    payment_status: str | None = None
    failure_message: str | None = None
    transfer_reference: str | None = None


class PayOut(ma.Schema):
    """A :class:`PayAnswer`."""

    invoice = ma.fields.Nested(InvoiceOut, required=True)
    voucher_fen = ma.fields.Integer(
        required=True, metadata={"description": "subsidy applied by this call"}
    )
    method = ma.fields.String(required=True)
    payment_status = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={
            "description": "card: succeeded, failed, requires_action, or processing when "
            "the card service's answer is still awaited (the invoice shows the result once "
            "it arrives); null otherwise"
        },
    )
    failure_message = ma.fields.String(allow_none=True, required=True)
    transfer_reference = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "bank transfer: the remark to write on the transfer"},
    )


@blp.post("/invoices/<int:invoice_id>/pay")
@token_required([OrgKind.SME], write=True)
@blp.arguments(PayIn)
@blp.response(200, PayOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
@blp.alt_response(503, schema=ErrorSchema)
def pay_invoice(body: dict[str, Any], invoice_id: int) -> PayAnswer:
    """Pay an open invoice: the chosen vouchers first (all or nothing), then the rest by
    the saved card, or by bank transfer with the returned reference."""
    actor = current_actor()
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or invoice.buyer_id != actor.organization.id:
        raise ApiError(404, _("No such invoice."))
    now = utcnow()
    subsidy = 0
    with service_call():
        if body["vouchers"]:
            subsidy = voucher_payments.apply(
                db.session, invoice, codes=body["vouchers"], actor=actor, now=now
            )
    status = failure = reference = None
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE) and not subsidy:
        raise ApiError(409, _("This invoice is not open for payment."))
    if invoice_rules.amount_due(invoice) > 0:
        if body["method"] == "card":
            client = gateway.stripe_client()
            if client is None:
                raise ApiError(
                    422, _("Card payments are not configured."), fields={"method": ["card"]}
                )
            # Not in service_call's savepoint: the payment commits its attempt (and the
            # vouchers applied above) before Stripe is called, so no charge is ever lost.
            try:
                result = card_payments.pay_by_card(db.session, client, invoice, now=now)
            except DomainError as error:
                raise ApiError(
                    error.status, str(error.message), code=error.code, fields=error.fields
                ) from error
            except stripe.StripeError as error:
                raise ApiError(
                    422,
                    _("The card service refused the payment; nothing was charged."),
                    code="card_refused",
                    fields={"method": ["card"]},
                ) from error
            status = result.payment.status.value
            failure = result.payment.failure_message
        else:
            reference = invoice.transfer_reference
    return PayAnswer(invoice, subsidy, body["method"], status, failure, reference)
