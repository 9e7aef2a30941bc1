"""Billing endpoints of the JSON API (DESIGN.md section 6): contracts, usage, invoices."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
import stripe
from flask import current_app
from flask_babel import gettext as _
from flask_smorest import Blueprint

from billing import contracts as contract_rules
from billing import credits, metering, payments, voucher_payments
from billing import invoices as invoice_rules
from billing.models import Contract, Invoice, InvoiceStatus
from billing.presenters import contract_dict, invoice_dict
from catalog.limits import LimitExceeded
from catalog.models import BillingModel, Plan
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

blp = Blueprint(
    "billing_api", __name__, url_prefix="/api/v1", description="Contracts, usage and invoices"
)


def commission_bp() -> int:
    return int(current_app.config["PLATFORM_COMMISSION_BP"])


class ContractIn(ma.Schema):
    plan_id = row_id(required=True)
    baseline = ma.fields.Decimal(
        allow_none=True,
        places=6,
        as_string=True,
        metadata={"description": "outcome plans: the measured baseline"},
    )
    baseline_note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    spend_cap_fen = Fen(allow_none=True, maximum=10**12)
    accept_agreement_version = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=2**31 - 1),
        metadata={
            "description": "The version of the solution's service agreement the buyer read "
            "and accepts (`agreement_version` of GET /solutions/{slug}). Without it nothing "
            "is started (422); a version that is no longer in force answers 409."
        },
    )


class ContractOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    buyer_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    solution_slug = ma.fields.String(required=True)
    plan_id = ma.fields.Integer(required=True)
    billing_model = ma.fields.String(required=True)
    current_period_start = ma.fields.String(required=True)
    current_period_end = ma.fields.String(required=True)
    trial_end = ma.fields.String(allow_none=True, required=True)
    cancel_at_period_end = ma.fields.Boolean(required=True)
    canceled_at = ma.fields.String(allow_none=True, required=True)
    spend_cap_fen = ma.fields.Integer(allow_none=True, required=True)
    baseline = ma.fields.String(allow_none=True, required=True)
    baseline_agreed_at = ma.fields.String(allow_none=True, required=True)
    agreement_version = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "the service agreement version the buyer accepted"},
    )
    agreement_accepted_at = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)


class ChangePlanIn(ma.Schema):
    plan_id = row_id(required=True)


class CancelIn(ma.Schema):
    at_period_end = ma.fields.Boolean(load_default=False)


class UsageEventsIn(ma.Schema):
    events = ma.fields.List(
        ma.fields.Dict(),
        required=True,
        validate=ma.validate.Length(min=1, max=metering.MAX_BATCH),
        metadata={
            "description": "[{id, contract_id, meter, quantity, occurred_at}], at most 1,000"
        },
    )


class RejectedOut(ma.Schema):
    id = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)


class UsageEventsOut(ma.Schema):
    accepted = ma.fields.Integer(required=True)
    duplicates = ma.fields.List(ma.fields.String(), required=True)
    rejected = ma.fields.List(ma.fields.Nested(RejectedOut), required=True)


class UsageOut(ma.Schema):
    contract_id = ma.fields.Integer(required=True)
    meter = ma.fields.String(required=True)
    unit = ma.fields.String(allow_none=True, required=True)
    period_start = ma.fields.String(required=True)
    period_end = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True)
    estimated_charge_fen = ma.fields.Integer(required=True)
    spend_cap_fen = ma.fields.Integer(allow_none=True, required=True)


class InvoiceLineOut(ma.Schema):
    kind = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True)
    unit_fen = ma.fields.String(required=True)
    amount_fen = ma.fields.Integer(required=True)
    vat_rate_bp = ma.fields.Integer(required=True)
    tax_fen = ma.fields.Integer(required=True)
    period_start = ma.fields.String(required=True)
    period_end = ma.fields.String(required=True)
    details = ma.fields.Dict(required=True)


class InvoiceOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    fapiao_status = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "`requested`, `issued`, `reversed` (red-letter), or null"},
    )
    number = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    display_status = ma.fields.String(
        required=True,
        metadata={
            "description": "The status as shown to people: `refunded` or `partially_refunded` "
            "for a paid invoice whose payments were given back, else `status`."
        },
    )
    contract_id = ma.fields.Integer(required=True)
    buyer_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    period_start = ma.fields.String(required=True)
    period_end = ma.fields.String(required=True)
    subtotal_fen = ma.fields.Integer(required=True)
    tax_fen = ma.fields.Integer(required=True)
    total_fen = ma.fields.Integer(required=True)
    voucher_fen = ma.fields.Integer(required=True)
    credit_applied_fen = ma.fields.Integer(
        required=True,
        metadata={"description": "Taken from the buyer's credit balance with the vendor."},
    )
    credit_granted_fen = ma.fields.Integer(
        required=True,
        metadata={
            "description": "What this invoice (a negative total or a credit note) added to "
            "the buyer's credit balance with the vendor."
        },
    )
    amount_paid_fen = ma.fields.Integer(required=True)
    amount_due_fen = ma.fields.Integer(required=True)
    issued_at = ma.fields.String(allow_none=True, required=True)
    due_at = ma.fields.String(allow_none=True, required=True)
    overdue_days = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={
            "description": "China calendar days past the due day of an invoice still owed; "
            "null when it is not overdue."
        },
    )
    paid_at = ma.fields.String(allow_none=True, required=True)
    transfer_reference = ma.fields.String(required=True)
    lines = ma.fields.List(ma.fields.Nested(InvoiceLineOut))


class InvoiceListArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in InvoiceStatus]))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


class InvoiceListOut(ma.Schema):
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(InvoiceOut), required=True)


def _contract_for(contract_id: int, *, buyer_only: bool = False) -> Contract:
    """Load -> authorize: another organization's contract is simply not found."""
    actor = current_actor()
    contract = db.session.get(Contract, contract_id)
    if contract is None or not contract.can_view(actor.organization.id):
        raise ApiError(404, _("No such contract."))
    if buyer_only and contract.buyer_id != actor.organization.id:
        raise ApiError(403, _("Only the buyer may do this."))
    return contract


