"""Catalog sync for other platforms (issue 14): GET /api/v1/solutions with an
``updated_since`` cursor, ETag / If-None-Match, and tombstones for delisted solutions. The
cursor is a search log position, so a change committed late is still delivered."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import indexing, search_log, services
from catalog.models import Solution, SolutionStatus
from marketplace.db import utcnow
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor
from tests.conftest import POSTGRES_URL

START = "2000-01-01T00:00:00+00:00"


def sync(client: FlaskClient, since: str, **query: Any) -> Any:
    return client.get("/api/v1/solutions", query_string={"updated_since": since, **query})


def test_second_call_with_the_etag_answers_304(client: FlaskClient, session: Session) -> None:
    publish_solution(session, slug="sync-etag")
    session.commit()
    first = sync(client, START)
    assert first.status_code == 200, first.get_json()
    assert [i["slug"] for i in first.get_json()["items"]] == ["sync-etag"]
    etag = first.headers["ETag"]
    again = client.get(
        "/api/v1/solutions",
        query_string={"updated_since": START},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304 and again.get_data() == b""
    publish_solution(session, slug="sync-etag-2")
    session.commit()
    changed = client.get(
        "/api/v1/solutions",
        query_string={"updated_since": START},
        headers={"If-None-Match": etag},
    )
    assert changed.status_code == 200
    assert len(changed.get_json()["items"]) == 2


def test_delisted_solution_is_a_tombstone_after_its_cursor(
    client: FlaskClient, session: Session
) -> None:
    operator = operator_actor(session)
    solution = publish_solution(session, vendor_actor(session), operator, slug="sync-gone")
    session.commit()
    body = sync(client, START).get_json()
    assert [i["slug"] for i in body["items"]] == ["sync-gone"] and body["tombstones"] == []
    cursor = body["next_cursor"]
    quiet = sync(client, cursor).get_json()
    assert quiet["items"] == [] and quiet["tombstones"] == [] and quiet["next_cursor"] == cursor

    services.delist(session, solution, actor=operator, reason="资质过期")
    session.commit()
    after = sync(client, cursor).get_json()
    assert after["items"] == []
    assert [(t["slug"], t["status"]) for t in after["tombstones"]] == [("sync-gone", "delisted")]
    assert after["next_cursor"] != cursor
    assert sync(client, after["next_cursor"]).get_json()["tombstones"] == []


def test_cursor_is_stable_when_solutions_change_in_the_same_instant(
    client: FlaskClient, session: Session
) -> None:
    same = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    solutions = [publish_solution(session, slug=f"sync-same-{n}") for n in range(3)]
    for solution in solutions:
        solution.changed_at = same
    session.commit()
    seen, cursor = [], START
    for _page in range(4):
        body = sync(client, cursor, per_page=1).get_json()
        seen += [i["slug"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    assert seen == [f"sync-same-{n}" for n in range(3)]


def test_bad_cursor_names_the_field_and_search_is_unchanged_without_one(
    client: FlaskClient, session: Session
) -> None:
    for bad in (
        "yesterday",
        "c1.!!!",
        "c2.!!!",
        "c2." + _b64("p|-5"),
        "c2." + _b64("w|x|0|"),
        "2026-01-01T00:00:00",  # no offset
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    ):
        response = sync(client, bad)
        assert response.status_code == 422, bad
        assert set(response.get_json()["error"]["fields"]) == {"updated_since"}
    publish_solution(session, slug="sync-search")
    session.commit()
    body = client.get("/api/v1/solutions").get_json()
    assert body["total"] == 1 and "next_cursor" not in body and "tombstones" not in body


def follow(client: FlaskClient, cursor: str) -> tuple[list[str], list[str], str]:
    """Every page after ``cursor``: (published slugs, tombstone slugs, the last cursor)."""
    items: list[str] = []
    tombstones: list[str] = []
    for _page in range(50):
        body = sync(client, cursor, per_page=2).get_json()
        items += [i["slug"] for i in body["items"]]
        tombstones += [t["slug"] for t in body["tombstones"]]
        cursor = body["next_cursor"]
        if not body["has_more"]:
            return items, tombstones, cursor
    raise AssertionError("sync did not finish")


def test_a_change_stamped_early_but_committed_late_is_still_delivered(
    client: FlaskClient, session: Session
) -> None:
    """The old cursor was the changed_at time: a transaction that stamped its change before
    another one committed, and committed after the client had read that other one, fell
    behind the client's cursor and was never told."""
    operator = operator_actor(session)
    early = publish_solution(session, vendor_actor(session), operator, slug="sync-early")
    later = publish_solution(session, vendor_actor(session), operator, slug="sync-later")
    session.commit()
    items, _gone, cursor = follow(client, START)
    assert sorted(items) == ["sync-early", "sync-later"]

    services.delist(session, later, actor=operator, reason="停止服务")
    session.commit()
    _items, gone, cursor = follow(client, cursor)
    assert gone == ["sync-later"]

    # Stamped a second before the change the client has already seen, committed only now.
    services.delist(session, early, actor=operator, reason="停止服务")
    early.changed_at = later.changed_at - timedelta(seconds=1)
    session.commit()
    items, gone, _cursor = follow(client, cursor)
    assert (items, gone) == ([], ["sync-early"])


