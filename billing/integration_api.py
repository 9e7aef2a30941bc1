"""Vendor integration endpoints of the JSON API (issue 14): the sign-up handoff's token
exchange and entitlements, what a customer may use now."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_smorest import Blueprint

from billing import fulfillment, metering
from billing.models import Contract
from catalog.limits import LimitExceeded
from catalog.models import BillingModel
from marketplace.db import db, utcnow
from marketplace.jsonapi import (
    ApiError,
    ErrorSchema,
    current_actor,
    row_id,
    service_call,
    token_required,
)
from marketplace.models import Organization, OrgKind

blp = Blueprint(
    "integration_api",
    __name__,
    url_prefix="/api/v1",
    description="Vendor integration: sign-up handoff and entitlements",
)


class FulfillmentResolveIn(ma.Schema):
    token = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))


class BuyerOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    uscc = ma.fields.String(required=True)
    region_code = ma.fields.String(required=True)
    contact_email = ma.fields.String(required=True)
    contact_phone = ma.fields.String(required=True)


class PlanRefOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    billing_model = ma.fields.String(required=True)
    solution_slug = ma.fields.String(required=True)


class ContractRefOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    current_period_start = ma.fields.String(required=True)
    current_period_end = ma.fields.String(required=True)
    trial_end = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)


class FulfillmentResolveOut(ma.Schema):
    buyer = ma.fields.Nested(BuyerOut, required=True)
    contract = ma.fields.Nested(ContractRefOut, required=True)
    plan = ma.fields.Nested(PlanRefOut, required=True)


class EntitlementArgs(ma.Schema):
    contract_id = row_id()
    buyer_uscc = ma.fields.String(validate=ma.validate.Length(equal=18))

    @ma.validates_schema
    def _one_of(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("contract_id" in data) == ("buyer_uscc" in data):
            raise ma.ValidationError(
                _("Give either contract_id or buyer_uscc."), field_name="contract_id"
            )


class UsageNowOut(ma.Schema):
    meter = ma.fields.String(required=True)
    quantity = ma.fields.String(required=True)
    estimated_charge_fen = ma.fields.Integer(required=True)
    spend_cap_fen = ma.fields.Integer(allow_none=True, required=True)
    over_spend_cap = ma.fields.Boolean(required=True)


class EntitlementOut(ma.Schema):
    contract = ma.fields.Nested(ContractRefOut, required=True)
    plan = ma.fields.Nested(PlanRefOut, required=True)
    buyer = ma.fields.Nested(BuyerOut, required=True)
    entitled = ma.fields.Boolean(
        required=True,
        metadata={"description": "May use the service now: trialing or active"},
    )
    usage = ma.fields.Nested(UsageNowOut, allow_none=True, required=True)
    baseline_status = ma.fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "outcome plans: `agreed` or `awaiting_agreement`"},
    )


class EntitlementsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EntitlementOut), required=True)


def buyer_dict(org: Organization) -> dict[str, Any]:
    return {
        "id": org.id,
        "name": org.name,
        "uscc": org.uscc,
        "region_code": org.region_code,
        "contact_email": org.contact_email or "",
        "contact_phone": org.contact_phone or "",
    }


def _contract_ref(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.id,
        "status": contract.status.value,
        "current_period_start": contract.current_period_start.isoformat(),
        "current_period_end": contract.current_period_end.isoformat(),
        "trial_end": contract.trial_end.isoformat() if contract.trial_end else None,
        "created_at": contract.created_at.isoformat(),
    }


def _plan_ref(contract: Contract) -> dict[str, Any]:
    plan = contract.plan
    return {
        "id": plan.id,
        "name": plan.name,
        "name_en": plan.name_en,
        "billing_model": plan.billing_model.value,
        "solution_slug": contract.solution.slug,
    }


@blp.post("/fulfillment/resolve")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(FulfillmentResolveIn)
@blp.response(200, FulfillmentResolveOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The token was exchanged already")
@blp.alt_response(410, schema=ErrorSchema, description="The token has expired")
def resolve_token(body: dict[str, Any]) -> dict[str, Any]:
    """Exchange a sign-up handoff token (the `marketplace_token` query parameter your
    fulfillment URL received) for the buyer, the contract and the plan. Once only."""
    with service_call():
        contract = fulfillment.resolve(
            db.session, body["token"], actor=current_actor(), now=utcnow()
        )
    return {
        "buyer": buyer_dict(contract.buyer),
        "contract": _contract_ref(contract),
        "plan": _plan_ref(contract),
    }


def _entitlement(contract: Contract) -> dict[str, Any]:
    usage = None
    if contract.plan.billing_model is BillingModel.USAGE:
        try:
            quantity, charge = metering.current_usage(db.session, contract)
        except LimitExceeded as exc:
            raise ApiError(409, _("This period's usage is beyond what can be billed.")) from exc
        cap = contract.spend_cap_fen
        usage = {
            "meter": contract.plan.meter,
            "quantity": format(quantity.normalize(), "f"),
            "estimated_charge_fen": charge,
            "spend_cap_fen": cap,
            "over_spend_cap": cap is not None and charge >= cap,
        }
    baseline_status = None
    if contract.plan.billing_model is BillingModel.OUTCOME:
        baseline_status = "agreed" if contract.baseline_agreed_at else "awaiting_agreement"
    return {
        "contract": _contract_ref(contract),
        "plan": _plan_ref(contract),
        "buyer": buyer_dict(contract.buyer),
        "entitled": contract.status.value in ("trialing", "active"),
        "usage": usage,
        "baseline_status": baseline_status,
    }


@blp.get("/entitlements")
@token_required([OrgKind.VENDOR])
@blp.arguments(EntitlementArgs, location="query")
@blp.response(200, EntitlementsOut)
@blp.alt_response(404, schema=ErrorSchema)
def entitlements(args: dict[str, Any]) -> dict[str, Any]:
    """What a customer of yours may use now: by contract, or every contract of a buyer
    (by USCC) with you. Another vendor's customer is not found."""
    vendor_id = current_actor().organization.id
    query = sa.select(Contract).where(Contract.vendor_id == vendor_id)
    if "contract_id" in args:
        query = query.where(Contract.id == args["contract_id"])
    else:
        query = query.join(Organization, Organization.id == Contract.buyer_id).where(
            Organization.uscc == args["buyer_uscc"].upper()
        )
    rows = list(db.session.scalars(query.order_by(Contract.id).limit(200)))
    if not rows:
        raise ApiError(404, _("No such customer."))
    return {"items": [_entitlement(c) for c in rows]}
