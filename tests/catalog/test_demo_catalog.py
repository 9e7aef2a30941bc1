"""The demo catalog covers what the storefront must show (issue: demo data line)."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources

from catalog import taxonomy
from catalog.importer import check_lines


def rows() -> list[dict]:
    text = resources.files("devtools.demo").joinpath("data", "solutions.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_demo_catalog_coverage() -> None:
    solutions = rows()
    assert len(solutions) >= 60
    assert len({s["vendor"] for s in solutions}) >= 8
    industries = {code for s in solutions for code in s["industries"]}
    assert len(industries) >= 15
    assert {s.code for s in taxonomy.scenarios()} <= {c for s in solutions for c in s["scenarios"]}
    assert {s["delivery"] for s in solutions} == {"saas", "edge", "maas", "agent", "api", "service"}
    models = Counter(p["billing_model"] for s in solutions for p in s["plans"])
    assert set(models) == {"subscription", "usage", "outcome"}
    assert all(s["name_en"] and s["summary_en"] for s in solutions)


def test_every_demo_line_passes_the_import_checks(session) -> None:
    from tests.catalog.factories import vendor_actor

    vendor = vendor_actor(session)
    lines = [
        json.dumps({**row, "vendor_uscc": vendor.organization.uscc}, ensure_ascii=False)
        for row in rows()
    ]
    parsed, errors = check_lines(session, lines)
    assert errors == [] and len(parsed) == len(lines)