def test_starting_from_a_time_walks_the_catalog_then_follows_the_log(
    client: FlaskClient, session: Session
) -> None:
    operator = operator_actor(session)
    old = publish_solution(session, vendor_actor(session), operator, slug="sync-old")
    old.changed_at = datetime(2025, 1, 1, tzinfo=UTC)
    solutions = [publish_solution(session, slug=f"sync-walk-{n}") for n in range(5)]
    session.commit()
    since = "2026-01-01T00:00:00+08:00"
    items, gone, cursor = follow(client, since)
    assert sorted(items) == [s.slug for s in solutions] and gone == []

    # Changes during and after the walk are in the log after the position read before it.
    services.delist(session, solutions[0], actor=operator, reason="停止服务")
    services.delist(session, old, actor=operator, reason="停止服务")
    session.commit()
    items, gone, cursor = follow(client, cursor)
    assert items == [] and sorted(gone) == ["sync-old", "sync-walk-0"]
    assert follow(client, cursor) == ([], [], cursor)


def test_a_cursor_behind_the_pruned_log_starts_over_and_a_foreign_one_is_refused(
    client: FlaskClient, session: Session
) -> None:
    operator = operator_actor(session)
    kept = publish_solution(session, vendor_actor(session), operator, slug="sync-kept")
    gone = publish_solution(session, vendor_actor(session), operator, slug="sync-pruned")
    session.commit()
    _items, _gone, cursor = follow(client, START)
    services.delist(session, gone, actor=operator, reason="停止服务")
    session.commit()
    publish_solution(session, slug="sync-newest")  # the newest entry always stays
    session.commit()
    assert search_log.prune(session, keep_days=0, now=utcnow() + timedelta(days=1)) > 0
    session.commit()
    items, tombstones, last = follow(client, cursor)
    assert sorted(items) == [kept.slug, "sync-newest"] and tombstones == ["sync-pruned"]
    assert follow(client, last) == ([], [], last)

    beyond = sync(client, "c2." + _b64(f"p|{search_log.head(session) + 1000}"))
    assert beyond.status_code == 422
    assert set(beyond.get_json()["error"]["fields"]) == {"updated_since"}


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- PostgreSQL: a real transaction committing after a later one was read ----------------


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set DATABASE_URL)")
def test_postgres_transaction_committing_after_a_later_one_was_synced_is_delivered(
    committed_app: Flask,
) -> None:
    sessions = committed_app.extensions["marketplace.db"].sessions
    client = committed_app.test_client()
    with committed_app.app_context():
        with sessions() as setup:
            operator = operator_actor(setup)
            slow_id = publish_solution(setup, vendor_actor(setup), operator, slug="pg-slow").id
            fast_id = publish_solution(setup, vendor_actor(setup), operator, slug="pg-fast").id
            setup.commit()
        _items, _gone, cursor = follow(client, START)

        slow = sessions()  # a transaction of its own, left open across the others
        try:
            solution = slow.get(Solution, slow_id)
            solution.status = SolutionStatus.DELISTED  # stamps changed_at now, at flush
            indexing.mark(slow, slow_id)
            slow.flush()
            stamped = solution.changed_at

            with sessions() as fast:
                delisted = fast.get(Solution, fast_id)
                services.delist(fast, delisted, actor=operator_actor(fast), reason="停止服务")
                fast.commit()
                assert delisted.changed_at > stamped
            _items, gone, cursor = follow(client, cursor)
            assert gone == ["pg-fast"]  # the slow change is not committed yet

            slow.commit()
        finally:
            slow.close()
        items, gone, _cursor = follow(client, cursor)
        assert (items, gone) == ([], ["pg-slow"])
