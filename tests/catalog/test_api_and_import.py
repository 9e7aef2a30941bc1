"""The solutions API contract, the JSON Lines import, and the index following the database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import Solution, SolutionStatus
from tests.catalog.factories import (
    OUTCOME,
    USAGE,
    create_solution,
    operator_actor,
    payload,
    publish_solution,
    vendor_actor,
)


def search(client: FlaskClient, **args: str) -> dict:
    response = client.get("/api/v1/solutions", query_string=args)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_published_solution_is_searchable_and_detailed(
    client: FlaskClient, session: Session
) -> None:
    solution = publish_solution(session, plans=[USAGE, OUTCOME], slug="metal-qc")
    session.commit()  # the index follows the commit
    body = search(client, q="质检")
    assert body["total"] == 1 and body["page"] == 1
    item = body["items"][0]
    assert item["slug"] == "metal-qc"
    assert item["badges"] == {"small": True, "fast": True, "light": True, "precise": True}
    assert item["billing_models"] == ["outcome", "usage"]
    assert set(body["facets"]) == {
        "industry",
        "scenario",
        "delivery",
        "billing_model",
        "voucher_kind",
        "price_band",
    }
    detail = client.get("/api/v1/solutions/metal-qc").get_json()
    assert [p["billing_model"] for p in detail["plans"]] == ["usage", "outcome"]
    usage = detail["plans"][0]
    assert usage["tiers"] == [{"up_to": 10000, "unit_fen": "2"}, {"up_to": None, "unit_fen": "1.5"}]
    assert detail["plans"][1]["price_per_unit_fen"] == "30"
    assert detail["vendor"]["name"] == solution.vendor.name


def test_drafts_and_delisted_never_appear(client: FlaskClient, session: Session) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    create_solution(session, vendor, slug="draft-one")
    rejected = create_solution(session, vendor, slug="rejected-one")
    services.submit(session, rejected, actor=vendor)
    services.reject(session, rejected, actor=operator, note="请补充案例")
    live = publish_solution(session, vendor, operator, slug="live-one")
    session.commit()
    assert [i["slug"] for i in search(client, q="质检")["items"]] == ["live-one"]
    for slug in ("draft-one", "rejected-one"):
        assert client.get(f"/api/v1/solutions/{slug}").status_code == 404

    services.delist(session, live, actor=operator, reason="资质过期")
    session.commit()
    assert search(client, q="质检")["total"] == 0  # gone from search at once
    assert client.get("/api/v1/solutions/live-one").status_code == 404


def test_edit_of_published_listing_keeps_the_published_version(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    solution = publish_solution(session, vendor, operator, slug="keep-live")
    from catalog.validation import parse_solution

    services.update_content(
        session, solution, actor=vendor, content=parse_solution(payload(name="全新名称质检"))
    )
    services.submit(session, solution, actor=vendor)
    session.commit()
    assert solution.status is SolutionStatus.PUBLISHED
    assert client.get("/api/v1/solutions/keep-live").get_json()["name"] != "全新名称质检"
    services.approve(session, solution, actor=operator)
    session.commit()
    assert client.get("/api/v1/solutions/keep-live").get_json()["name"] == "全新名称质检"
    assert search(client, q="全新名称")["total"] == 1


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"delivery": "fax"}, "delivery"),
        ({"page": "0"}, "page"),
        ({"per_page": "500"}, "per_page"),
        ({"industry": "Z99"}, "industry"),
        ({"scenario": "pm.nothing"}, "scenario"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_search_arguments_answer_422(
    client: FlaskClient, session: Session, args: dict, field: str
) -> None:
    publish_solution(session)
    session.commit()
    response = client.get("/api/v1/solutions", query_string=args)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]


def test_search_without_index_answers_503(app: Flask, client: FlaskClient) -> None:
    import shutil

    shutil.rmtree(app.config["SEARCH_INDEX_DIR"])
    response = client.get("/api/v1/solutions")
    assert response.status_code == 503 and response.get_json()["error"]["code"] == "unavailable"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows)
    )
    return path


def count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Solution))


def test_import_rejects_a_bad_file_without_importing_any_line(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    vendor = vendor_actor(session)
    before = count(session)
    good = payload(vendor_uscc=vendor.organization.uscc)
    bad_plan = payload(vendor_uscc=vendor.organization.uscc)
    bad_plan["plans"] = [
        {**USAGE, "tiers": [{"up_to": 10, "unit_fen": "1"}, {"up_to": 5, "unit_fen": "1"}]}
    ]
    path = write_jsonl(
        tmp_path / "s.jsonl",
        [good, "{not json", bad_plan, payload(vendor_uscc="91310115000000000X")],
    )
    result = app.test_cli_runner().invoke(args=["catalog", "import", str(path)])
    assert result.exit_code == 1
    assert "line 2: _json" in result.output
    assert "line 3: plans[0].tiers[1].up_to" in result.output
    assert "line 4: vendor_uscc" in result.output
    assert "nothing was imported" in result.output
    assert count(session) == before


def test_import_and_publish_then_reindex(
    app: Flask, client: FlaskClient, session: Session, tmp_path: Path
) -> None:
    vendor = vendor_actor(session)
    operator_actor(session)
    rows = [payload(slug=f"imported-{i}") for i in range(3)]
    path = write_jsonl(tmp_path / "s.jsonl", rows)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["catalog", "import", str(path), "--vendor", vendor.organization.uscc, "--publish"]
    )
    assert result.exit_code == 0, result.output
    assert "imported 3" in result.output
    assert search(client, q="质检")["total"] == 3
    result = runner.invoke(args=["catalog", "reindex"])
    assert result.exit_code == 0 and "indexed 3" in result.output
    assert search(client, q="质检")["total"] == 3


def test_openapi_documents_the_solutions_endpoints(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/api/v1/solutions"]["get"]["parameters"]}
    assert {
        "q",
        "industry",
        "scenario",
        "delivery",
        "billing_model",
        "voucher_kind",
        "max_monthly_fen",
        "sort",
        "page",
        "per_page",
    } <= params
    assert "/api/v1/solutions/{slug}" in spec["paths"]
