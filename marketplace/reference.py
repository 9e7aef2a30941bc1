"""Reference data: GB/T 2260 regions and GB/T 4754 industries.

Both tables ship as CSV in ``marketplace/data`` (see the README there for their source)
and are read once, on first use.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

# City-level rows that only group districts (a municipality's 市辖区, the counties a
# province administers directly); a label reads better without them.
_GROUPING_NAMES = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    parent: str | None
    level: int  # 1 province, 2 city, 3 district or county (depth in the tree)


@dataclass(frozen=True, slots=True)
class Industry:
    code: str  # GB/T 4754 division, e.g. "C34"
    section: str
    name_zh: str
    name_en: str

    def name(self, locale: str) -> str:
        """The English name for an ``en*`` locale, else the Chinese one."""
        return self.name_en if locale.lower().startswith("en") else self.name_zh


def _read_csv(filename: str) -> list[dict[str, str]]:
    source = resources.files("marketplace").joinpath("data", filename)
    with io.TextIOWrapper(source.open("rb"), encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def _regions() -> dict[str, Region]:
    rows = _read_csv("regions.csv")
    parents = {row["code"]: row["parent"] or None for row in rows}

    def depth(code: str) -> int:
        parent = parents[code]
        return 1 if parent is None else 1 + depth(parent)

    return {
        row["code"]: Region(row["code"], row["name"], parents[row["code"]], depth(row["code"]))
        for row in rows
    }


@cache
def _children_by_parent() -> dict[str | None, tuple[Region, ...]]:
    grouped: dict[str | None, list[Region]] = {}
    for region in _regions().values():  # file order is code order
        grouped.setdefault(region.parent, []).append(region)
    return {parent: tuple(regions) for parent, regions in grouped.items()}


def region(code: str) -> Region | None:
    """The region with this 6-digit code, or None."""
    return _regions().get(code)


def is_valid_region(code: str) -> bool:
    """True for a known 6-digit region code, at any level."""
    return len(code) == 6 and code.isascii() and code.isdigit() and code in _regions()


def children(code: str | None) -> list[Region]:
    """Regions directly under ``code``; the provinces for None."""
    return list(_children_by_parent().get(code, ()))


def is_leaf_region(code: str) -> bool:
    """True for a region with nothing under it: a district or county, or a city without any."""
    return is_valid_region(code) and code not in _children_by_parent()


def region_path(code: str) -> list[Region]:
    """The region and its ancestors, province first; empty for an unknown code."""
    path: list[Region] = []
    current = region(code)
    while current is not None:
        path.append(current)
        current = region(current.parent) if current.parent else None
    return path[::-1]


def region_label(code: str) -> str:
    """A readable name such as "浙江省 杭州市 西湖区"; the code itself if unknown."""
    names: list[str] = []
    for step in region_path(code):
        if step.name in _GROUPING_NAMES and step.code != code:
            continue
        names.append(step.name)
    return " ".join(names) or code


def picker_tree() -> list[dict[str, Any]]:
    """Nested ``{"code", "name", "children"}`` dicts for the region picker; leaves have
    no ``children`` key."""

    def node(item: Region) -> dict[str, Any]:
        entry: dict[str, Any] = {"code": item.code, "name": item.name}
        below = _children_by_parent().get(item.code)
        if below:
            entry["children"] = [node(child) for child in below]
        return entry

    return [node(province) for province in _children_by_parent()[None]]


@cache
def _industries() -> dict[str, Industry]:
    return {
        row["code"]: Industry(row["code"], row["section"], row["name_zh"], row["name_en"])
        for row in _read_csv("industries.csv")
    }


def industries() -> list[Industry]:
    """All industries in file order (by code)."""
    return list(_industries().values())


def industry(code: str) -> Industry | None:
    """The industry with this GB/T 4754 code (e.g. "C34"), or None."""
    return _industries().get(code)


def is_valid_industry(code: str) -> bool:
    return code in _industries()
