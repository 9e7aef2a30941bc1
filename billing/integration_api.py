"""Vendor integration endpoints of the JSON API (issue 14): the sign-up handoff's token
exchange and entitlements, what a customer may use now."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_smorest import Blueprint

from billing import fulfillment
from billing.metering import events as metering
from billing.models import Contract, ContractStatus
from catalog.limits import LimitExceeded
from catalog.models import BillingModel
from marketplace.api_fields import DecimalText, DerivedBoolean, DerivedString, state
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


@dataclass(frozen=True)
class UsageNow:
    """A usage contract's current period so far."""

    contract: Contract
    quantity: Decimal
    estimated_charge_fen: int


@dataclass(frozen=True)
class Entitlement:
    """A contract as the vendor's integration sees it: who, what plan, and (usage plans)
    the period's usage so far."""

    contract: Contract
    usage: UsageNow | None = None


class BuyerOut(ma.Schema):
    """The buyer :class:`~marketplace.models.Organization`."""

    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    uscc = ma.fields.String(required=True)
    region_code = ma.fields.String(required=True)
    contact_email = DerivedString(lambda org: org.contact_email or "", required=True)
    contact_phone = DerivedString(lambda org: org.contact_phone or "", required=True)


class PlanRefOut(ma.Schema):
    """A contract's plan (a :class:`~billing.models.Contract`)."""

    id = ma.fields.Integer(attribute="plan.id", required=True)
    name = ma.fields.String(attribute="plan.name", required=True)
    name_en = ma.fields.String(attribute="plan.name_en", required=True)
    billing_model = state(BillingModel, attribute="plan.billing_model", required=True)
    solution_slug = ma.fields.String(attribute="solution.slug", required=True)


class ContractRefOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    status = state(ContractStatus, required=True)
    current_period_start = ma.fields.AwareDateTime(required=True)
    current_period_end = ma.fields.AwareDateTime(required=True)
    trial_end = ma.fields.AwareDateTime(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class FulfillmentResolveOut(ma.Schema):
    """An :class:`Entitlement`: the buyer, the contract and the plan."""

    buyer = ma.fields.Nested(BuyerOut, attribute="contract.buyer", required=True)
    # Both read the contract: dump only (marshmallow refuses two loaded fields on one attribute).
    contract = ma.fields.Nested(ContractRefOut, dump_only=True, required=True)
    plan = ma.fields.Nested(PlanRefOut, attribute="contract", dump_only=True, required=True)


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
    """A :class:`UsageNow`."""

    meter = ma.fields.String(attribute="contract.plan.meter", required=True)
    quantity = DecimalText(required=True)
    estimated_charge_fen = ma.fields.Integer(required=True)
    spend_cap_fen = ma.fields.Integer(
        attribute="contract.spend_cap_fen", allow_none=True, required=True
    )
    over_spend_cap = DerivedBoolean(
        lambda usage: (
            usage.contract.spend_cap_fen is not None
            and usage.estimated_charge_fen >= usage.contract.spend_cap_fen
        ),
        required=True,
    )


def _baseline_status(entitlement: Entitlement) -> str | None:
    contract = entitlement.contract
    if contract.plan.billing_model is not BillingModel.OUTCOME:
        return None
    return "agreed" if contract.baseline_agreed_at else "awaiting_agreement"


class EntitlementOut(FulfillmentResolveOut):
    """An :class:`Entitlement`, with what the buyer may use now."""

    entitled = DerivedBoolean(
        lambda entitlement: entitlement.contract.status.value in ("trialing", "active"),
        required=True,
        metadata={"description": "May use the service now: trialing or active"},
    )
    usage = ma.fields.Nested(UsageNowOut, allow_none=True, required=True)
    baseline_status = DerivedString(
        _baseline_status,
        allow_none=True,
        required=True,
        metadata={"description": "outcome plans: `agreed` or `awaiting_agreement`"},
    )


class EntitlementsOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EntitlementOut), required=True)


@blp.post("/fulfillment/resolve")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(FulfillmentResolveIn)
@blp.response(200, FulfillmentResolveOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema, description="The token was exchanged already")
@blp.alt_response(410, schema=ErrorSchema, description="The token has expired")
def resolve_token(body: dict[str, Any]) -> Entitlement:
    """Exchange a sign-up handoff token (the `marketplace_token` query parameter your
    fulfillment URL received) for the buyer, the contract and the plan. Once only."""
    with service_call():
        contract = fulfillment.resolve(
            db.session, body["token"], actor=current_actor(), now=utcnow()
        )
    return Entitlement(contract)


def _entitlement(contract: Contract) -> Entitlement:
    if contract.plan.billing_model is not BillingModel.USAGE:
        return Entitlement(contract)
    try:
        quantity, charge = metering.current_usage(db.session, contract)
    except LimitExceeded as exc:
        raise ApiError(409, _("This period's usage is beyond what can be billed.")) from exc
    return Entitlement(contract, UsageNow(contract, quantity, charge))


@blp.get("/entitlements")
@token_required([OrgKind.VENDOR])
@blp.arguments(EntitlementArgs, location="query")
@blp.response(200, EntitlementsOut)
@blp.alt_response(404, schema=ErrorSchema)
def entitlements(args: dict[str, Any]) -> dict[str, list[Entitlement]]:
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
