"""The operator's listing review: queue, decisions, what changed, delisting, and the
preview page shared with the vendor."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import RevisionStatus, Solution, SolutionStatus
from catalog.validation import parse_solution
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind, Role
from tests.catalog.factories import (
    create_solution,
    operator_actor,
    payload,
    publish_solution,
    vendor_actor,
)
from tests.factories import add_member, create_org, create_user, login


def signed_in(app: Flask, actor: Actor) -> FlaskClient:
    client = app.test_client()
    login(client, actor.user)
    return client


def submitted(session: Session, vendor: Actor, **overrides: object) -> Solution:
    solution = create_solution(session, vendor, **overrides)
    services.submit(session, solution, actor=vendor)
    return solution


def status_of(session: Session, solution: Solution) -> SolutionStatus:
    session.expire_all()
    return solution.status


def test_queue_lists_submissions_oldest_first_with_vendor_and_kind(
    app: Flask, session: Session
) -> None:
    vendor, operator = vendor_actor(session, name="云织智能科技有限公司"), operator_actor(session)
    newcomer = vendor_actor(session, verified=False, name="精测视觉技术有限公司")
    edited = publish_solution(session, vendor, operator, name="排产助手")
    services.update_content(
        session, edited, actor=vendor, content=parse_solution(payload(name="排产助手 二代"))
    )
    services.submit(session, edited, actor=vendor)
    fresh = submitted(session, newcomer, name="视觉质检")
    fresh.current.submitted_at = utcnow() - timedelta(hours=2)  # waiting longer
    create_solution(session, vendor, name="还在写的草稿")
    session.flush()

    page = signed_in(app, operator).get("/console/listings/").get_data(as_text=True)
    assert page.index("视觉质检") < page.index("排产助手 二代")
    assert "还在写的草稿" not in page
    rows = re.findall(r'<tr data-solution-id="(\d+)">(.*?)</tr>', page, re.S)
    by_id = {int(solution_id): row for solution_id, row in rows}
    assert 'data-kind="new"' in by_id[fresh.id] and "data-unverified" in by_id[fresh.id]
    assert "精测视觉技术有限公司" in by_id[fresh.id]
    assert 'data-kind="edit"' in by_id[edited.id] and "data-unverified" not in by_id[edited.id]


def test_reject_needs_a_reason_which_the_vendor_then_sees(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = submitted(session, vendor)
    client = signed_in(app, operator)

    page = client.post(f"/console/listings/{solution.id}/reject", data={"note": "  "})
    assert page.status_code == 200
    assert 'data-field="note"' in page.get_data(as_text=True)
    assert status_of(session, solution) is SolutionStatus.SUBMITTED

    note = "案例缺少可量化的结果，请补充漏检率数据。"
    assert (
        client.post(f"/console/listings/{solution.id}/reject", data={"note": note}).status_code
        == 302
    )
    assert status_of(session, solution) is SolutionStatus.REJECTED
    vendor_client = signed_in(app, vendor)
    assert note in vendor_client.get("/vendor/solutions").get_data(as_text=True)
    overview = vendor_client.get(f"/vendor/solutions/{solution.id}").get_data(as_text=True)
    assert 'data-banner="rejected"' in overview and note in overview


def test_listing_of_an_unverified_vendor_cannot_be_approved(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session, verified=False), operator_actor(session)
    solution = submitted(session, vendor)
    client = signed_in(app, operator)
    review = client.get(f"/console/listings/{solution.id}").get_data(as_text=True)
    assert "data-vendor-unverified" in review

    response = client.post(f"/console/listings/{solution.id}/approve")
    assert response.status_code == 200
    assert "data-approve-error" in response.get_data(as_text=True)
    assert status_of(session, solution) is SolutionStatus.SUBMITTED
    assert solution.published_revision_id is None


def test_a_vendor_cannot_review_even_its_own_listing(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    solution = submitted(session, vendor)
    client = signed_in(app, vendor)
    assert client.post(f"/console/listings/{solution.id}/approve").status_code == 403
    assert (
        client.post(f"/console/listings/{solution.id}/reject", data={"note": "x"}).status_code
        == 403
    )
    assert client.get("/console/listings/").status_code == 403
    assert client.get(f"/console/listings/{solution.id}").status_code == 403
    assert status_of(session, solution) is SolutionStatus.SUBMITTED


def test_an_operator_auditor_cannot_decide(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = submitted(session, vendor)
    auditor = add_member(session, operator.organization, Role.AUDITOR)
    client = app.test_client()
    login(client, auditor)
    assert client.get(f"/console/listings/{solution.id}").status_code == 200
    assert client.post(f"/console/listings/{solution.id}/approve").status_code == 403
    assert status_of(session, solution) is SolutionStatus.SUBMITTED


def test_review_page_shows_what_changed_since_the_published_version(
    app: Flask, session: Session
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = publish_solution(session, vendor, operator, name="能耗监测")
    changed = payload(name="能耗监测 Pro", scenarios=["pm.quality", "pm.energy"], deploy_days=5)
    services.update_content(session, solution, actor=vendor, content=parse_solution(changed))
    services.submit(session, solution, actor=vendor)

    page = signed_in(app, operator).get(f"/console/listings/{solution.id}").get_data(as_text=True)
    changes = set(re.findall(r'data-changed="([^"]+)"', page))
    assert changes == {"name", "name_en", "scenarios"}
    assert "能耗监测 Pro" in page


def test_script_in_a_listing_is_escaped_on_the_review_pages(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    attack = "<script>alert(1)</script>"
    solution = submitted(
        session,
        vendor,
        name=attack,
        summary=f"概述{attack}",
        description=f"## 介绍\n\n{attack}\n\n<img src=x onerror=alert(1)>\n\n[链接](javascript:alert(1))",
    )
    operator_client, vendor_client = signed_in(app, operator), signed_in(app, vendor)
    pages = [
        operator_client.get(f"/console/listings/{solution.id}"),
        operator_client.get(f"/console/listings/{solution.id}/preview"),
        operator_client.get("/console/listings/"),
        vendor_client.get(f"/console/listings/{solution.id}/preview"),
        vendor_client.get("/vendor/solutions"),
    ]
    for response in pages:
        page = response.get_data(as_text=True)
        assert response.status_code == 200
        assert "<script>alert" not in page and "onerror" not in page and "javascript:" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<h2>介绍</h2>" in pages[1].get_data(as_text=True)


def test_preview_is_for_the_operator_and_the_listing_vendor_only(
    app: Flask, session: Session
) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = create_solution(session, vendor, name="草稿方案")
    path = f"/console/listings/{solution.id}/preview"
    assert "草稿方案" in signed_in(app, vendor).get(path).get_data(as_text=True)
    assert "草稿方案" in signed_in(app, operator).get(path).get_data(as_text=True)
    assert signed_in(app, vendor_actor(session)).get(path).status_code == 404
    buyer = create_user(session)
    create_org(session, OrgKind.SME, owner=buyer)
    client = app.test_client()
    assert client.get(path).status_code == 302  # to the sign-in page
    login(client, buyer)
    assert client.get(path).status_code == 404
    assert signed_in(app, operator).get(f"{path}?version=9").status_code == 404


def test_operator_delists_with_a_reason_and_relists(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = publish_solution(session, vendor, operator, slug="energy-watch")
    client = signed_in(app, operator)
    assert "energy-watch" in client.get("/console/listings/all").get_data(as_text=True)

    page = client.post(f"/console/listings/{solution.id}/delist", data={"reason": ""})
    assert 'data-field="reason"' in page.get_data(as_text=True)
    assert status_of(session, solution) is SolutionStatus.PUBLISHED

    client.post(f"/console/listings/{solution.id}/delist", data={"reason": "资质证书过期"})
    assert status_of(session, solution) is SolutionStatus.DELISTED
    assert client.get("/api/v1/solutions/energy-watch").status_code == 404
    listed = client.get("/console/listings/all?status=delisted").get_data(as_text=True)
    assert "资质证书过期" in listed

    client.post(f"/console/listings/{solution.id}/relist")
    assert status_of(session, solution) is SolutionStatus.PUBLISHED
    assert client.get("/api/v1/solutions/energy-watch").get_json()["slug"] == "energy-watch"


def test_approving_twice_changes_nothing(app: Flask, session: Session) -> None:
    vendor, operator = vendor_actor(session), operator_actor(session)
    solution = submitted(session, vendor)
    client = signed_in(app, operator)
    assert client.post(f"/console/listings/{solution.id}/approve").status_code == 302
    again = client.post(f"/console/listings/{solution.id}/approve")
    assert again.status_code == 200 and "data-approve-error" in again.get_data(as_text=True)
    session.expire_all()
    assert [r.status for r in solution.revisions] == [RevisionStatus.APPROVED]
    assert session.scalar(sa.select(sa.func.count()).select_from(Solution)) == 1
