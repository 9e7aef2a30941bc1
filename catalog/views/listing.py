"""Lists of published solutions for the storefront: the search behind a listing URL (search,
industry and scenario pages), its facet boxes and page links, and solutions as cards.

Lists come from the search index, which holds only published solutions, and are loaded
again from the database with ``is_public``: a listing delisted a moment ago never shows,
even while the index lags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from catalog import indexing
from catalog.api_schemas import Listed, SolutionSummaryOut
from catalog.models import Solution, SolutionRevision
from catalog.search import FACETS, InvalidQuery, SearchQuery, SearchResult, SearchUnavailable
from catalog.views.cards import Card, cards
from catalog.views.labels import facet_label
from marketplace.db import db
from marketplace.pagecache import fragment

RESULTS_TEMPLATE = "catalog/storefront/_results.html"
PER_PAGE = 20
SUMMARY = SolutionSummaryOut()
FACET_PREVIEW = 8  # facet values shown before "more"
LISTING_ARGS = ("q", *FACETS, "sort", "page")  # what a listing URL carries

FACET_TITLES = {
    "industry": _l("Industry"),
    "scenario": _l("Scenario"),
    "delivery": _l("Delivery"),
    "billing_model": _l("Payment model"),
    "voucher_kind": _l("Vouchers accepted"),
    "price_band": _l("Monthly price"),
}
SORT_LABELS = {
    "relevance": _l("Best match"),
    "price_asc": _l("Price: low to high"),
    "price_desc": _l("Price: high to low"),
    "newest": _l("Newest"),
    "rating": _l("Best rated"),
}
INVALID_ARGUMENT = {
    "industry": _l("The industry in this address is not one we know."),
    "scenario": _l("The scenario in this address is not one we know."),
    "page": _l("The page number in this address is not valid."),
    "q": _l("The search text is too long; use at most 200 characters."),
}


# --- published solutions as cards ------------------------------------------------------


def public_solutions(*criteria: sa.ColumnElement[bool]) -> list[Solution]:
    """Published solutions matching ``criteria``, with what a card or comparison shows."""
    return list(
        db.session.scalars(
            sa.select(Solution)
            .where(Solution.is_public, *criteria)
            .options(
                selectinload(Solution.vendor),
                selectinload(Solution.published).selectinload(SolutionRevision.plans),
            )
        )
    )


def summaries(
    solutions: Iterable[Solution], highlights: Mapping[int, dict[str, str]] | None = None
) -> list[dict[str, Any]]:
    """Solutions as the compare page shows them: the JSON API's summary
    (catalog/api_schemas.py)."""
    solutions = list(solutions)
    ratings = indexing.ratings_by_solution(db.session, (s.id for s in solutions))
    return [
        SUMMARY.dump(
            Listed(
                s, s.published, rating=ratings.get(s.id), highlights=(highlights or {}).get(s.id)
            )
        )
        for s in solutions
        if s.published is not None
    ]


def hits_as_cards(result: SearchResult) -> list[dict[str, Any]]:
    """The hits of a search in their order, minus any the database no longer publishes."""
    found = {s.id: s for s in public_solutions(Solution.id.in_([hit.id for hit in result.hits]))}
    ordered = [found[hit.id] for hit in result.hits if hit.id in found]
    return summaries(ordered, {hit.id: hit.highlights for hit in result.hits})


# --- listing pages ---------------------------------------------------------------------


@dataclass
class ListingLinks:
    """URLs of one listing page (endpoint and path arguments) with its query arguments."""

    endpoint: str
    view_args: dict[str, str]
    params: dict[str, str]

    def url(self, **changes: str | int | None) -> str:
        """This listing with some arguments changed (None removes one). Changing anything
        but the page goes back to the first page."""
        params = dict(self.params)
        if set(changes) - {"page"}:
            params.pop("page", None)
        for name, value in changes.items():
            if value is None or value == "":
                params.pop(name, None)
            else:
                params[name] = str(value)
        if params.get("sort") == "relevance":
            del params["sort"]
        if params.get("page") == "1":
            del params["page"]
        values: dict[str, Any] = {**self.view_args, **params}
        return url_for(self.endpoint, **values)

    @property
    def has_filters(self) -> bool:
        return any(name in self.params for name in FACETS)

    def without_filters(self) -> str:
        return self.url(**dict.fromkeys(FACETS))

    def pages(self, current: int, last: int) -> list[tuple[int, str] | None]:
        """Links to the first, the last and the pages near the current one; None is a gap."""
        shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
        links: list[tuple[int, str] | None] = []
        previous = 0
        for page in shown:
            if page - previous > 1:
                links.append(None)
            links.append((page, self.url(page=page)))
            previous = page
        return links


@dataclass
class FacetOption:
    value: str
    label: str
    count: int
    url: str  # the listing with this value chosen (or, when chosen, without it)
    selected: bool


@dataclass
class FacetBox:
    name: str
    title: str
    options: list[FacetOption]
    clear_url: str | None  # set when a value is chosen

    @property
    def preview(self) -> list[FacetOption]:
        return self.options[:FACET_PREVIEW]

    @property
    def more(self) -> list[FacetOption]:
        return self.options[FACET_PREVIEW:]


@dataclass
class Listing:
    """What a listing page shows: results, facet boxes, or why there are none."""

    links: ListingLinks
    fixed: dict[str, str] = field(default_factory=dict)  # filters of the page itself
    query: SearchQuery | None = None
    result: SearchResult | None = None
    cards: list[Card] = field(default_factory=list)
    facets: list[FacetBox] = field(default_factory=list)
    error: str | None = None  # a malformed argument in the URL, for people
    error_field: str | None = None
    unavailable: bool = False  # the search index cannot be read

    @property
    def status(self) -> int:
        return 422 if self.error else 200


def parse_listing(
    endpoint: str, fixed: Mapping[str, str] | None = None, **view_args: str
) -> Listing:
    """The search a listing URL describes, not yet run. ``fixed`` filters belong to the page
    itself (the industry of an industry page) and are neither read from nor written to the
    URL."""
    fixed = dict(fixed or {})
    params = {
        name: value.strip()
        for name in LISTING_ARGS
        if name not in fixed and (value := request.args.get(name, "")).strip()
    }
    listing = Listing(links=ListingLinks(endpoint, view_args, params), fixed=fixed)
    try:
        listing.query = SearchQuery.from_args({**params, **fixed, "per_page": str(PER_PAGE)})
    except InvalidQuery as exc:
        listing.error_field = exc.field
        listing.error = str(
            INVALID_ARGUMENT.get(exc.field, _l("A filter in this address is not valid."))
        )
    return listing


def run_search(listing: Listing) -> None:
    """Run a parsed listing's search: its results as cards, and its facet boxes."""
    if listing.query is None:
        return
    try:
        listing.result = indexing.search_index().search(listing.query)
    except SearchUnavailable:
        listing.unavailable = True
        return
    hits = listing.result.hits
    listing.cards = cards([hit.id for hit in hits], {hit.id: hit.highlights for hit in hits})
    listing.facets = [
        _facet_box(listing, facet, listing.result.facets.get(facet, {}))
        for facet in FACETS
        if facet not in listing.fixed
    ]


