"""The platform's JSON endpoints: who am I, and is the audit chain intact."""

from __future__ import annotations

import marshmallow as ma
from flask import current_app
from flask_smorest import Blueprint

from marketplace import audit, checkpoints, reference
from marketplace.db import db
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, token_required
from marketplace.models import OrgKind

blp = Blueprint("platform_api", __name__, url_prefix="/api/v1", description="Identity and audit")


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
    code = ma.fields.String(allow_none=True, metadata={"description": "what went wrong"})
    checkpoints_checked = ma.fields.Integer(required=True)
    first_bad_checkpoint = ma.fields.Integer(
        allow_none=True, metadata={"description": "sequence of the checkpoint that does not match"}
    )
    notice = ma.fields.String(allow_none=True)


class CheckpointOut(ma.Schema):
    """A signed checkpoint, exactly as its downloadable file."""

    version = ma.fields.Integer(required=True)
    log = ma.fields.String(required=True)
    sequence = ma.fields.Integer(required=True)
    count = ma.fields.Integer(required=True)
    head_id = ma.fields.Integer(required=True)
    head_hash = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)
    key_id = ma.fields.String(required=True)
    signature = ma.fields.String(required=True)


@blp.get("/me")
@token_required()
@blp.response(200, MeOut)
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
@token_required([OrgKind.GOVERNMENT, OrgKind.PLATFORM])
@blp.response(200, VerifyOut)
def verify_audit() -> audit.VerifyResult:
    """Walk the hash chain of the audit log, check it against every signed checkpoint, and
    name the first row or checkpoint that does not match."""
    return checkpoints.verify_app(db.session, current_app)


@blp.get("/audit/checkpoints")
@token_required([OrgKind.GOVERNMENT, OrgKind.PLATFORM])
@blp.response(200, CheckpointOut(many=True))
def audit_checkpoints() -> list[dict[str, object]]:
    """The latest signed checkpoints, newest first, each as its file (verify the signature
    with the platform's audit public key)."""
    return [checkpoint.document() for checkpoint in checkpoints.listing(db.session)]


class RegionQuery(ma.Schema):
    parent = ma.fields.String(
        load_default=None,
        validate=ma.validate.Regexp(r"^[0-9]{6}$", error="A region code has 6 digits."),
        metadata={"description": "GB/T 2260 code; omit for the provinces"},
    )


class RegionOut(ma.Schema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    level = ma.fields.Integer(
        required=True, metadata={"description": "1 province, 2 city, 3 district"}
    )
    leaf = ma.fields.Boolean(required=True)


class IndustryOut(ma.Schema):
    code = ma.fields.String(required=True)
    section = ma.fields.String(required=True)
    name_zh = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)


@blp.get("/regions")
@blp.arguments(RegionQuery, location="query")
@blp.response(200, RegionOut(many=True))
@blp.alt_response(404, schema=ErrorSchema)
def regions(args: dict[str, str | None]) -> list[dict[str, object]]:
    """GB/T 2260 regions: the provinces, or the children of ``parent``."""
    parent = args["parent"]
    if parent is not None and reference.region(parent) is None:
        raise ApiError(404, "Unknown region code.", fields={"parent": ["Unknown region code."]})
    return [
        {"code": r.code, "name": r.name, "level": r.level, "leaf": reference.is_leaf_region(r.code)}
        for r in reference.children(parent)
    ]


@blp.get("/industries")
@blp.response(200, IndustryOut(many=True))
def industries() -> list[reference.Industry]:
    """The 41 GB/T 4754 industrial classes organizations and solutions are tagged with."""
    return reference.industries()
