"""What goes into the search index and what comes out: plain values, no database.

The catalog turns its published solutions into :class:`SolutionDoc` records; the storefront
and the JSON API turn request arguments into a :class:`SearchQuery` and render a
:class:`SearchResult`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from catalog.search import taxonomy

DELIVERIES = ("saas", "edge", "maas", "agent", "api", "service")
BILLING_MODELS = ("subscription", "usage", "outcome")
VOUCHER_KINDS = ("cloud", "compute")
SORTS = ("relevance", "price_asc", "price_desc", "newest", "rating")

# Price bands on the lowest monthly-equivalent price, in fen: [low, high).
PRICE_BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("lt500", None, 500_00),
    ("500-2000", 500_00, 2_000_00),
    ("2000-10000", 2_000_00, 10_000_00),
    ("gte10000", 10_000_00, None),
)
NO_PRICE_BAND = "none"  # only usage or outcome plans without a base fee
PRICE_BAND_NAMES = (*(name for name, _, _ in PRICE_BANDS), NO_PRICE_BAND)

FACETS = ("industry", "scenario", "delivery", "billing_model", "voucher_kind", "price_band")

MAX_PER_PAGE = 100
MAX_PAGE = 10_000
MAX_QUERY_CHARS = 200

_INDUSTRY_CODE = re.compile(r"^[A-T]\d{2}$")
_SCENARIO_CODE = re.compile(r"^[a-z]{2}\.[a-z]+$")


def price_band(monthly_fen: int | None) -> str:
    """The price band of a lowest monthly-equivalent price (``"none"`` without one)."""
    if monthly_fen is None:
        return NO_PRICE_BAND
    for name, low, high in PRICE_BANDS:
        if (low is None or monthly_fen >= low) and (high is None or monthly_fen < high):
            return name
    raise AssertionError("the price bands cover every price")  # pragma: no cover


class SearchError(Exception):
    """The index cannot serve this call; the database is unaffected."""


class SearchUnavailable(SearchError):
    """The index directory is missing or unreadable; ``SearchIndex.rebuild`` restores it."""


class IndexBusy(SearchError):
    """Another writer held the index lock past the timeout; mark the rows for a reindex."""


class InvalidQuery(ValueError):
    """A search argument is malformed; ``field`` names it (the API answers 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True, kw_only=True)
class SolutionDoc:
    """One published solution as the index sees it."""

    id: int
    slug: str
    name: str
    name_en: str = ""
    summary: str = ""
    summary_en: str = ""
    description: str = ""  # plain text, Markdown already stripped
    vendor_name: str = ""
    industries: tuple[str, ...] = ()  # GB/T 4754 codes, e.g. "C13"
    scenarios: tuple[str, ...] = ()  # codes from catalog/data/scenarios.csv
    delivery: str = "saas"
    billing_models: tuple[str, ...] = ()
    voucher_kinds: tuple[str, ...] = ()
    monthly_fen: int | None = None  # lowest monthly-equivalent price; None: no base price
    published_at: datetime
    rating: float | None = None  # average stars from buyers with a paid invoice
    rating_count: int = 0

    def __post_init__(self) -> None:
        for name in ("industries", "scenarios", "billing_models", "voucher_kinds"):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f"SolutionDoc.{name} must be a sequence of codes, not a str")
            object.__setattr__(self, name, tuple(value))
        if self.published_at.tzinfo is None:
            raise ValueError("SolutionDoc.published_at must be timezone-aware")

    def to_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["published_at"] = self.published_at.isoformat()
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SolutionDoc:
        return cls(**{**values, "published_at": datetime.fromisoformat(values["published_at"])})


def _known(field_name: str, value: str | None, allowed: tuple[str, ...]) -> None:
    if value is not None and value not in allowed:
        raise InvalidQuery(field_name, f"must be one of {', '.join(allowed)}")


