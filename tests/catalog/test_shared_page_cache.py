"""The anonymous page cache shared between hosts through Redis (CACHE_URL), keyed by the
search log position: a page host A rendered is served by host B at the same position, and
neither serves it once the log has moved on. Redis at 127.0.0.1:6379, a key prefix per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import SolutionRevision
from catalog.views import cards
from marketplace import create_app
from tests.catalog.factories import operator_actor, publish_solution
from tests.factories import create_org, create_user, login
from tests.stripe_server import free_port

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def config(config: dict[str, object]) -> Iterator[dict[str, object]]:
    prefix = f"test-pages:{uuid.uuid4().hex}:"
    config.update(CACHE_URL=REDIS_URL, CACHE_KEY_PREFIX=prefix)
    yield config
    cache = redis.Redis.from_url(REDIS_URL)
    for name in cache.scan_iter(match=prefix + "*"):
        cache.delete(name)


@pytest.fixture
def host_b(app: Flask, config: dict[str, object], tmp_path: Path) -> Iterator[Flask]:
    """A second app on the same database (the test's transaction) with an index folder
    of its own, built before anything was published."""
    other = create_app({**config, "SEARCH_INDEX_DIR": str(tmp_path / "host-b")})
    connection = app.extensions["marketplace.db"].sessions.kw["bind"]
    other.extensions["marketplace.db"].sessions.configure(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    other.extensions["catalog.search"].create()
    yield other
    other.extensions["marketplace.db"].engine.dispose()


def test_a_page_rendered_on_one_host_is_served_by_the_other_until_the_log_moves(
    app: Flask, host_b: Flask, session: Session
) -> None:
    operator = operator_actor(session)
    solution = publish_solution(session, operator=operator, name="共享缓存质检云")
    session.commit()
    visitor_a, visitor_b = app.test_client(), host_b.test_client()

    first = visitor_a.get("/search")
    assert first.headers["X-Page-Cache"] == "miss" and solution.slug in first.text
    from_b = visitor_b.get("/search")  # B's index catches up first: same position, same key
    assert from_b.headers["X-Page-Cache"] == "hit" and from_b.data == first.data

    services.delist(session, solution, actor=operator, reason="停售")
    session.commit()  # through A: B learns of it only through the log
    after = visitor_b.get("/search")
    assert after.headers["X-Page-Cache"] == "miss" and solution.slug not in after.text
    assert visitor_a.get("/search").headers["X-Page-Cache"] == "hit"
    assert visitor_b.get(f"/solutions/{solution.slug}").status_code == 404


def test_pages_are_served_fresh_when_redis_is_down(config: dict[str, object]) -> None:
    config["CACHE_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app(config)
    connection = app.extensions["marketplace.db"].engine.connect()
    outer = connection.begin()
    app.extensions["marketplace.db"].sessions.configure(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    app.extensions["catalog.search"].create()
    try:
        client = app.test_client()
        for _ in range(2):
            page = client.get("/search")
            assert page.status_code == 200 and page.headers.get("X-Page-Cache") != "hit"
    finally:
        outer.rollback()
        connection.close()
        app.extensions["marketplace.db"].engine.dispose()


def test_a_results_block_one_host_rendered_for_a_member_serves_the_other_s_members(
    app: Flask, host_b: Flask, session: Session
) -> None:
    operator = operator_actor(session)
    solution = publish_solution(session, operator=operator, name="跨主机共享块质检云")
    people = []
    for name in ("甲主机用户", "乙主机用户"):
        user = create_user(session, name=name)
        create_org(session, owner=user, name=f"{name}的企业有限公司")
        people.append(user)
    session.commit()
    member_a, member_b = app.test_client(), host_b.test_client()
    login(member_a, people[0])
    login(member_b, people[1])

    first = member_a.get("/search?q=质检").text
    assert solution.slug in first
    # Host B renders the block only if it missed; a name changed behind the catalog's back
    # (no search log entry) shows whether B rendered it or took A's.
    session.execute(
        sa.update(SolutionRevision)
        .where(SolutionRevision.id == solution.published_revision_id)
        .values(name="未经日志修改的名字")
    )
    session.commit()
    cards.rendered.clear()  # this process's cards: B would not find A's anyway
    from_b = member_b.get("/search?q=质检").text
    assert solution.slug in from_b and "未经日志修改的名字" not in from_b
    assert "乙主机用户" in from_b and "甲主机用户" not in from_b

    services.delist(session, solution, actor=operator, reason="停售")
    session.commit()
    assert solution.slug not in member_b.get("/search?q=质检").text
