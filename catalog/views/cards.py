"""Solution cards (templates/catalog/storefront/_solution_card.html), rendered once per what
they show.

A card is a pure function of the published revision (name, summary, plans, badges), the
vendor's name, the rating, the search's highlights and the page's language: nothing on it
belongs to the viewer (the compare box keeps its state in the browser). So a list of cards
costs one light query (which of the solutions are public, their revision and vendor) and
the ratings; only cards this process has not rendered yet load their revision and plans
and go through the template. Rendered cards are kept in each process's memory, the newest
``CARD_CACHE_SIZE`` of them; the key holds everything the card shows, so a card is never
stale, whatever another host changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from catalog import indexing
from catalog.api_schemas import Listed, SolutionSummaryOut
from catalog.claims import claim_sentences
from catalog.models import Solution, SolutionRevision
from catalog.views.labels import facet_label
from marketplace.db import db
from marketplace.i18n import current_language
from marketplace.models import Organization
from marketplace.pagecache import LRU

CARD_TEMPLATE = "catalog/storefront/_solution_card.html"
CARD_CACHE_SIZE = 4096  # about 2 KB each
SUMMARY = SolutionSummaryOut()  # a card shows what the API's search answers


def localized(chinese: str | None, english: str | None) -> str:
    """The English text on English pages when there is one, else the Chinese."""
    if current_language() == "en" and english:
        return english
    return chinese or ""


@dataclass(frozen=True)
class Card:
    id: int
    slug: str
    html: Markup


rendered: LRU[Markup] = LRU(CARD_CACHE_SIZE)


def render_card(item: Mapping[str, Any]) -> Markup:
    """One card from a summary (catalog/api_schemas.py), in the request's language."""
    template = current_app.jinja_env.get_template(CARD_TEMPLATE)
    return Markup(
        template.render(
            item=item,
            locale=current_language(),
            localized=localized,
            facet_label=facet_label,
            claim_sentences=claim_sentences,
        )
    )


def cards(ids: Sequence[int], highlights: Mapping[int, dict[str, str]] | None = None) -> list[Card]:
    """The cards of the solutions ``ids`` that are public now, in that order."""
    if not ids:
        return []
    highlights = highlights or {}
    rows = db.session.execute(
        sa.select(
            Solution.id,
            Solution.slug,
            Solution.published_revision_id,
            Organization.name,
            Organization.region_code,
        )
        .join(Organization, Organization.id == Solution.vendor_id)
        .where(
            Solution.is_public, Solution.id.in_(ids), Solution.published_revision_id.is_not(None)
        )
    ).all()
    ratings = indexing.ratings_by_solution(db.session, [row.id for row in rows])
    language = current_language()
    keys = {
        row.id: (
            row.id,
            row.slug,
            row.published_revision_id,
            row.name,
            row.region_code,
            ratings.get(row.id),
            language,
            tuple(sorted((highlights.get(row.id) or {}).items())),
        )
        for row in rows
    }
    html = {id_: found for id_, key in keys.items() if (found := rendered.get(key)) is not None}
    missing = [id_ for id_ in keys if id_ not in html]
    if missing:
        for solution in db.session.scalars(
            sa.select(Solution)
            .where(Solution.id.in_(missing))
            .options(
                selectinload(Solution.vendor),
                selectinload(Solution.published).selectinload(SolutionRevision.plans),
            )
        ):
            key = keys[solution.id]
            if solution.published is None:
                continue
            item = SUMMARY.dump(
                Listed(
                    solution,
                    solution.published,
                    rating=ratings.get(solution.id),
                    highlights=highlights.get(solution.id),
                )
            )
            html[solution.id] = render_card(item)
            # Kept only when it is what the key says (not changed between the two reads).
            if (solution.published_revision_id, solution.vendor.name) == (key[2], key[3]):
                rendered.put(key, html[solution.id])
    slugs = {row.id: row.slug for row in rows}
    return [Card(id_, slugs[id_], html[id_]) for id_ in dict.fromkeys(ids) if id_ in html]
