"""Signed-in people get the storefront's shared parts from the fragment cache: the results
block of a listing page (rendered once per address, language and catalog version) and the
solution cards (rendered once per what they show). What belongs to the person — their name,
their organization, their forms — is rendered around the shared parts on every request, and
a change to the catalog shows to signed-in people as at once as to visitors."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask import session as flask_session
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import Solution, SolutionRevision
from catalog.views import cards as card_module
from catalog.views.cards import cards
from marketplace.models import Organization
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor
from tests.factories import create_org, create_user, login

RESULTS = re.compile(r'<div class="row g-4">.*?</main>', re.S)


def _signed_in(app: Flask, session: Session, name: str) -> tuple[FlaskClient, str]:
    user = create_user(session, name=name)
    org = create_org(session, owner=user, name=f"{name}的工厂有限公司")
    session.commit()
    client = app.test_client()
    login(client, user)
    return client, org.name


def _results(html: str) -> str:
    found = RESULTS.search(html)
    assert found, html[:2000]
    return found.group(0)


def test_two_signed_in_people_share_the_results_and_keep_their_own_page(
    app: Flask, session: Session
) -> None:
    solution = publish_solution(session)
    first, first_org = _signed_in(app, session, "周一鸣")
    second, second_org = _signed_in(app, session, "吴晓雨")

    one = first.get("/search?q=质检")
    assert one.status_code == 200 and "X-Page-Cache" not in one.headers
    # Edited behind the catalog's back (no search log entry): a page whose results were
    # rendered again would show it; the shared block does not, until the catalog moves.
    session.execute(
        sa.update(SolutionRevision)
        .where(SolutionRevision.id == solution.published_revision_id)
        .values(name="被绕过日志改掉的名字")
    )
    session.commit()
    card_module.rendered.clear()
    two = second.get("/search?q=质检")
    one_html, two_html = one.get_data(as_text=True), two.get_data(as_text=True)
    assert _results(one_html) == _results(two_html)
    assert "被绕过日志改掉的名字" not in two_html
    assert first_org in one_html and second_org not in one_html
    assert second_org in two_html and first_org not in two_html


def test_a_catalog_change_reaches_signed_in_results_at_once(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    kept = publish_solution(session, vendor, operator)
    gone = publish_solution(session, vendor, operator)
    client, _org = _signed_in(app, session, "郑可")
    html = client.get("/search?q=质检").get_data(as_text=True)
    assert f"/solutions/{gone.slug}" in html and f"/solutions/{kept.slug}" in html

    services.delist(session, gone, actor=operator, reason="资质过期")
    session.commit()
    html = client.get("/search?q=质检").get_data(as_text=True)
    assert f"/solutions/{gone.slug}" not in html and f"/solutions/{kept.slug}" in html
    assert client.get("/industries/C33").get_data(as_text=True).count(gone.slug) == 0


def test_the_shared_block_a_signed_in_person_rendered_holds_nothing_of_theirs(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    publish_solution(session)
    member, org_name = _signed_in(app, session, "钱多多")
    member.get("/search?q=质检&industry=C33")
    visitor = client.get("/search?q=质检&industry=C33").get_data(as_text=True)
    assert "钱多多" not in visitor and org_name not in visitor
    assert "csrf_token" not in _results(visitor)


def test_a_card_shows_a_new_vendor_name_and_the_language_at_once(
    app: Flask, session: Session
) -> None:
    solution = publish_solution(session)
    session.commit()
    ids = [solution.id]
    with app.test_request_context("/"):
        before = cards(ids)[0].html
        assert cards(ids)[0].html == before  # the same card, from memory
    vendor = session.get(Organization, solution.vendor_id)
    assert vendor is not None
    vendor.name = "改名后的服务商有限公司"
    session.commit()
    with app.test_request_context("/"):
        renamed = cards(ids)[0].html
    assert "改名后的服务商有限公司" in renamed and renamed != before
    with app.test_request_context("/"):
        flask_session["lang"] = "en"
        english = cards(ids)[0].html
    assert "AI visual inspection" in english and "AI视觉质检" not in english


def test_cards_skip_what_is_no_longer_public_and_keep_the_order(
    app: Flask, session: Session
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    a, b, c = (publish_solution(session, vendor, operator) for _ in range(3))
    services.delist(session, b, actor=operator, reason="下架")
    session.commit()
    with app.test_request_context("/"):
        shown = [card.slug for card in cards([c.id, b.id, a.id, c.id, 10**9])]
    assert shown == [c.slug, a.slug]
    assert session.scalar(sa.select(sa.func.count()).select_from(Solution)) == 3


def test_the_home_catalog_block_is_shared_and_the_rest_is_the_person_s(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    solution = publish_solution(session)
    member, org_name = _signed_in(app, session, "孙立")
    mine = member.get("/").get_data(as_text=True)
    assert f"/solutions/{solution.slug}" in mine and org_name in mine
    assert "/dashboard" in mine  # "go to your dashboard", not "register"
    visitor = client.get("/").get_data(as_text=True)
    assert f"/solutions/{solution.slug}" in visitor
    assert org_name not in visitor and "孙立" not in visitor
    assert "/register" in visitor


def test_the_solution_page_shares_the_listing_and_fills_in_the_viewer_s_parts(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    solution = publish_solution(
        session, description="## 说明\n\n<!--hole:start--> 文本里的注释不是空位。"
    )
    member, org_name = _signed_in(app, session, "冯启")
    path = f"/solutions/{solution.slug}"
    mine = member.get(path).get_data(as_text=True)
    assert mine.count("data-start-plan=") == 1  # one plan: its start form, once
    assert "data-accept-agreement" in mine
    assert f'href="{path}/ask"' in mine and "/account/inquiries" in mine  # a buyer asks
    assert "<!--hole:" not in mine

    session.execute(
        sa.update(SolutionRevision)
        .where(SolutionRevision.id == solution.published_revision_id)
        .values(name="未经日志修改的方案名")
    )
    session.commit()
    visitor = client.get(path).get_data(as_text=True)
    content = visitor.split("<main", 1)[1]
    assert "未经日志修改的方案名" not in content  # the member's shared content, not fresh
    assert org_name not in visitor and "冯启" not in visitor
    assert f'href="{path}/ask"' not in visitor  # the visitor's own "ask": sign in first
    assert "/login?next=" in visitor
    assert "<!--hole:" not in visitor


def test_a_signed_in_buyer_s_solution_page_takes_three_statements(
    app: Flask, session: Session
) -> None:
    """The page every SME opens most: their session (with memberships and the bell's count),
    the solution (with the catalog's version), their contracts and may-rate. More is a
    regression that costs every signed-in view (bench/load.py measures the throughput)."""
    solution = publish_solution(session)
    member, _org_name = _signed_in(app, session, "吕方")
    path = f"/solutions/{solution.slug}"
    assert member.get(path).status_code == 200  # the shared content is rendered once
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE")):
            statements.append(statement)

    engine = session.get_bind()
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        html = member.get(path).get_data(as_text=True)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert "data-start-plan=" in html and "吕方" in html and 'data-unread="0"' in html
    assert len(statements) <= 3, "\n\n".join(statements)
    token = re.search(r'name="csrf_token" value="([^"]*)"', html.split('id="start"', 1)[1])
    assert token and len(token.group(1)) > 20  # the start form's own token, filled in


SHARED_TEMPLATES = (
    "catalog/storefront/_results.html",
    "catalog/storefront/_home_catalog.html",
    "catalog/storefront/_solution_content.html",
    "catalog/storefront/_solution_card.html",
)
# What belongs to one viewer: a shared fragment (or anything it includes or imports) that
# read one of these would show one person's page to everyone.
PERSONAL = re.compile(
    r"\b(current_user|actor|csrf_token|session|memberships|billing_(?:unread|standing)|price_after_voucher)\b"
)


def test_no_shared_fragment_reads_who_is_looking(app: Flask) -> None:
    from jinja2 import meta

    env = app.jinja_env
    seen: set[str] = set()
    pending = list(SHARED_TEMPLATES)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        code = re.sub(r"\{#.*?#\}", "", source, flags=re.S)  # comments may say the words
        found = PERSONAL.findall(code)
        assert not found, f"{name} reads {found}: it is shared by every viewer"
        pending.extend(t for t in meta.find_referenced_templates(env.parse(source)) if t)
    assert "catalog/_solution_body.html" in seen and "catalog/storefront/_macros.html" in seen
