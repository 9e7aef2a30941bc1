"""The catalog's taxonomy: business scenarios (grouped) and GB/T 4754 industries.

Scenarios come from ``catalog/data/scenarios.csv``; industries are the platform's
reference table (organizations are tagged with them too), re-exported here.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

from marketplace.reference import Industry, industries, industry, is_valid_industry

__all__ = [
    "Industry",
    "Scenario",
    "ScenarioGroup",
    "industries",
    "industry",
    "is_valid_industry",
    "is_valid_scenario",
    "scenario",
    "scenario_groups",
    "scenarios",
]


@dataclass(frozen=True, slots=True)
class Scenario:
    code: str  # e.g. "pm.quality": group prefix, then the scenario
    group_zh: str
    group_en: str
    name_zh: str
    name_en: str

    @property
    def group(self) -> str:
        return self.code.split(".", 1)[0]

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh

    def group_name(self, locale: str) -> str:
        return self.group_en if locale.startswith("en") else self.group_zh


@dataclass(frozen=True, slots=True)
class ScenarioGroup:
    code: str
    name_zh: str
    name_en: str
    scenarios: tuple[Scenario, ...]

    def name(self, locale: str) -> str:
        return self.name_en if locale.startswith("en") else self.name_zh


@functools.cache
def scenarios() -> tuple[Scenario, ...]:
    """Every scenario, in the file's order."""
    source = resources.files("catalog").joinpath("data", "scenarios.csv")
    with io.TextIOWrapper(source.open("rb"), encoding="utf-8", newline="") as handle:
        return tuple(Scenario(**row) for row in csv.DictReader(handle))


@functools.cache
def _by_code() -> dict[str, Scenario]:
    return {s.code: s for s in scenarios()}


def scenario(code: str) -> Scenario | None:
    return _by_code().get(code)


def is_valid_scenario(code: str) -> bool:
    return code in _by_code()


@functools.cache
def scenario_groups() -> tuple[ScenarioGroup, ...]:
    groups: dict[str, list[Scenario]] = {}
    for item in scenarios():
        groups.setdefault(item.group, []).append(item)
    return tuple(
        ScenarioGroup(code, items[0].group_zh, items[0].group_en, tuple(items))
        for code, items in groups.items()
    )
