"""Vendor verification by the platform operator as a JSON endpoint (issue 14): the
console's verify and reject buttons, through the same service."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from marketplace import services
from marketplace.api_fields import state
from marketplace.db import db
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import Organization, OrgKind, Verification

blp = Blueprint(
    "vendors_api", __name__, url_prefix="/api/v1", description="Vendor verification (operator)"
)


class VerificationIn(ma.Schema):
    decision = ma.fields.String(required=True, validate=ma.validate.OneOf(["verify", "reject"]))
    note = ma.fields.String(
        load_default="",
        validate=ma.validate.Length(max=1000),
        metadata={"description": "required when rejecting: what the vendor must fix"},
    )


class VerificationOut(ma.Schema):
    """The vendor :class:`~marketplace.models.Organization`'s verification."""

    organization_id = ma.fields.Integer(attribute="id", required=True)
    name = ma.fields.String(required=True)
    verification = state(Verification, required=True)
    verification_note = ma.fields.String(required=True)
    verified_at = ma.fields.AwareDateTime(allow_none=True, required=True)


@blp.post("/organizations/<int:org_id>/verification")
@token_required([OrgKind.PLATFORM], write=True)
@blp.arguments(VerificationIn)
@blp.response(200, VerificationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def review_vendor(body: dict[str, Any], org_id: int) -> Organization:
    """Verify a vendor (its listings may then be published) or reject its verification."""
    org = db.session.get(Organization, org_id)
    if org is None:
        raise ApiError(404, _("No such organization."))
    with service_call():
        services.review_vendor(
            db.session,
            org,
            actor=current_actor(),
            approve=body["decision"] == "verify",
            note=body["note"],
        )
    return org
