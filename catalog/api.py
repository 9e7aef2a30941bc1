"""GET /api/v1/solutions (search) and GET /api/v1/solutions/{slug} (DESIGN.md section 6)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response, jsonify, request
from flask_babel import gettext as _
from flask_smorest import Blueprint
from sqlalchemy.orm import selectinload

from catalog import indexing, sync
from catalog.api_schemas import Listed, SolutionDetailOut, SolutionSummaryOut, TombstoneOut
from catalog.models import Solution, SolutionRevision
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
        # Dumped here, as the ETag is the digest of the answer itself.
        payload = SearchOut().dump(_sync_page(args["updated_since"], args["per_page"]))
        digest = hashlib.sha256(
            json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()[:32]
        if digest in request.if_none_match:
            return Response(status=304, headers={"ETag": f'"{digest}"'})
        response = jsonify(payload)
        response.headers["ETag"] = f'"{digest}"'
        return response
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
        Listed(solution, solution.published, rating=ratings.get(hit.id), highlights=hit.highlights)
        for hit in result.hits
        # the index may lag a delisting by a moment
        if (solution := solutions.get(hit.id)) is not None and solution.published is not None
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
        "items": [
            Listed(s, s.published, rating=ratings.get(s.id))
            for s in page.published
            if s.published is not None
        ],
        "facets": {},
        "did_you_mean": None,
        "fuzzy": False,
        "tombstones": page.tombstones,
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@blp.get("/solutions/<slug>")
@blp.response(200, SolutionDetailOut)
@blp.alt_response(404, schema=ErrorSchema)
def solution_detail(slug: str) -> Listed:
    """A published solution with its plans."""
    solution = db.session.scalar(
        sa.select(Solution).where(Solution.slug == slug, Solution.is_public)
    )
    if solution is None or solution.published is None:
        raise ApiError(404, _("No published solution has this address."))
    rating = indexing.ratings_by_solution(db.session, [solution.id]).get(solution.id)
    return Listed(solution, solution.published, rating=rating)
