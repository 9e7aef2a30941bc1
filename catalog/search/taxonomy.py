"""Names of scenarios and industries, indexed with each solution so that "质量检测" or
"纺织" finds solutions tagged with those codes even when their own text does not say it.
A thin view of the catalog's taxonomy (catalog/taxonomy.py)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from catalog import taxonomy


@dataclass(frozen=True, slots=True)
class TaxonomyName:
    code: str
    name_zh: str
    name_en: str


@cache
def scenarios() -> dict[str, TaxonomyName]:
    return {s.code: TaxonomyName(s.code, s.name_zh, s.name_en) for s in taxonomy.scenarios()}


@cache
def industries() -> dict[str, TaxonomyName]:
    return {i.code: TaxonomyName(i.code, i.name_zh, i.name_en) for i in taxonomy.industries()}


def scenario_names() -> dict[str, str]:
    return {code: item.name_zh for code, item in scenarios().items()}


def industry_names() -> dict[str, str]:
    return {code: item.name_zh for code, item in industries().items()}
