"""A program's rules through the JSON API, for its officers: stacking with other programs
and the combined cap, the conditions before settlement, and co-funders; and, for a
co-funder, its share of a program another organization runs. Each endpoint calls the
service the rules page calls."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from marketplace.api_fields import DerivedList, DerivedNested
from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind
from vouchers import cofunding, settlement_conditions, stacking
from vouchers.models import Program

blp = Blueprint(
    "voucher_rules_api",
    __name__,
    url_prefix="/api/v1",
    description="Voucher programs: stacking, co-funding and settlement conditions",
)
GOVERNMENT = [OrgKind.GOVERNMENT]
_ID = ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2**31 - 1))


class StackingIn(ma.Schema):
    partner_program_ids = ma.fields.List(
        _ID, load_default=list, validate=ma.validate.Length(max=stacking.MAX_PARTNERS)
    )
    combined_cap_bp = ma.fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=ma.validate.Range(min=1, max=10_000),
        metadata={
            "description": "all programs on one invoice together, basis points of the "
            "eligible amount; null with no partners removes the rule"
        },
    )


class ConditionsIn(ma.Schema):
    require_fapiao = ma.fields.Boolean(load_default=False)
    require_acceptance = ma.fields.Boolean(load_default=False)
    min_days_used = ma.fields.Integer(
        strict=True, allow_none=True, load_default=None,
        validate=ma.validate.Range(min=1, max=3650),
    )  # fmt: skip


class FunderIn(ma.Schema):
    organization_id = ma.fields.Integer(
        strict=True, required=True, validate=ma.validate.Range(min=1, max=2**31 - 1)
    )
    weight = ma.fields.Integer(
        strict=True, required=True, validate=ma.validate.Range(min=1, max=cofunding.MAX_WEIGHT)
    )


class FundersIn(ma.Schema):
    funders = ma.fields.List(
        ma.fields.Nested(FunderIn),
        required=True,
        validate=ma.validate.Length(max=cofunding.MAX_FUNDERS),
    )


class FunderOut(ma.Schema):
    """A co-funder's :class:`~vouchers.cofunding` figures."""

    organization_id = ma.fields.Integer(attribute="organization.id", required=True)
    name = ma.fields.String(attribute="organization.name", required=True)
    weight = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    settled_fen = ma.fields.Integer(required=True)


class StackingOut(ma.Schema):
    partner_program_ids = ma.fields.List(ma.fields.Integer(), required=True)
    combined_cap_bp = ma.fields.Integer(allow_none=True, required=True)


class ConditionsOut(ma.Schema):
    require_fapiao = ma.fields.Boolean(required=True)
    require_acceptance = ma.fields.Boolean(required=True)
    min_days_used = ma.fields.Integer(allow_none=True, required=True)


class RulesOut(ma.Schema):
    """A :class:`~vouchers.models.Program`'s rules."""

    program_id = ma.fields.Integer(attribute="id", required=True)
    stacking = DerivedNested(
        lambda program: stacking.rule_of(db.session, program),
        StackingOut,
        allow_none=True,
        required=True,
    )
    settlement_conditions = DerivedNested(
        lambda program: settlement_conditions.condition_of(db.session, program),
        ConditionsOut,
        allow_none=True,
        required=True,
    )
    funders = DerivedList(
        lambda program: cofunding.figures(db.session, program),
        ma.fields.Nested(FunderOut),
        required=True,
    )


def _program(program_id: int, *, funder_may_read: bool = False) -> Program:
    program = db.session.get(Program, program_id)
    org_id = current_actor().organization.id
    if program is None:
        raise ApiError(404, _("No such voucher program."))
    if program.can_manage(org_id):
        return program
    if funder_may_read and cofunding.is_funder(db.session, program, org_id):
        return program
    raise ApiError(404, _("No such voucher program."))


@blp.get("/voucher-programs/<int:program_id>/rules")
@token_required(GOVERNMENT)
@blp.response(200, RulesOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_rules(program_id: int) -> Program:
    """The program's stacking rule, settlement conditions and funders with their shares
    (a co-funder may read them too)."""
    return _program(program_id, funder_may_read=True)


@blp.put("/voucher-programs/<int:program_id>/stacking")
@token_required(GOVERNMENT, write=True)
@blp.arguments(StackingIn)
@blp.response(200, RulesOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def put_stacking(body: dict[str, Any], program_id: int) -> Program:
    """Which programs this one may share an invoice with, and the combined cap."""
    program = _program(program_id)
    with service_call():
        stacking.set_rule(
            db.session,
            program,
            actor=current_actor(),
            partner_program_ids=body["partner_program_ids"],
            combined_cap_bp=body["combined_cap_bp"],
            now=utcnow(),
        )
    return program


@blp.put("/voucher-programs/<int:program_id>/settlement-conditions")
@token_required(GOVERNMENT, write=True)
@blp.arguments(ConditionsIn)
@blp.response(200, RulesOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def put_conditions(body: dict[str, Any], program_id: int) -> Program:
    """What a redemption must show before it is settled (fapiao; acceptance or days)."""
    program = _program(program_id)
    with service_call():
        settlement_conditions.set_conditions(
            db.session, program, actor=current_actor(), now=utcnow(), **body
        )
    return program


@blp.put("/voucher-programs/<int:program_id>/funders")
@token_required(GOVERNMENT, write=True)
@blp.arguments(FundersIn)
@blp.response(200, RulesOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def put_funders(body: dict[str, Any], program_id: int) -> Program:
    """Co-funders of a draft program in a ratio; an empty list: the owner pays alone."""
    program = _program(program_id)
    with service_call():
        cofunding.set_funders(
            db.session,
            program,
            actor=current_actor(),
            funders=[(f["organization_id"], f["weight"]) for f in body["funders"]],
        )
    return program
