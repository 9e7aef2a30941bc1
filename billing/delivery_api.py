"""The buyer accepts delivery (验收) of a contract through the JSON API."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from billing import delivery
from billing.delivery_models import DeliveryAcceptance
from billing.models import Contract
from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind

blp = Blueprint(
    "delivery_api", __name__, url_prefix="/api/v1", description="Acceptance of delivery (验收)"
)


class AcceptIn(ma.Schema):
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=delivery.MAX_NOTE))


class AcceptanceOut(ma.Schema):
    """A :class:`~billing.delivery_models.DeliveryAcceptance`."""

    contract_id = ma.fields.Integer(required=True)
    accepted_at = ma.fields.AwareDateTime(required=True)
    note = ma.fields.String(required=True)


@blp.post("/contracts/<int:contract_id>/accept-delivery")
@token_required([OrgKind.SME], write=True)
@blp.arguments(AcceptIn)
@blp.response(200, AcceptanceOut)
@blp.alt_response(403, schema=ErrorSchema)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def accept_delivery(body: dict[str, Any], contract_id: int) -> DeliveryAcceptance:
    """The buyer accepts delivery of the contract (once); voucher programs may require it
    before they settle the voucher's part with the vendor."""
    actor = current_actor()
    contract = db.session.get(Contract, contract_id)
    if contract is None or not contract.can_view(actor.organization.id):
        raise ApiError(404, _("No such contract."))
    with service_call():
        acceptance = delivery.accept_delivery(
            db.session, contract, actor=actor, note=body["note"], now=utcnow()
        )
    return acceptance
