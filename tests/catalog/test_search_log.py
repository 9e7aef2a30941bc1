"""The search log that every host's index follows (catalog/search_log.py, catalog/indexing.py).

"Another host" here is a second index folder with a follower of its own on the same
database: it finds what the first one's transactions wrote only through the log.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from catalog import indexing, search_log, services
from catalog.search import SearchIndex, SearchQuery
from catalog.search import generations as index_generations
from catalog.search_log import SearchChange, SearchLogHorizon, SearchOp
from marketplace.db import utcnow
from marketplace.models import Verification
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor


def entries(session: Session) -> list[tuple[int, str]]:
    return [
        (change.solution_id, change.op.value)
        for change in session.scalars(sa.select(SearchChange).order_by(SearchChange.id))
    ]


def other_host(app: Flask, tmp_path: Path) -> indexing.Follower:
    """A second index folder on the same database, built empty as a new host's would be
    by ``catalog reindex`` before anything was published."""
    index = SearchIndex(tmp_path / "host-b")
    sessions = app.extensions["marketplace.db"].sessions
    with sessions() as session:
        indexing.reindex(session, index)
    return indexing.Follower(index, sessions, keep_days=7)


def slugs(index: SearchIndex, q: str = "") -> list[str]:
    return sorted(hit.slug for hit in index.search(SearchQuery(q=q, per_page=50)).hits)


def test_entries_are_written_with_the_change_and_not_on_rollback(session: Session) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    before = entries(session)
    solution = publish_solution(session, vendor, operator)
    assert entries(session) == before  # nothing before the commit
    session.commit()
    assert entries(session) == [*before, (solution.id, "upsert")]

    services.delist(session, solution, actor=operator, reason="资质过期")
    session.rollback()
    assert entries(session) == [*before, (solution.id, "upsert")]

    services.delist(session, solution, actor=operator, reason="资质过期")
    session.commit()
    assert entries(session)[-1] == (solution.id, "delete")


def test_a_vendor_renamed_or_unverified_logs_its_public_listings(session: Session) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    listed = publish_solution(session, vendor, operator)
    publish_solution(session, vendor, operator, slug="delisted-one")
    draft_count = len(entries(session))
    session.commit()
    services.delist(
        session,
        session.scalars(sa.select(type(listed)).where(type(listed).slug == "delisted-one")).one(),
        actor=operator,
        reason="停售",
    )
    session.commit()
    count = len(entries(session))
    assert count == draft_count + 3

    vendor.organization.name = "新名字科技有限公司"
    session.commit()
    assert entries(session)[count:] == [(listed.id, "upsert")]  # the delisted one is not
    vendor.organization.verification = Verification.REJECTED
    session.commit()
    assert entries(session)[count + 1 :] == [(listed.id, "upsert")]
    vendor.organization.contact_phone = "021-12345678"  # not on the document
    session.commit()
    assert len(entries(session)) == count + 2


def test_another_index_follows_in_order_and_applying_again_changes_nothing(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    host_b = other_host(app, tmp_path)
    operator = operator_actor(session)
    first = publish_solution(session, operator=operator, name="注塑件外观质检一体机")
    session.commit()
    second = publish_solution(session, operator=operator, name="能耗监测云")
    session.commit()
    services.delist(session, first, actor=operator, reason="停售")
    session.commit()
    assert slugs(host_b.index) == []  # it has applied nothing yet

    head = search_log.head(session)
    assert host_b.sync() == head
    assert slugs(host_b.index) == [second.slug]  # the delist came after the publish
    assert host_b.index.position() == head

    version = host_b.index.version()
    assert host_b.sync() == head and host_b.index.version() == version  # nothing written
    # A crash after the commit, before the position was recorded: the same entries again.
    index_generations.write_position(host_b.index.location, head - 3)
    assert host_b.sync() == head
    assert slugs(host_b.index) == [second.slug]
    assert slugs(host_b.index) == slugs(indexing.search_index(app))


def test_an_index_that_was_down_catches_up_and_one_behind_the_pruned_log_rebuilds(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    operator = operator_actor(session)
    old = publish_solution(session, operator=operator)
    session.commit()
    host_b = other_host(app, tmp_path)  # consistent with the log up to here
    assert host_b.index.position() == search_log.head(session)
    assert slugs(host_b.index) == [old.slug]

    # Down while two listings come and one goes: it catches up on its next sync.
    news = [publish_solution(session, operator=operator) for _ in range(2)]
    session.commit()
    services.delist(session, old, actor=operator, reason="停售")
    session.commit()
    assert host_b.sync() == search_log.head(session)
    assert slugs(host_b.index) == sorted(s.slug for s in news)

    # Down for longer than the log is kept: the entries it needs are pruned.
    host_b_position = host_b.index.position()
    later = publish_solution(session, operator=operator)
    session.commit()
    services.delist(session, news[0], actor=operator, reason="停售")
    session.commit()
    session.execute(
        sa.update(SearchChange)
        .where(SearchChange.id > host_b_position)
        .values(created_at=utcnow() - timedelta(days=8))
    )
    session.commit()
    head = search_log.head(session)
    assert search_log.prune(session, keep_days=7) >= 1
    session.commit()
    horizon = session.get(SearchLogHorizon, 1)
    assert horizon is not None and host_b_position < horizon.pruned_through < head
    assert search_log.head(session) == head  # the newest entry stays

    assert host_b.sync() == head  # rebuilt from the database
    assert slugs(host_b.index) == sorted([news[1].slug, later.slug])


def test_prune_keeps_recent_entries_and_moves_the_horizon_only_forward(session: Session) -> None:
    now = utcnow()
    session.execute(
        sa.insert(SearchChange),
        [
            {"solution_id": n, "op": SearchOp.UPSERT, "created_at": now - timedelta(days=days)}
            for n, days in enumerate([30, 10, 8, 1, 0], start=1)
        ],
    )
    session.flush()
    ids = [c.id for c in session.scalars(sa.select(SearchChange).order_by(SearchChange.id))]
    assert search_log.prune(session, keep_days=7, now=now) == len(ids) - 2
    assert search_log.horizon(session) == ids[-3]
    assert [c.solution_id for c in session.scalars(sa.select(SearchChange))] == [4, 5]
    assert search_log.prune(session, keep_days=7, now=now) == 0
    assert search_log.horizon(session) == ids[-3]
    # Everything old: the newest entry still stays, so the head never goes back.
    assert search_log.prune(session, keep_days=0, now=now + timedelta(days=1)) == 1
    assert search_log.head(session) == ids[-1]


@pytest.mark.parametrize("rows", [0, 1])
def test_head_counts_from_the_horizon_when_the_log_is_empty(session: Session, rows: int) -> None:
    session.execute(sa.delete(SearchChange))
    if rows:
        session.add(SearchLogHorizon(id=1, pruned_through=41))
    session.flush()
    assert search_log.head(session) == (41 if rows else 0)


def test_savepoints_keep_their_marks_for_the_transactions_commit(session: Session) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    before = entries(session)
    first = publish_solution(session, vendor, operator)
    with pytest.raises(RuntimeError), session.begin_nested():
        raise RuntimeError("a step that failed and was rolled back to its savepoint")
    with session.begin_nested():  # as the console's views call the services
        second = publish_solution(session, vendor, operator)
    assert entries(session) == before  # nothing until the transaction commits
    session.commit()
    assert sorted(entries(session)[len(before) :]) == sorted(
        [(first.id, "upsert"), (second.id, "upsert")]
    )
