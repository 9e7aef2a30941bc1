"""GET /api/v1/billing-errors: what the billing run could not close, for the operator."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint

from billing import run_errors
from marketplace.db import db
from marketplace.jsonapi import token_required
from marketplace.models import OrgKind

blp = Blueprint(
    "billing_errors_api",
    __name__,
    url_prefix="/api/v1",
    description="Billing errors: contracts whose period the billing run could not close",
)


class BillingErrorOut(ma.Schema):
    """A :class:`~billing.error_models.BillingError`."""

    id = ma.fields.Integer(required=True)
    contract_id = ma.fields.Integer(required=True)
    buyer_id = ma.fields.Integer(attribute="contract.buyer_id", required=True)
    vendor_id = ma.fields.Integer(attribute="contract.vendor_id", required=True)
    period_start = ma.fields.AwareDateTime(required=True)
    period_end = ma.fields.AwareDateTime(required=True)
    step = ma.fields.String(
        required=True,
        metadata={
            "description": "close: closing the period; results: invoicing its outcome result"
        },
    )
    code = ma.fields.String(
        required=True,
        metadata={
            "description": "quantity_too_large, amount_too_large, database_error or internal_error"
        },
    )
    message = ma.fields.String(required=True)
    first_seen_at = ma.fields.AwareDateTime(required=True)
    last_seen_at = ma.fields.AwareDateTime(required=True)
    attempts = ma.fields.Integer(
        required=True, metadata={"description": "billing runs that failed to close the period"}
    )


class BillingErrorListOut(ma.Schema):
    total = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(BillingErrorOut), required=True)


@blp.get("/billing-errors")
@token_required([OrgKind.PLATFORM])
@blp.response(200, BillingErrorListOut)
def list_billing_errors() -> dict[str, Any]:
    """The open billing errors, most recently seen first: contracts whose period the billing
    run could not close. Every other contract was invoiced; each run retries these, and an
    error disappears from this list once its period closes."""
    errors = run_errors.open_errors(db.session)
    return {"total": len(errors), "items": errors}
