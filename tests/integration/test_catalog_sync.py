"""Catalog sync for other platforms (issue 14): GET /api/v1/solutions with an
``updated_since`` cursor, ETag / If-None-Match, and tombstones for delisted solutions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import services
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor

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
    for bad in ("yesterday", "c1.!!!", "2026-01-01T00:00:00"):  # the last has no offset
        response = sync(client, bad)
        assert response.status_code == 422, bad
        assert set(response.get_json()["error"]["fields"]) == {"updated_since"}
    publish_solution(session, slug="sync-search")
    session.commit()
    body = client.get("/api/v1/solutions").get_json()
    assert body["total"] == 1 and "next_cursor" not in body and "tombstones" not in body
