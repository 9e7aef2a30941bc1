"""Contract endpoints of the JSON API: start a plan, list and read contracts, change plan,
cancel, report usage events and read the current period's usage."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _

from billing import contracts as contract_rules
from billing.api.blueprint import blp, commission_bp
from billing.api.schemas import ContractOut
from billing.metering import events as metering
from billing.metering.events import IngestResult
from billing.models import Contract
from catalog.limits import LimitExceeded
from catalog.models import BillingModel, Plan
from marketplace.api_fields import DecimalText
from marketplace.db import db, utcnow
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


@dataclass(frozen=True)
class UsageSoFar:
    """A usage contract's current period: the quantity used and the charge it comes to."""

    contract: Contract
    quantity: Decimal
    estimated_charge_fen: int


class UsageOut(ma.Schema):
    """A :class:`UsageSoFar`."""

    contract_id = ma.fields.Integer(attribute="contract.id", required=True)
    meter = ma.fields.String(attribute="contract.plan.meter", required=True)
    unit = ma.fields.String(attribute="contract.plan.unit", allow_none=True, required=True)
    period_start = ma.fields.AwareDateTime(attribute="contract.current_period_start", required=True)
    period_end = ma.fields.AwareDateTime(attribute="contract.current_period_end", required=True)
    quantity = DecimalText(required=True)
    estimated_charge_fen = ma.fields.Integer(required=True)
    spend_cap_fen = ma.fields.Integer(
        attribute="contract.spend_cap_fen", allow_none=True, required=True
    )


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
def create_contract(body: dict[str, Any]) -> Contract:
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
    return contract


@blp.get("/contracts")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, ContractOut(many=True))
def list_contracts() -> list[Contract]:
    """The organization's contracts, as buyer or as vendor."""
    org_id = current_actor().organization.id
    rows = db.session.scalars(
        sa.select(Contract)
        .where(sa.or_(Contract.buyer_id == org_id, Contract.vendor_id == org_id))
        .order_by(Contract.id.desc())
        .limit(500)
    )
    return list(rows)


@blp.get("/contracts/<int:contract_id>")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_contract(contract_id: int) -> Contract:
    return _contract_for(contract_id)


@blp.post("/contracts/<int:contract_id>/change-plan")
@token_required([OrgKind.SME], write=True)
@blp.arguments(ChangePlanIn)
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def change_plan(body: dict[str, Any], contract_id: int) -> Contract:
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
    return contract


@blp.post("/contracts/<int:contract_id>/cancel")
@token_required([OrgKind.SME], write=True)
@blp.arguments(CancelIn)
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def cancel_contract(body: dict[str, Any], contract_id: int) -> Contract:
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
    return contract


@blp.post("/usage-events")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(UsageEventsIn)
@blp.response(200, UsageEventsOut)
def post_usage_events(body: dict[str, Any]) -> IngestResult:
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
    return result


@blp.get("/contracts/<int:contract_id>/usage")
@token_required([OrgKind.SME, OrgKind.VENDOR])
@blp.response(200, UsageOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def contract_usage(contract_id: int) -> UsageSoFar:
    """The current period's usage and the charge so far."""
    contract = _contract_for(contract_id)
    if contract.plan.billing_model is not BillingModel.USAGE:
        raise ApiError(409, _("This contract is not billed by usage."))
    try:
        quantity, charge = metering.current_usage(db.session, contract)
    except LimitExceeded as exc:  # only a row changed behind the application's back
        message = _("This period's usage is beyond what can be billed.")
        raise ApiError(409, message, code=exc.code) from exc
    return UsageSoFar(contract, quantity, charge)
