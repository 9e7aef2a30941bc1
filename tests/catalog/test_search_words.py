"""Search words on the real database: operators' edits of the thesaurus and pain points take
effect at the next search without a reindex, on every host; the search page shows the
scenario a pain point searched by and labels the partial matches; an index built by an
older text analysis is rebuilt by its follower."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import search_thesaurus
from catalog.indexing import Follower
from catalog.search import generations
from catalog.search_thesaurus import VocabularyCache, VocabularyEdit, VocabularyKind
from marketplace.audit import AuditEvent
from tests.catalog.factories import operator_actor, publish_solution
from tests.catalog.test_storefront import card_slugs, page
from tests.factories import login


def _publish(session: Session, slug: str, name: str, summary: str, scenarios: list[str]):
    return publish_solution(
        session,
        slug=slug,
        name=name,
        name_en="",
        summary=summary,
        summary_en="",
        description=summary,
        scenarios=scenarios,
        case_studies=[],
    )


def test_an_operator_adds_a_synonym_set_and_the_next_search_uses_it(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    _publish(session, "deburr", "飞边毛刺检测仪", "注塑件飞边毛刺在线识别。", ["pm.quality"])
    operator = operator_actor(session)
    session.commit()
    index = app.extensions["catalog.search"]
    assert card_slugs(page(client, "/search?q=修边")) == []
    version_before = index.version()

    login(client, operator.user)
    response = client.post(
        "/console/search-words/synonyms/new",
        data={"text": "修边, 飞边毛刺 | 毛刺", "enabled": "y"},
    )
    assert response.status_code == 302

    assert card_slugs(page(client, "/search?q=修边")) == ["deburr"]
    assert index.version() == version_before  # the index was not touched
    edit = session.scalar(sa.select(VocabularyEdit))
    assert (edit.kind, edit.key, edit.enabled) == (VocabularyKind.SYNONYMS, "修边", True)
    assert session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "search_vocabulary.saved")
    )


def test_disabling_a_packaged_set_stops_its_synonyms(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    _publish(session, "full-term", "质量检测报表工具", "把检测数据做成报表。", ["op.analytics"])
    operator = operator_actor(session)
    session.commit()
    assert card_slugs(page(client, "/search?q=质检")) == ["full-term"]

    login(client, operator.user)
    listed = page(client, "/console/search-words/?q=质检")
    assert 'data-entry="质检"' in listed
    client.post("/console/search-words/synonyms/toggle", data={"key": "质检", "enable": "0"})

    assert card_slugs(page(client, "/search?q=质检")) == []
    assert card_slugs(page(client, "/search?q=质量检测")) == ["full-term"]
    client.post("/console/search-words/synonyms/toggle", data={"key": "质检", "enable": "1"})
    assert card_slugs(page(client, "/search?q=质检")) == ["full-term"]


def test_an_edit_reaches_another_hosts_next_search(app: Flask, session: Session) -> None:
    sessions = app.extensions["marketplace.db"].sessions
    other_host = VocabularyCache(sessions)
    assert "验布" in other_host.current().expansions("质检")
    operator = operator_actor(session)

    search_thesaurus.save_entry(
        session,
        actor_id=operator.user.id,
        kind=VocabularyKind.SYNONYMS,
        key="质检",
        text="质检, 质量检测",
        enabled=True,
    )
    session.commit()

    assert other_host.current().expansions("质检") == {"质量检测": 0.8}


def test_bad_entries_are_refused_and_change_nothing(client: FlaskClient, session: Session) -> None:
    operator = operator_actor(session)
    session.commit()
    login(client, operator.user)

    lonely = client.post("/console/search-words/synonyms/new", data={"text": "修边"})
    no_scenario = client.post(
        "/console/search-words/pain_point/new", data={"text": "机器老停", "scenario": ""}
    )
    duplicate = client.post("/console/search-words/synonyms/new", data={"text": "质检, 品控"})

    for response in (lonely, no_scenario, duplicate):
        assert response.status_code == 200
        assert "invalid-feedback" in response.get_data(as_text=True)
    assert session.scalar(sa.select(sa.func.count()).select_from(VocabularyEdit)) == 0
    assert search_thesaurus.version(session) == 0


def test_a_pain_point_is_shown_and_finds_its_scenario(
    client: FlaskClient, session: Session
) -> None:
    _publish(session, "boiler", "锅炉燃烧优化", "燃烧效率在线优化。", ["pm.energy"])
    _publish(session, "office", "协同办公平台", "审批与公文流转。", ["op.office"])
    operator = operator_actor(session)
    session.commit()

    text = page(client, "/search?q=电费太高")
    assert card_slugs(text) == ["boiler"]
    assert 'data-scenarios="pm.energy"' in text
    assert "/scenarios/pm.energy" in text
    answer = client.get("/api/v1/solutions?q=电费太高").get_json()
    assert answer["scenarios"] == ["pm.energy"] and answer["strict_total"] is None
    assert [item["slug"] for item in answer["items"]] == ["boiler"]

    login(client, operator.user)
    client.post(
        "/console/search-words/pain_point/new",
        data={"text": "审批太慢", "scenario": "op.office", "enabled": "y"},
    )
    assert card_slugs(page(client, "/search?q=审批太慢")) == ["office"]


def test_partial_matches_come_below_under_their_heading(
    client: FlaskClient, session: Session
) -> None:
    _publish(session, "both", "锅炉燃烧优化", "锅炉与验布机的节能。", ["pm.energy"])
    _publish(session, "one", "锅炉远程监控", "锅炉运行数据。", ["pm.energy"])
    session.commit()

    text = page(client, "/search?q=验布机 锅炉")

    assert card_slugs(text) == ["both", "one"]
    heading = text.index("data-partial-results")
    assert text.index("/solutions/both") < heading < text.index("/solutions/one")


def test_traditional_and_full_width_input_on_the_page(
    client: FlaskClient, session: Session
) -> None:
    _publish(session, "aps", "APS排程软件", "订单排程与插单重排。", ["pm.scheduling"])
    session.commit()

    assert card_slugs(page(client, "/search?q=排程軟體")) == ["aps"]
    assert card_slugs(page(client, "/search?q=ＡＰＳ")) == ["aps"]


def test_an_index_of_an_older_analysis_is_rebuilt_by_its_follower(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    _publish(session, "aps", "APS排程软件", "订单排程与插单重排。", ["pm.scheduling"])
    session.commit()
    index = app.extensions["catalog.search"]
    (index.location / generations.ANALYSIS).unlink()  # as built before the version existed
    old_generation = index.location

    follower = Follower(index, app.extensions["marketplace.db"].sessions, keep_days=7)
    assert follower.sync() is not None

    assert index.location != old_generation and index.analysis_is_current()
    assert card_slugs(page(client, "/search?q=排產")) == ["aps"]


def test_the_console_lists_and_edits_packaged_entries(
    client: FlaskClient, session: Session
) -> None:
    operator = operator_actor(session)
    session.commit()
    login(client, operator.user)

    points = page(client, "/console/search-words/?kind=pain_point&q=电费")
    assert 'data-entry="电费太高"' in points
    form = page(client, "/console/search-words/pain_point/edit?key=电费太高")
    assert "电费太高" in form
    assert re.search(r'<option (selected value="pm.energy"|value="pm.energy" selected)', form)
    client.post(
        "/console/search-words/pain_point/edit?key=电费太高",
        data={"text": "电费太高", "scenario": "op.analytics", "enabled": "y"},
    )

    edited = page(client, "/console/search-words/?kind=pain_point&status=edited")
    assert 'data-entry="电费太高"' in edited and 'data-total="1"' in edited
    assert page(client, "/console/search-words/pain_point/edit?key=nothing", 404)


def test_operators_edits_are_read_while_another_writer_holds_sqlite(tmp_path) -> None:
    """On SQLite a search reads the vocabulary in a plain snapshot: a writer holding the
    database (a billing run, an import) neither delays it by the 30 s busy timeout nor hides
    the operators' edits behind the packaged vocabulary."""
    import threading

    from sqlalchemy.orm import sessionmaker

    from marketplace import migrate
    from marketplace.db import make_engine
    from tests.factories import create_user

    engine = make_engine(f"sqlite:///{tmp_path / 'words.db'}")
    migrate.upgrade(engine)
    sessions = sessionmaker(engine)
    with sessions() as session:
        search_thesaurus.save_entry(
            session,
            actor_id=create_user(session).id,
            kind=VocabularyKind.SYNONYMS,
            key="质检",
            text="质检, 质量检测",
            enabled=True,
        )
        session.commit()

    seen: list[dict[str, float]] = []
    writer = engine.connect()
    writer.exec_driver_sql("SELECT 1")  # the connection's BEGIN IMMEDIATE: the write lock
    try:
        reader = threading.Thread(
            target=lambda: seen.append(VocabularyCache(sessions).current().expansions("质检")),
            daemon=True,
        )
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the search waited for the writer"
    finally:
        writer.rollback()
        writer.close()
        engine.dispose()
    assert seen == [{"质量检测": 0.8}]  # the operator's edit, not the packaged 验布 set
