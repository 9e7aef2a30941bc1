"""The platform's JSON endpoints: who am I, and is the audit chain intact."""

from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint

from marketplace import audit
from marketplace.db import db
from marketplace.jsonapi import current_actor, token_required
from marketplace.models import OrgKind

blp = Blueprint(
    "platform_api", __name__, url_prefix="/api/v1", description="Identity and audit"
)


class UserOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    email = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    locale = ma.fields.String(required=True)


class OrganizationOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    uscc = ma.fields.String(required=True)
    region_code = ma.fields.String(required=True)
    industry_code = ma.fields.String(allow_none=True)
    size_class = ma.fields.String(allow_none=True)
    verified = ma.fields.Boolean(required=True, attribute="is_verified")


class MeOut(ma.Schema):
    user = ma.fields.Nested(UserOut, required=True)
    organization = ma.fields.Nested(OrganizationOut, required=True)
    role = ma.fields.String(required=True)
    token_prefix = ma.fields.String(required=True)


class VerifyOut(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    checked = ma.fields.Integer(required=True)
    first_bad = ma.fields.Integer(allow_none=True, required=True)
    reason = ma.fields.String(allow_none=True)


@blp.get("/me")
@blp.response(200, MeOut)
@token_required()
def me() -> dict[str, object]:
    """Who the token acts as: the user, the organization and the role."""
    actor = current_actor()
    return {
        "user": actor.user,
        "organization": actor.organization,
        "role": actor.role.value,
        "token_prefix": actor.token.prefix if actor.token else "",
    }


@blp.get("/audit/verify")
@blp.response(200, VerifyOut)
@token_required([OrgKind.GOVERNMENT, OrgKind.PLATFORM])
def verify_audit() -> audit.VerifyResult:
    """Walk the hash chain of the audit log and name the first row that does not match."""
    return audit.verify(db.session)