@blp.post("/contracts")
@token_required([OrgKind.SME], write=True)
@blp.arguments(ContractIn)
@blp.response(201, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def create_contract(body: dict[str, Any]) -> dict[str, Any]:
    """Start a plan: a subscription (with its trial), pay-after-use, or pay-for-results."""
    plan = db.session.get(Plan, body["plan_id"])
    if plan is None or not plan.is_offered:
        raise ApiError(
            404, _("No such plan on offer."), fields={"plan_id": [_("No such plan on offer.")]}
        )
    with service_call():
        contract = contract_rules.start(
            db.session,
            actor=current_actor(),
            plan=plan,
            now=utcnow(),
            commission_bp=commission_bp(),
            agreement_version=body.get("accept_agreement_version"),
            spend_cap_fen=body.get("spend_cap_fen"),
            baseline=body.get("baseline"),
            baseline_note=body.get("baseline_note", ""),
        )
    return contract_dict(contract)


@blp.get("/contracts")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, ContractOut(many=True))
def list_contracts() -> list[dict[str, Any]]:
    """The organization's contracts, as buyer or as vendor."""
    org_id = current_actor().organization.id
    rows = db.session.scalars(
        sa.select(Contract)
        .where(sa.or_(Contract.buyer_id == org_id, Contract.vendor_id == org_id))
        .order_by(Contract.id.desc())
        .limit(500)
    )
    return [contract_dict(c) for c in rows]


@blp.get("/contracts/<int:contract_id>")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_contract(contract_id: int) -> dict[str, Any]:
    return contract_dict(_contract_for(contract_id))


@blp.post("/contracts/<int:contract_id>/change-plan")
@token_required([OrgKind.SME], write=True)
@blp.arguments(ChangePlanIn)
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def change_plan(body: dict[str, Any], contract_id: int) -> dict[str, Any]:
    """Switch to another subscription plan of the solution, prorated by day."""
    contract = _contract_for(contract_id, buyer_only=True)
    plan = db.session.get(Plan, body["plan_id"])
    if plan is None:
        raise ApiError(
            404, _("No such plan on offer."), fields={"plan_id": [_("No such plan on offer.")]}
        )
    with service_call():
        contract_rules.change_plan(
            db.session,
            contract,
            plan,
            actor=current_actor(),
            now=utcnow(),
            commission_bp=commission_bp(),
        )
    return contract_dict(contract)


@blp.post("/contracts/<int:contract_id>/cancel")
@token_required([OrgKind.SME], write=True)
@blp.arguments(CancelIn)
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def cancel_contract(body: dict[str, Any], contract_id: int) -> dict[str, Any]:
    """Cancel now, or at the end of the current period."""
    contract = _contract_for(contract_id, buyer_only=True)
    with service_call():
        contract_rules.cancel(
            db.session,
            contract,
            actor=current_actor(),
            at_period_end=body["at_period_end"],
            now=utcnow(),
        )
    return contract_dict(contract)


