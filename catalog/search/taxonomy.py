"""Names of scenarios and industries, indexed with each solution so that "质量检测" or
"纺织" finds solutions tagged with those codes even when their own text does not say it."""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable


@dataclass(frozen=True, slots=True)
class TaxonomyName:
    code: str
    name_zh: str
    name_en: str


_lock = threading.Lock()
_scenarios: dict[str, TaxonomyName] | None = None
_industries: dict[str, TaxonomyName] | None = None


def _read(source: Traversable) -> dict[str, TaxonomyName]:
    with source.open("r", encoding="utf-8", newline="") as handle:
        return {
            row["code"]: TaxonomyName(row["code"], row["name_zh"], row["name_en"])
            for row in csv.DictReader(handle)
        }


def scenarios() -> dict[str, TaxonomyName]:
    """Scenario code -> names, from catalog/data/scenarios.csv (read once)."""
    global _scenarios
    with _lock:
        if _scenarios is None:
            _scenarios = _read(resources.files("catalog").joinpath("data", "scenarios.csv"))
        return _scenarios


def industries() -> dict[str, TaxonomyName]:
    """GB/T 4754 code -> names, from marketplace/data/industries.csv.

    Empty while that file is not installed; it is looked for again on the next call, and
    kept once found.
    """
    global _industries
    with _lock:
        if _industries is None:
            try:
                source = resources.files("marketplace").joinpath("data", "industries.csv")
                if not source.is_file():
                    return {}
                _industries = _read(source)
            except (ModuleNotFoundError, OSError):
                return {}
        return _industries


def scenario_names() -> dict[str, str]:
    return {code: item.name_zh for code, item in scenarios().items()}


def industry_names() -> dict[str, str]:
    return {code: item.name_zh for code, item in industries().items()}
