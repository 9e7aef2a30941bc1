"""The public storefront: home, search, industry and scenario pages, the solution page with
its price calculator, and side-by-side comparison.

Only published solutions are ever shown; drafts, rejected and delisted listings answer 404
(their vendor and the operator preview them in the console). Listing pages run through
catalog/views/listing.py; the calculator's figures come from catalog/estimates.py.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from catalog import indexing, services, taxonomy
from catalog.api_schemas import Listed, PlanOut, SolutionDetailOut
from catalog.claims import claim_sentences, payment_claims
from catalog.estimates import EstimateError, estimate, number, unit_price
from catalog.models import BillingModel, Plan, Rating, Solution
from catalog.search import InvalidQuery, SearchQuery, SearchResult, SearchUnavailable
from catalog.views.cards import cards, localized
from catalog.views.labels import facet_label, scenario_name
from catalog.views.listing import (
    SORT_LABELS,
    Listing,
    hits_as_cards,
    listing_results,
    parse_listing,
    public_solutions,
    summaries,
)
from marketplace.db import db
from marketplace.pagecache import fill, fragment, hole

bp = Blueprint("storefront", __name__)

# The public pages that are the same for every visitor who is not signed in: cached whole
# (marketplace/pagecache.py) under the search index's version.
CACHEABLE = (
    "storefront.home",
    "storefront.search",
    "storefront.solution",
    "storefront.industry",
    "storefront.scenario",
)

FEATURED_COUNT = 8
TOP_INDUSTRIES = 12  # on the home page, before "all industries"
MAX_COMPARE = 4
COMPARE_CANDIDATES = 5
RECENT_REVIEWS = 5
# The API's solution, less the rendered description (the page renders it in its shared body).
DETAIL_PAGE = SolutionDetailOut(exclude=("description_html",))
# Suggested on the home page and when a search finds nothing.
POPULAR_SCENARIOS = (
    "pm.quality",
    "pm.equipment",
    "pm.energy",
    "pm.scheduling",
    "pm.execution",
    "lg.warehouse",
    "ms.crm",
    "op.finance",
    "ai.compute",
    "ai.agent",
)


@bp.context_processor
def display_helpers() -> dict[str, Any]:
    return {
        "localized": localized,
        "scenario_name": scenario_name,
        "facet_label": facet_label,
        "unit_price": unit_price,
        "payment_claims": payment_claims,
        "claim_sentences": claim_sentences,
        "number": number,
        "max_compare": MAX_COMPARE,
        "popular_scenarios": POPULAR_SCENARIOS,
    }


# The solution, with the catalog's version for the page's shared fragments in the same
# round trip.
_SOLUTION_PAGE = indexing.with_catalog_heads(services.PUBLIC_SOLUTION)


def _public_or_404(slug: str) -> Solution:
    row = db.session.execute(_SOLUTION_PAGE, {"slug": slug}).unique().first()
    if row is None or row[0].published is None:
        abort(404)
    solution, head, vocabulary_version = row
    indexing.known_heads(head, vocabulary_version)
    return solution


# --- home ------------------------------------------------------------------------------


def _catalog_overview() -> SearchResult | None:
    """Counts of published solutions by facet, from the index; None when it is unavailable
    (the home page then shows no counts)."""
    try:
        return indexing.search_index().search(SearchQuery(per_page=1))
    except SearchUnavailable:
        return None


def _featured(limit: int = FEATURED_COUNT) -> list[int]:
    """Featured solutions first, then the best rated, then the newest."""
    stars = (
        sa.select(Rating.solution_id, sa.func.avg(Rating.stars).label("average"))
        .group_by(Rating.solution_id)
        .subquery()
    )
    ids = list(
        db.session.scalars(
            sa.select(Solution.id)
            .outerjoin(stars, stars.c.solution_id == Solution.id)
            .where(Solution.is_public)
            .order_by(
                Solution.featured.desc(),
                stars.c.average.desc().nulls_last(),
                Solution.published_at.desc(),
                Solution.id.desc(),
            )
            .limit(limit)
        )
    )
    return ids


@bp.get("/")
def home() -> str:
    def catalog_block() -> str:
        overview = _catalog_overview()
        industry_counts = overview.facets.get("industry", {}) if overview else {}
        ranked = sorted(
            taxonomy.industries(), key=lambda i: (-industry_counts.get(i.code, 0), i.code)
        )
        return render_template(
            "catalog/storefront/_home_catalog.html",
            overview=overview,
            scenario_counts=overview.facets.get("scenario", {}) if overview else {},
            industry_counts=industry_counts,
            top_industries=ranked[:TOP_INDUSTRIES],
            all_industries=taxonomy.industries(),
            groups=taxonomy.scenario_groups(),
            featured=cards(_featured()),
        )

    # The same for everyone at this catalog version: shared, signed in or not.
    block = fragment(("home",), indexing.page_version, catalog_block)
    return render_template("catalog/storefront/home.html", catalog_block=block)


# --- listing pages ---------------------------------------------------------------------


def _render_listing(
    template: str, listing: Listing, *, unavailable: int = 200, **context: Any
) -> Any:
    """A listing page; ``unavailable`` is its status when the search index cannot be read
    (a landing page still works as a page of links and says so; the search page is 503)."""
    results = listing_results(listing, sort_labels=SORT_LABELS)
    status = unavailable if listing.unavailable else listing.status
    page = render_template(template, listing=listing, results=results, **context)
    return page, status


@bp.get("/search")
def search() -> Any:
    listing = parse_listing("storefront.search")
    return _render_listing("catalog/storefront/search.html", listing, unavailable=503)


@bp.get("/industries/<code>")
def industry(code: str) -> Any:
    found = taxonomy.industry(code)
    if found is None:
        abort(404)
    listing = parse_listing("storefront.industry", {"industry": code}, code=code)
    return _render_listing(
        "catalog/storefront/landing.html", listing, industry=found, scenario=None
    )


@bp.get("/scenarios/<code>")
def scenario(code: str) -> Any:
    found = taxonomy.scenario(code)
    if found is None:
        abort(404)
    group = next(g for g in taxonomy.scenario_groups() if g.code == found.group)
    listing = parse_listing("storefront.scenario", {"scenario": code}, code=code)
    return _render_listing(
        "catalog/storefront/landing.html",
        listing,
        industry=None,
        scenario=found,
        group=group,
    )


# --- the solution page and its price calculator ----------------------------------------


def _offered_plan(solution: Solution, raw_id: str | None) -> Plan | None:
    """A plan of the published revision, by the id in the URL."""
    if not raw_id or not raw_id.isdigit() or solution.published is None:
        return None
    return next((p for p in solution.published.plans if p.id == int(raw_id)), None)


@bp.get("/solutions/<slug>")
def solution(slug: str) -> Any:
    found = _public_or_404(slug)
    revision = found.published
    assert revision is not None
    # The calculator without JavaScript: its form sends the plan and the numbers here.
    calculation: dict[str, Any] = {}
    plan = _offered_plan(found, request.args.get("plan"))
    if plan is not None and plan.billing_model is not BillingModel.SUBSCRIPTION:
        calculation["plan_id"] = plan.id
        try:
            calculation["result"] = estimate(plan, request.args)
        except EstimateError as exc:
            calculation["error"] = exc

    def shared_content() -> str:
        rating = indexing.ratings_by_solution(db.session, [found.id]).get(found.id)
        reviews = db.session.scalars(
            sa.select(Rating)
            .where(Rating.solution_id == found.id, Rating.comment != "")
            .order_by(Rating.created_at.desc())
            .limit(RECENT_REVIEWS)
        )
        return render_template(
            "catalog/storefront/_solution_content.html",
            solution=found,
            revision=revision,
            item=DETAIL_PAGE.dump(Listed(found, revision, rating=rating)),
            calculation=calculation,
            reviews=list(reviews),
            hole=hole,
        )

    # The same for everyone at this catalog version (a rating, or a vendor's change of
    # name or verification, moves the version too), unless it shows a calculation.
    if calculation:
        content = Markup(shared_content())
    else:
        key = ("solution", found.id, revision.id)
        content = fragment(key, indexing.page_version, shared_content)
    content = fill(
        content,
        start=Markup(
            render_template("billing/_start_panel.html", solution=found, revision=revision)
        ),
        ask=Markup(render_template("catalog/_ask_vendor.html", solution=found)),
    )
    page = render_template(
        "catalog/storefront/solution.html",
        title=localized(revision.name, revision.name_en),
        content=content,
    )
    return page, 422 if "error" in calculation else 200


def _json_error(status: int, code: str, message: str, field: str | None = None) -> Any:
    fields = {field: [message]} if field else {}
    response: Response = jsonify(error={"code": code, "message": message, "fields": fields})
    return response, status


@bp.get("/solutions/<slug>/estimate")
def estimate_json(slug: str) -> Any:
    """The calculator's answer as JSON, for price-calculator.js."""
    found = services.public_solution(db.session, slug)
    if found is None or found.published is None:
        return _json_error(404, "not_found", _("No published solution has this address."))
    plan = _offered_plan(found, request.args.get("plan"))
    if plan is None:
        return _json_error(404, "not_found", _("This solution has no such plan."), "plan")
    try:
        return jsonify(estimate(plan, request.args))
    except EstimateError as exc:
        return _json_error(422, "validation_failed", exc.message, exc.field)