@blp.post("/usage-events")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(UsageEventsIn)
@blp.response(200, UsageEventsOut)
def post_usage_events(body: dict[str, Any]) -> dict[str, Any]:
    """Report usage: up to 1,000 events a call. Accepted events are stored when this
    answers; a retry with the same ids is safe (they come back as duplicates).

    Each event is checked on its own and a refused one is listed in `rejected` with a
    reason; the rest of the batch is accepted. Limits (catalog/limits.py): `quantity` from
    0 to 10,000,000,000 (10^10) with at most six decimal places (`quantity_too_large`
    beyond it); a contract's usage in one billing period at most 10^10
    (`period_quantity_too_large`); `occurred_at` ISO 8601 with an offset, not before the
    year 2000 (`invalid_occurred_at`), at most 5 minutes ahead (`in_future`), in a period
    not invoiced yet (`period_closed`) and before the contract ended (`contract_ended`)."""
    result = metering.ingest(
        db.session, vendor_id=current_actor().organization.id, events=body["events"], now=utcnow()
    )
    return {
        "accepted": result.accepted,
        "duplicates": result.duplicates,
        "rejected": result.rejected,
    }


@blp.get("/contracts/<int:contract_id>/usage")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, UsageOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def contract_usage(contract_id: int) -> dict[str, Any]:
    """The current period's usage and the charge so far."""
    contract = _contract_for(contract_id)
    if contract.plan.billing_model is not BillingModel.USAGE:
        raise ApiError(409, _("This contract is not billed by usage."))
    try:
        quantity, charge = metering.current_usage(db.session, contract)
    except LimitExceeded as exc:  # only a row changed behind the application's back
        message = _("This period's usage is beyond what can be billed.")
        raise ApiError(409, message, code=exc.code) from exc
    return {
        "contract_id": contract.id,
        "meter": contract.plan.meter,
        "unit": contract.plan.unit,
        "period_start": contract.current_period_start.isoformat(),
        "period_end": contract.current_period_end.isoformat(),
        "quantity": format(quantity.normalize(), "f"),
        "estimated_charge_fen": charge,
        "spend_cap_fen": contract.spend_cap_fen,
    }


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
    return {
        "total": total,
        "page": args["page"],
        "items": [invoice_dict(i, with_lines=False) for i in rows],
    }


@blp.get("/invoices/<int:invoice_id>")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, InvoiceOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_invoice(invoice_id: int) -> dict[str, Any]:
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None or not invoice.can_view(current_actor().organization.id):
        raise ApiError(404, _("No such invoice."))
    return invoice_dict(invoice)


class CreditMoveOut(ma.Schema):
    kind = ma.fields.String(required=True, metadata={"description": "granted, applied, restored"})
    amount_fen = ma.fields.Integer(required=True)
    invoice_id = ma.fields.Integer(required=True)
    invoice_number = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)


class CreditBalanceOut(ma.Schema):
    buyer_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    balance_fen = ma.fields.Integer(required=True)
    history = ma.fields.List(ma.fields.Nested(CreditMoveOut), required=True)


class CreditBalancesOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CreditBalanceOut), required=True)


@blp.get("/credit-balances")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, CreditBalancesOut)
def credit_balances() -> dict[str, Any]:
    """The customer credit balances of the organization: a buyer's with each vendor, or a
    vendor's buyers' with it, with the latest movements (newest first). Credit comes from a
    downgrade or a credit note and pays the next invoices of the same buyer and vendor."""
    actor = current_actor()
    statement = credits.statement(
        db.session, actor.organization.id, as_vendor=actor.org_kind is OrgKind.VENDOR
    )
    return {
        "items": [
            {
                "buyer_id": b.buyer.id,
                "vendor_id": b.vendor.id,
                "balance_fen": b.balance_fen,
                "history": [
                    {
                        "kind": t.kind.value,
                        "amount_fen": t.amount_fen,
                        "invoice_id": t.invoice_id,
                        "invoice_number": t.invoice.number,
                        "created_at": t.created_at.isoformat(),
                    }
                    for t in b.history
                ],
            }
            for b in statement
        ]
    }


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


class PayOut(ma.Schema):
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
def pay_invoice(body: dict[str, Any], invoice_id: int) -> dict[str, Any]:
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
            client = payments.stripe_client()
            if client is None:
                raise ApiError(
                    422, _("Card payments are not configured."), fields={"method": ["card"]}
                )
            # Not in service_call's savepoint: the payment commits its attempt (and the
            # vouchers applied above) before Stripe is called, so no charge is ever lost.
            try:
                result = payments.pay_by_card(db.session, client, invoice, now=now)
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
    return {
        "invoice": invoice_dict(invoice),
        "voucher_fen": subsidy,
        "method": body["method"],
        "payment_status": status,
        "failure_message": failure,
        "transfer_reference": reference,
    }