@dataclass
class SearchQuery:
    """A storefront search; single-select filters, validated on creation."""

    q: str = ""
    industry: str | None = None
    scenario: str | None = None
    delivery: str | None = None
    billing_model: str | None = None
    voucher_kind: str | None = None
    max_monthly_fen: int | None = None
    price_band: str | None = None
    sort: str = "relevance"
    page: int = 1
    per_page: int = 20

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> SearchQuery:
        """Build a query from request arguments (strings); blank filters are ignored."""
        values: dict[str, Any] = {}
        for name in (
            "q",
            "industry",
            "scenario",
            "delivery",
            "billing_model",
            "voucher_kind",
            "price_band",
            "sort",
        ):
            raw = args.get(name)
            if raw is not None and str(raw).strip():
                values[name] = str(raw).strip()
        for name in ("max_monthly_fen", "page", "per_page"):
            raw = args.get(name)
            if raw is None or not str(raw).strip():
                continue
            text = str(raw).strip()
            if not re.fullmatch(r"\d{1,12}", text):
                raise InvalidQuery(name, "must be a whole number")
            values[name] = int(text)
        return cls(**values)

    def validate(self) -> None:
        """Raise :class:`InvalidQuery` naming the first bad field; blank filters become None."""
        if not isinstance(self.q, str):
            raise InvalidQuery("q", "must be text")
        self.q = self.q.strip()
        if len(self.q) > MAX_QUERY_CHARS:
            raise InvalidQuery("q", f"must be at most {MAX_QUERY_CHARS} characters")
        for name in (
            "industry",
            "scenario",
            "delivery",
            "billing_model",
            "voucher_kind",
            "price_band",
        ):
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str):
                raise InvalidQuery(name, "must be text")
            setattr(self, name, value.strip() or None)
        if self.industry is not None:
            known = taxonomy.industries()  # empty while the table is not installed
            if not _INDUSTRY_CODE.match(self.industry) or (known and self.industry not in known):
                raise InvalidQuery("industry", "must be a GB/T 4754 division code such as C13")
        if self.scenario is not None:
            known = taxonomy.scenarios()
            if not _SCENARIO_CODE.match(self.scenario) or self.scenario not in known:
                raise InvalidQuery("scenario", "must be a scenario code such as pm.quality")
        _known("delivery", self.delivery, DELIVERIES)
        _known("billing_model", self.billing_model, BILLING_MODELS)
        _known("voucher_kind", self.voucher_kind, VOUCHER_KINDS)
        _known("price_band", self.price_band, PRICE_BAND_NAMES)
        _known("sort", self.sort, SORTS)
        for name, low, high in (
            ("max_monthly_fen", 0, None),
            ("page", 1, MAX_PAGE),
            ("per_page", 1, MAX_PER_PAGE),
        ):
            value = getattr(self, name)
            if value is None and name == "max_monthly_fen":
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidQuery(name, "must be a whole number")
            if value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high is not None else f"at least {low}"
                raise InvalidQuery(name, f"must be {bound}")

    def filters(self) -> dict[str, str]:
        """The selected facet values, by facet name."""
        return {name: value for name in FACETS if (value := getattr(self, name)) is not None}


@dataclass(frozen=True, slots=True)
class Hit:
    id: int
    slug: str
    score: float
    # "name" and "summary" always; "name_en"/"summary_en" when the solution has them.
    # HTML: stored text escaped, query matches wrapped in <mark>.
    highlights: dict[str, str] = field(default_factory=dict)
    partial: bool = False  # matches only some of the query's words (the search loosened)


@dataclass(frozen=True, slots=True)
class SearchResult:
    total: int
    page: int
    per_page: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]  # facet -> value -> count (count > 0, plus the selected)
    did_you_mean: str | None = None
    fuzzy: bool = False  # the hits come from the fuzzy retry
    # Scenarios of the pain points found in the query (电费太高: pm.energy), searched too.
    scenarios: tuple[str, ...] = ()
    # When the search loosened: how many results match every word; those come first and
    # the others are ``Hit.partial``. None when it did not.
    strict_total: int | None = None

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))