# --- compare ---------------------------------------------------------------------------


@bp.get("/compare")
def compare() -> str:
    asked = list(dict.fromkeys(s.strip() for s in request.args.getlist("s")[:20] if s.strip()))
    by_slug = {s.slug: s for s in public_solutions(Solution.slug.in_(asked))} if asked else {}
    available = [by_slug[slug] for slug in asked if slug in by_slug]
    shown = available[:MAX_COMPARE]
    slugs = [s.slug for s in shown]
    items = summaries(shown)
    for item, solution in zip(items, shown, strict=True):
        assert solution.published is not None
        item["plans"] = PlanOut(many=True).dump(solution.published.plans)
        item["remove_url"] = url_for(".compare", s=[x for x in slugs if x != solution.slug])
    q = request.args.get("q", "").strip()
    return render_template(
        "catalog/storefront/compare.html",
        items=items,
        slugs=slugs,
        too_many=len(available) > MAX_COMPARE,
        missing=len(asked) - len(available),
        q=q,
        candidates=_compare_candidates(q, slugs),
    )


def _compare_candidates(text: str, slugs: list[str]) -> list[dict[str, Any]] | None:
    """Search hits to add to the comparison, so adding works without JavaScript too;
    None when nothing was searched."""
    if not text or len(slugs) >= MAX_COMPARE:
        return None
    try:
        result = indexing.search_index().search(
            SearchQuery(q=text, per_page=COMPARE_CANDIDATES + 4)
        )
    except (InvalidQuery, SearchUnavailable):
        return []
    cards = [card for card in hits_as_cards(result) if card["slug"] not in slugs]
    for card in cards:
        card["add_url"] = url_for(".compare", s=[*slugs, card["slug"]])
    return cards[:COMPARE_CANDIDATES]
