"""GET /api/v1/solutions (search) and GET /api/v1/solutions/{slug} (DESIGN.md section 6)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, request
from flask_babel import gettext as _
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from catalog import indexing, sync
from catalog.models import Solution, SolutionRevision
from catalog.presenters import detail_dict, summary_dict
from catalog.search import (
    BILLING_MODELS,
    DELIVERIES,
    MAX_PER_PAGE,
    PRICE_BAND_NAMES,
    SORTS,
    VOUCHER_KINDS,
    InvalidQuery,
    SearchQuery,
    SearchUnavailable,
)
from marketplace.db import db
from marketplace.errors import DomainError
from marketplace.jsonapi import ApiError, ErrorSchema, Fen

blp = Blueprint("catalog_api", __name__, url_prefix="/api/v1", description="Solutions")


class SearchArgs(ma.Schema):
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    industry = ma.fields.String(metadata={"description": "GB/T 4754 code, e.g. C33"})
    scenario = ma.fields.String(metadata={"description": "scenario code, e.g. pm.quality"})
    delivery = ma.fields.String(validate=ma.validate.OneOf(DELIVERIES))
    billing_model = ma.fields.String(validate=ma.validate.OneOf(BILLING_MODELS))
    voucher_kind = ma.fields.String(validate=ma.validate.OneOf(VOUCHER_KINDS))
    price_band = ma.fields.String(validate=ma.validate.OneOf(PRICE_BAND_NAMES))
    max_monthly_fen = Fen(minimum=0, maximum=10**12, in_query=True)
    sort = ma.fields.String(load_default="relevance", validate=ma.validate.OneOf(SORTS))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=10_000))
    per_page = ma.fields.Integer(
        load_default=20, validate=ma.validate.Range(min=1, max=MAX_PER_PAGE)
    )
    updated_since = ma.fields.String(
        validate=ma.validate.Length(min=1, max=200),
        metadata={
            "description": "Catalog sync: an ISO 8601 time to start from, then the "
            "`next_cursor` of the previous answer. Answers what changed after it (oldest "
            "first, `per_page` at a time) instead of searching; delisted solutions come as "
            "`tombstones`. Send the answer's ETag as If-None-Match: 304 when nothing changed."
        },
    )


class VendorOut(ma.Schema):
    name = ma.fields.String(required=True)
    region_code = ma.fields.String(required=True)
    about = ma.fields.String()
    about_en = ma.fields.String()
    verified = ma.fields.Boolean()


class BadgesOut(ma.Schema):
    small = ma.fields.Boolean(
        required=True, metadata={"description": "小: lowest monthly price <= ¥2,000"}
    )
    fast = ma.fields.Boolean(required=True, metadata={"description": "快: deploys in <= 7 days"})
    light = ma.fields.Boolean(
        required=True, metadata={"description": "轻: saas, maas, agent or api"}
    )
    precise = ma.fields.Boolean(required=True, metadata={"description": "准: one or two scenarios"})


class PaymentClaimsOut(ma.Schema):
    """What the listing may promise about paying, derived from its plans (catalog/claims.py)."""

    trial_days = ma.fields.Integer(required=True, metadata={"description": "0 for none"})
    pay_after_use = ma.fields.Boolean(required=True)
    pay_for_results = ma.fields.Boolean(required=True)
    no_upfront_payment = ma.fields.Boolean(required=True)


class SolutionSummaryOut(ma.Schema):
    slug = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    summary = ma.fields.String(required=True)
    summary_en = ma.fields.String(required=True)
    vendor = ma.fields.Nested(VendorOut, required=True)
    industries = ma.fields.List(ma.fields.String(), required=True)
    scenarios = ma.fields.List(ma.fields.String(), required=True)
    delivery = ma.fields.String(required=True)
    deploy_days = ma.fields.Integer(required=True)
    voucher_kinds = ma.fields.List(ma.fields.String(), required=True)
    billing_models = ma.fields.List(ma.fields.String(), required=True)
    lowest_monthly_fen = ma.fields.Integer(allow_none=True, required=True)
    badges = ma.fields.Nested(BadgesOut, required=True)
    payment_claims = ma.fields.Nested(PaymentClaimsOut, required=True)
    rating = ma.fields.Float(allow_none=True, required=True)
    rating_count = ma.fields.Integer(required=True)
    published_at = ma.fields.String(allow_none=True, required=True)
    highlights = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())


class TierOut(ma.Schema):
    up_to = ma.fields.Integer(allow_none=True, required=True)
    unit_fen = ma.fields.String(required=True, metadata={"description": "decimal fen"})


class PlanOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    name_en = ma.fields.String(required=True)
    billing_model = ma.fields.String(required=True)
    features = ma.fields.List(ma.fields.String(), required=True)
    vat_rate_bp = ma.fields.Integer(required=True)
    monthly_equivalent_fen = ma.fields.Integer(allow_none=True, required=True)
    price_fen = ma.fields.Integer(allow_none=True)
    interval = ma.fields.String(allow_none=True)
    trial_days = ma.fields.Integer()
    meter = ma.fields.String(allow_none=True)
    unit = ma.fields.String(allow_none=True)
    unit_en = ma.fields.String(allow_none=True)
    tier_mode = ma.fields.String(allow_none=True)
    tiers = ma.fields.List(ma.fields.Nested(TierOut))
    free_units = ma.fields.Integer()
    base_fee_fen = ma.fields.Integer()
    kpi_name = ma.fields.String(allow_none=True)
    kpi_unit = ma.fields.String(allow_none=True)
    kpi_name_en = ma.fields.String(allow_none=True)
    kpi_unit_en = ma.fields.String(allow_none=True)
    direction = ma.fields.String(allow_none=True)
    price_per_unit_fen = ma.fields.String(allow_none=True)
    share_bp = ma.fields.Integer(allow_none=True)
    value_per_unit_fen = ma.fields.String(allow_none=True)
    cap_fen = ma.fields.Integer(allow_none=True)
    verification_days = ma.fields.Integer()


class CaseStudyOut(ma.Schema):
    customer_industry = ma.fields.String(required=True)
    customer = ma.fields.String()
    problem = ma.fields.String(required=True)
    result = ma.fields.String(required=True)


class FaqOut(ma.Schema):
    question = ma.fields.String(required=True)
    answer = ma.fields.String(required=True)


class SupportOut(ma.Schema):
    phone = ma.fields.String()
    email = ma.fields.String()
    wechat = ma.fields.String()
    hours = ma.fields.String()


class SlaOut(ma.Schema):
    availability_bp = ma.fields.Integer(metadata={"description": "9990 = 99.9%"})
    response_hours = ma.fields.Integer()


class SolutionDetailOut(SolutionSummaryOut):
    description = ma.fields.String(required=True, metadata={"description": "Markdown"})
    description_html = ma.fields.String(required=True, metadata={"description": "sanitized HTML"})
    case_studies = ma.fields.List(ma.fields.Nested(CaseStudyOut), required=True)
    faq = ma.fields.List(ma.fields.Nested(FaqOut), required=True)
    support = ma.fields.Nested(SupportOut, required=True)
    sla = ma.fields.Nested(SlaOut, required=True)
    deploy_steps = ma.fields.List(ma.fields.String(), required=True)
    agreement = ma.fields.String(
        required=True,
        metadata={
            "description": "the vendor's service agreement; empty when the platform's standard "
            "agreement applies (the solution page links to it)"
        },
    )
    agreement_version = ma.fields.Integer(
        required=True,
        metadata={"description": "send it as accept_agreement_version to start a plan"},
    )
    plans = ma.fields.List(ma.fields.Nested(PlanOut), required=True)


class TombstoneOut(ma.Schema):
    slug = ma.fields.String(required=True)
    status = ma.fields.String(required=True, metadata={"description": "no longer published"})
    changed_at = ma.fields.String(required=True)


class SearchOut(ma.Schema):
    total = ma.fields.Integer(required=True)
    page = ma.fields.Integer(required=True)
    per_page = ma.fields.Integer(required=True)
    items = ma.fields.List(ma.fields.Nested(SolutionSummaryOut), required=True)
    facets = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer()),
        required=True,
    )
    did_you_mean = ma.fields.String(allow_none=True, required=True)
    fuzzy = ma.fields.Boolean(required=True)
    scenarios = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "scenarios of the problems recognised in q, searched too"},
    )
    strict_total = ma.fields.Integer(
        allow_none=True,
        metadata={
            "description": "set when the search loosened: how many results match every "
            "word (they come first; the others match some of the words)"
        },
    )
    tombstones = ma.fields.List(
        ma.fields.Nested(TombstoneOut), metadata={"description": "catalog sync only"}
    )
    next_cursor = ma.fields.String(metadata={"description": "catalog sync only"})
    has_more = ma.fields.Boolean(metadata={"description": "catalog sync only"})


def _load_public(ids: list[int]) -> dict[int, Solution]:
    rows = db.session.scalars(
        sa.select(Solution)
        .where(Solution.id.in_(ids), Solution.is_public)
        .options(
            selectinload(Solution.vendor),
            selectinload(Solution.published).selectinload(SolutionRevision.plans),
        )
    )
    return {s.id: s for s in rows}


@blp.get("/solutions")
@blp.arguments(SearchArgs, location="query")
@blp.response(200, SearchOut)
@blp.alt_response(422, schema=ErrorSchema)
@blp.alt_response(503, schema=ErrorSchema, description="The search index is unavailable")
@blp.doc(responses={"304": {"description": "Catalog sync: nothing changed since this ETag"}})
def search_solutions(args: dict[str, Any]) -> Any:
    """Search published solutions, with filters and facet counts; with `updated_since`,
    what changed in the catalog after that cursor (catalog sync: send the answer's ETag
    back as If-None-Match for 304 when nothing changed)."""
    if "updated_since" in args:
        payload = _sync_page(args["updated_since"], args["per_page"])
        digest = hashlib.sha256(
            json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:32]
        if digest in request.if_none_match:
            return Response(status=304, headers={"ETag": f'"{digest}"'})
        return payload, 200, {"ETag": f'"{digest}"'}
    try:
        query = SearchQuery(**args)
        result = indexing.search_index().search(query)
    except InvalidQuery as exc:
        raise ApiError(
            422, _("The request has invalid fields."), fields={exc.field: [exc.message]}
        ) from exc
    except SearchUnavailable as exc:
        raise ApiError(
            503, _("Search is unavailable right now; please try again shortly.")
        ) from exc
    solutions = _load_public([hit.id for hit in result.hits])
    ratings = indexing.ratings_by_solution(db.session, solutions)
    items = [
        summary_dict(
            solutions[hit.id],
            solutions[hit.id].published,
            rating=ratings.get(hit.id),
            highlights=hit.highlights,
        )
        for hit in result.hits
        if hit.id in solutions  # the index may lag a delisting by a moment
    ]
    return {
        "total": result.total,
        "page": result.page,
        "per_page": result.per_page,
        "items": items,
        "facets": result.facets,
        "did_you_mean": result.did_you_mean,
        "fuzzy": result.fuzzy,
        "scenarios": list(result.scenarios),
        "strict_total": result.strict_total,
    }


def _sync_page(updated_since: str, per_page: int) -> dict[str, Any]:
    try:
        page = sync.changes(db.session, sync.Cursor.parse(updated_since), limit=per_page)
    except DomainError as exc:
        raise ApiError(422, _("The request has invalid fields."), fields=exc.fields) from exc
    ratings = indexing.ratings_by_solution(db.session, [s.id for s in page.published])
    return {
        "total": len(page.published),
        "page": 1,
        "per_page": per_page,
        "items": [summary_dict(s, s.published, rating=ratings.get(s.id)) for s in page.published],
        "facets": {},
        "did_you_mean": None,
        "fuzzy": False,
        "tombstones": [sync.tombstone_dict(s) for s in page.tombstones],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@blp.get("/solutions/<slug>")
@blp.response(200, SolutionDetailOut)
@blp.alt_response(404, schema=ErrorSchema)
def solution_detail(slug: str) -> dict[str, Any]:
    """A published solution with its plans."""
    solution = db.session.scalar(
        sa.select(Solution).where(Solution.slug == slug, Solution.is_public)
    )
    if solution is None:
        raise ApiError(404, _("No published solution has this address."))
    rating = indexing.ratings_by_solution(db.session, [solution.id]).get(solution.id)
    return detail_dict(solution, solution.published, rating=rating)
