"""The Whoosh index deleted, damaged or locked while the site runs.

What users see: the search page answers 503 with a message in the page's language (and the
search API a 503 in the API's error shape, code ``unavailable``: an empty result would look
like "nothing matches" to an integrator); the home page (without its facet counts), the
solution pages, industry pages and the dashboard keep working; ``marketplace catalog
reindex`` brings search back. A write lock held by another process never blocks a vendor:
the listing is saved, flagged ``needs_reindex``, and the reindex picks it up.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import indexing
from catalog.models import Solution
from tests.catalog.factories import SUBSCRIPTION, publish_solution
from tests.factories import create_org, create_user, login

SEARCH = "/search?q=质检"
API_SEARCH = "/api/v1/solutions?q=质检"


@pytest.fixture
def config(config: dict[str, object]) -> dict[str, object]:
    config["SEARCH_WRITER_TIMEOUT"] = 0.3  # a locked index must not hold a request long
    return config


@pytest.fixture
def listed(app: Flask, session: Session) -> Solution:
    """A published quality-inspection solution, committed and indexed."""
    solution = publish_solution(
        session,
        slug="vision-qc",
        name="AI视觉质检云",
        summary="用工业相机自动检出表面划痕。",
        industries=["C33"],
        scenarios=["pm.quality"],
        plans=[dict(SUBSCRIPTION)],
    )
    session.commit()
    assert indexing.reindex(session, indexing.search_index(app)) == 1
    return solution


def get(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


def slugs_found(client: FlaskClient) -> list[str]:
    response = client.get(API_SEARCH)
    assert response.status_code == 200, response.get_json()
    return [item["slug"] for item in response.get_json()["items"]]


def assert_other_pages_work(
    client: FlaskClient, session: Session, *, search_down: bool = True
) -> None:
    assert "vision-qc" in get(client, "/")  # featured, from the database
    assert "AI视觉质检云" in get(client, "/solutions/vision-qc")
    # An industry page lists through the index: it stays up and says search is down.
    assert ("data-unavailable" in get(client, "/industries/C33")) is search_down
    user = create_user(session)
    create_org(session, owner=user)
    session.commit()
    login(client, user)
    get(client, "/dashboard")
    client.post("/logout")


def assert_search_degrades(client: FlaskClient) -> None:
    text = get(client, SEARCH, 503)
    assert "data-unavailable" in text and "搜索服务暂时不可用" in text
    error = client.get(API_SEARCH)
    assert error.status_code == 503
    assert error.get_json()["error"]["code"] == "unavailable"
    assert error.get_json()["error"]["message"]
    client.post("/language", data={"lang": "en"})
    assert "Search is temporarily unavailable" in get(client, SEARCH, 503)
    client.post("/language", data={"lang": "zh_CN"})


def reindex(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["catalog", "reindex"])
    assert result.exit_code == 0, result.output
    assert "indexed 1 published solution(s)" in result.output


def test_index_deleted_while_searchers_are_open(
    app: Flask, client: FlaskClient, session: Session, listed: Solution
):
    assert slugs_found(client) == ["vision-qc"]  # searchers now open and pooled
    shutil.rmtree(Path(app.config["SEARCH_INDEX_DIR"]))
    assert_search_degrades(client)
    assert_other_pages_work(client, session)
    reindex(app)
    assert slugs_found(client) == ["vision-qc"]
    assert "vision-qc" in get(client, SEARCH)


def test_index_files_damaged_while_searchers_are_open(
    app: Flask, client: FlaskClient, session: Session, listed: Solution
):
    assert slugs_found(client) == ["vision-qc"]
    live = indexing.search_index(app).location
    indexing.search_index(app).close()  # as a worker that starts after the damage
    for path in live.iterdir():
        if path.suffix in (".seg", ".trm", ".pst", ".toc"):
            path.write_bytes(b"\0" * 16)
    assert_search_degrades(client)
    assert_other_pages_work(client, session)
    reindex(app)
    assert slugs_found(client) == ["vision-qc"]


@pytest.fixture
def locked_by_another_process(app: Flask, listed: Solution) -> Iterator[subprocess.Popen]:
    """Another process holds the live generation's Whoosh write lock (a stuck writer)."""
    location = indexing.search_index(app).location
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time, whoosh.index
                lock = whoosh.index.open_dir({str(location)!r}).lock("WRITELOCK")
                assert lock.acquire(blocking=False)
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout.readline().strip() == b"locked"
    try:
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(10)
        holder.stdout.close()


def test_index_locked_by_another_process(
    app: Flask,
    client: FlaskClient,
    session: Session,
    listed: Solution,
    locked_by_another_process: subprocess.Popen,
):
    # Searching needs no lock: it goes on.
    assert slugs_found(client) == ["vision-qc"]
    assert "vision-qc" in get(client, SEARCH)
    # A vendor publishing meanwhile is not blocked: the listing is saved and flagged.
    started = time.monotonic()
    second = publish_solution(
        session,
        slug="molding-qc",
        name="注塑件外观质检一体机",
        summary="边缘一体机完成注塑件外观质检。",
        industries=["C29"],
        scenarios=["pm.quality"],
        plans=[dict(SUBSCRIPTION)],
    )
    session.commit()
    assert time.monotonic() - started < 5
    session.refresh(second)
    assert second.needs_reindex
    assert slugs_found(client) == ["vision-qc"]  # the index lags, the site works
    assert_other_pages_work(client, session, search_down=False)
    # The stuck writer goes away; the reindex catches the flagged listing up.
    locked_by_another_process.stdin.close()
    locked_by_another_process.wait(10)
    result = app.test_cli_runner().invoke(args=["catalog", "reindex"])
    assert result.exit_code == 0, result.output
    assert sorted(slugs_found(client)) == ["molding-qc", "vision-qc"]
    assert not session.scalar(sa.select(sa.func.count()).where(Solution.needs_reindex))