def listing_results(listing: Listing, **context: Any) -> Markup:
    """The results block of a listing page (filters, cards, sort and pages): the same for
    everyone who opens this address in this language while the catalog is at this version
    (marketplace/pagecache.py), so it is rendered once and shared, signed in or not. After
    a miss, ``listing`` holds what the search found (``unavailable`` included)."""

    def render() -> str:
        run_search(listing)
        return render_template(RESULTS_TEMPLATE, listing=listing, **context)

    if listing.error:
        return Markup(render())
    key = (
        "listing",
        listing.links.endpoint,
        tuple(sorted(listing.links.view_args.items())),
        tuple(sorted(listing.links.params.items())),
        tuple(sorted(listing.fixed.items())),
    )
    return fragment(key, indexing.page_version, render)


def _facet_box(listing: Listing, facet: str, counts: Mapping[str, int]) -> FacetBox:
    chosen = getattr(listing.query, facet)
    options = [
        FacetOption(
            value=value,
            label=facet_label(facet, value),
            count=count,
            url=listing.links.url(**{facet: None if value == chosen else value}),
            selected=value == chosen,
        )
        for value, count in counts.items()
    ]
    options.sort(key=lambda option: not option.selected)  # the chosen value first, stable
    clear = listing.links.url(**{facet: None}) if chosen else None
    return FacetBox(facet, str(FACET_TITLES[facet]), options, clear)
