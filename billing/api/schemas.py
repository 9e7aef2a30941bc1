"""Contracts and invoices as the JSON API answers them: each schema dumps the model itself
(``@blp.response`` runs the dump) and the OpenAPI document is generated from it."""

from __future__ import annotations

import marshmallow as ma

from billing import invoices as invoice_rules
from billing import overdue
from billing.fapiao import fapiao_status
from billing.models import ContractStatus, InvoiceKind, InvoiceStatus
from catalog.models import BillingModel
from marketplace.api_fields import DecimalText, DerivedInteger, DerivedString, state


class ContractOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = state(ContractStatus, required=True)
    buyer_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    solution_slug = ma.fields.String(attribute="solution.slug", required=True)
    plan_id = ma.fields.Integer(required=True)
    billing_model = state(BillingModel, attribute="plan.billing_model", required=True)
    current_period_start = ma.fields.AwareDateTime(required=True)
    current_period_end = ma.fields.AwareDateTime(required=True)
    trial_end = ma.fields.AwareDateTime(allow_none=True, required=True)
    cancel_at_period_end = ma.fields.Boolean(required=True)
    canceled_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    spend_cap_fen = ma.fields.Integer(allow_none=True, required=True)
    baseline = DecimalText(allow_none=True, required=True)
    baseline_agreed_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    agreement_version = ma.fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "the service agreement version the buyer accepted"},
    )
    agreement_accepted_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class InvoiceLineOut(ma.Schema):
    kind = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    quantity = DecimalText(required=True)
    unit_fen = DecimalText(required=True, metadata={"description": "decimal fen"})
    amount_fen = ma.fields.Integer(required=True)
    vat_rate_bp = ma.fields.Integer(required=True)
    tax_fen = ma.fields.Integer(required=True)
    period_start = ma.fields.AwareDateTime(required=True)
    period_end = ma.fields.AwareDateTime(required=True)
    details = ma.fields.Dict(required=True)


class InvoiceSummaryOut(ma.Schema):
    """An invoice without its lines (the list's items)."""

    id = ma.fields.Integer(required=True)
    fapiao_status = DerivedString(
        fapiao_status,
        allow_none=True,
        required=True,
        metadata={"description": "`requested`, `issued`, `reversed` (red-letter), or null"},
    )
    number = ma.fields.String(required=True)
    kind = state(InvoiceKind, required=True)
    reason = ma.fields.String(required=True)
    status = state(InvoiceStatus, required=True)
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
    period_start = ma.fields.AwareDateTime(required=True)
    period_end = ma.fields.AwareDateTime(required=True)
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
    amount_paid_fen = DerivedInteger(invoice_rules.amount_paid, required=True)
    amount_due_fen = DerivedInteger(invoice_rules.amount_due, required=True)
    issued_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    due_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    overdue_days = DerivedInteger(
        overdue.overdue_days,
        allow_none=True,
        required=True,
        metadata={
            "description": "China calendar days past the due day of an invoice still owed; "
            "null when it is not overdue."
        },
    )
    paid_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    transfer_reference = ma.fields.String(required=True)


class InvoiceOut(InvoiceSummaryOut):
    lines = ma.fields.List(ma.fields.Nested(InvoiceLineOut))
