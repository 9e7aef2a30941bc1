"""咨询服务商 through HTTP: a buyer asks on a solution page, the vendor sees it in its inbox
and to-do list and answers, the buyer reads the answer (page, to-do, notification, e-mail);
other organizations do not find the thread; refused input changes nothing; the vendor's
API lists, reads and answers threads."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import Notification
from catalog import inquiries
from catalog.inquiry_models import BODY_MAX, Inquiry, InquiryMessage, InquiryStatus
from catalog.models import Solution
from devtools.demo import catalog as catalog_demo
from devtools.demo import inquiries as inquiry_demo
from devtools.demo.platform import load_platform_demo
from marketplace import outbox, webhooks
from marketplace.audit import AuditEvent
from marketplace.db import db, utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Role
from marketplace.urls import UrlPolicy
from marketplace.webhook_models import VendorEvent
from tests.catalog.factories import publish_solution
from tests.factories import actor_for, add_member, create_token, login
from tests.mail import SmtpSink
from tests.vouchers.factories import sme_actor, vendor_actor

QUESTION = "请问能否对接我们现有的用友 ERP？部署需要几天？"
ANSWER = "可以对接，提供标准接口，三个工作日内部署完成。"


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def signed_in(app: Flask, actor: Actor) -> FlaskClient:
    client = app.test_client()
    login(client, actor.user)
    return client


def counts(session: Session) -> tuple[int, int]:
    return (
        session.scalar(sa.select(sa.func.count(Inquiry.id))) or 0,
        session.scalar(sa.select(sa.func.count(InquiryMessage.id))) or 0,
    )


@pytest.fixture
def listing(session: Session) -> tuple[Solution, Actor, Actor]:
    """A published listing of a vendor, and a buyer (both owners)."""
    vendor = vendor_actor(session)
    solution = publish_solution(session, vendor)
    buyer = sme_actor(session)
    session.commit()
    return solution, vendor, buyer


def ask(session: Session, solution: Solution, buyer: Actor, body: str = QUESTION) -> Inquiry:
    found = inquiries.ask(session, solution, actor=buyer, subject="", body=body, now=utcnow())
    session.commit()
    return found


def test_buyer_asks_vendor_answers_and_buyer_reads_the_answer(
    smtp: SmtpSink, app: Flask, session: Session, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution, vendor, buyer = listing
    buyer_client = signed_in(app, buyer)
    solution_page = page(buyer_client.get(f"/solutions/{solution.slug}"))
    assert f'href="/solutions/{solution.slug}/ask"' in solution_page

    asked = buyer_client.post(
        f"/solutions/{solution.slug}/ask", data={"subject": "ERP 对接", "body": QUESTION}
    )
    assert asked.status_code == 303
    thread_path = asked.headers["Location"]
    inquiry = session.scalars(sa.select(Inquiry)).one()
    assert thread_path == f"/account/inquiries/{inquiry.id}"
    assert (inquiry.status, inquiry.subject) == (InquiryStatus.OPEN, "ERP 对接")
    assert session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.subject_type == "inquiry")
    ).all() == ["inquiry.created"]

    vendor_client = signed_in(app, vendor)
    dashboard = page(vendor_client.get("/dashboard"))
    todo = re.search(r'href="([^"]+)" data-todo-item="inquiries_waiting">([^<]+)<', dashboard)
    assert todo and todo.group(1) == "/vendor/inquiries?status=open" and "1" in todo.group(2)
    inbox = page(vendor_client.get("/vendor/inquiries?status=open"))
    assert f'data-inquiry="{inquiry.id}"' in inbox and "data-inquiry-unread" in inbox
    thread = page(vendor_client.get(f"/vendor/inquiries/{inquiry.id}"))
    assert QUESTION in thread and buyer.user.name in thread and buyer.organization.name in thread
    assert "data-inquiry-unread" not in page(vendor_client.get("/vendor/inquiries"))  # opened: read
    vendor_notice = session.scalars(
        sa.select(Notification).where(Notification.organization_id == vendor.organization.id)
    ).one()
    assert vendor_notice.kind == "inquiry_question"

    answered = vendor_client.post(f"/vendor/inquiries/{inquiry.id}/messages", data={"body": ANSWER})
    assert answered.status_code == 303
    session.refresh(inquiry)
    assert inquiry.status is InquiryStatus.ANSWERED and inquiry.unread_by_buyer
    assert 'data-todo-item="inquiries_waiting"' not in page(vendor_client.get("/dashboard"))

    # The buyer: a to-do item, a notification, an e-mail to its owner after commit.
    assert 'data-todo-item="inquiry_answers"' in page(buyer_client.get("/dashboard"))
    notifications = page(buyer_client.get("/billing/notifications"))
    assert vendor.organization.name in notifications and ANSWER[:10] in notifications
    assert outbox.drain(app).done >= 2  # the question to the vendor, the answer to the buyer
    mails = {m["To"]: m.get_content() for m in smtp.wait_for(2)}
    assert ANSWER in mails[buyer.user.email] and QUESTION in mails[vendor.user.email]

    answer_notice = session.scalars(
        sa.select(Notification).where(Notification.organization_id == buyer.organization.id)
    ).one()
    assert answer_notice.read_at is None
    assert 'data-unread="1"' in page(buyer_client.get("/dashboard"))  # the bell
    thread = page(buyer_client.get(thread_path))
    session.refresh(answer_notice)
    assert answer_notice.read_at is not None  # read with the thread
    assert 'data-unread="0"' in thread  # and the bell of that very page knows it
    assert thread.index(QUESTION) < thread.index(ANSWER)
    assert vendor.user.name in thread and vendor.organization.name in thread
    assert 'data-todo-item="inquiry_answers"' not in page(buyer_client.get("/dashboard"))
    assert f'data-inquiry="{inquiry.id}"' in page(buyer_client.get("/account/inquiries"))

    followed = buyer_client.post(f"{thread_path}/messages", data={"body": "好的，谢谢！"})
    assert followed.status_code == 303
    session.refresh(inquiry)
    assert inquiry.status is InquiryStatus.OPEN and len(inquiry.messages) == 3

    closed = vendor_client.post(f"/vendor/inquiries/{inquiry.id}/close")
    assert closed.status_code == 303
    session.refresh(inquiry)
    assert inquiry.status is InquiryStatus.CLOSED and inquiry.closed_at is not None
    assert "data-closed" in page(buyer_client.get(thread_path))


def test_visitors_are_sent_to_sign_in_and_back(
    client: FlaskClient, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution = listing[0]
    html = page(client.get(f"/solutions/{solution.slug}"))
    assert f"/login?next=/solutions/{solution.slug}/ask" in html.replace("%2F", "/")
    response = client.get(f"/solutions/{solution.slug}/ask")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_other_organizations_and_forged_ids_get_not_found(
    app: Flask, session: Session, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution, vendor, buyer = listing
    inquiry = ask(session, solution, buyer)
    other_buyer, other_vendor = sme_actor(session), vendor_actor(session)
    colleague = actor_for(
        session, add_member(session, buyer.organization, Role.MEMBER), buyer.organization
    )
    session.commit()
    before = counts(session)
    for actor in (other_buyer, other_vendor):
        client = signed_in(app, actor)
        for method, path in (
            ("GET", f"/account/inquiries/{inquiry.id}"),
            ("POST", f"/account/inquiries/{inquiry.id}/messages"),
            ("GET", f"/vendor/inquiries/{inquiry.id}"),
            ("POST", f"/vendor/inquiries/{inquiry.id}/messages"),
            ("POST", f"/vendor/inquiries/{inquiry.id}/close"),
        ):
            status = client.open(path, method=method, data={"body": "伪造"}).status_code
            assert status in (403, 404), (actor.org_kind, method, path, status)
        assert QUESTION not in page(client.get("/account/inquiries"))
    other_token = create_token(session, other_vendor.user, other_vendor.organization)
    session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {other_token}"}
    assert api.get(f"/api/v1/inquiries/{inquiry.id}", headers=headers).status_code == 404
    assert api.get("/api/v1/inquiries", headers=headers).get_json() == []
    # The buyer's colleague reads the thread; the vendor does not find it on the buyer's side.
    assert signed_in(app, colleague).get(f"/account/inquiries/{inquiry.id}").status_code == 200
    vendor_client = signed_in(app, vendor)
    assert vendor_client.get(f"/account/inquiries/{inquiry.id}").status_code == 403
    assert vendor_client.get(f"/vendor/inquiries/{inquiry.id + 1000}").status_code == 404
    assert counts(session) == before


@pytest.mark.parametrize(
    "form, message",
    [
        ({"body": ""}, "Write your message."),
        ({"body": " \n\t "}, "Write your message."),
        ({"body": "问" * (BODY_MAX + 1)}, f"At most {BODY_MAX} characters."),
        ({"subject": "题" * 121, "body": QUESTION}, "At most 120 characters."),
        ({"body": "a\x00b"}, "NUL"),
    ],
)
def test_refused_questions_change_nothing(
    app: Flask,
    session: Session,
    listing: tuple[Solution, Actor, Actor],
    form: dict[str, str],
    message: str,
) -> None:
    solution, _vendor, buyer = listing
    client = signed_in(app, buyer)
    client.post("/language", data={"lang": "en"})
    response = client.post(f"/solutions/{solution.slug}/ask", data=form)
    assert response.status_code in (400, 422)
    assert message in page(response)
    assert counts(session) == (0, 0)
    assert session.scalar(sa.select(sa.func.count(Notification.id))) == 0


def test_refused_replies_change_nothing(
    app: Flask, session: Session, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution, vendor, buyer = listing
    inquiry = ask(session, solution, buyer)
    client = signed_in(app, vendor)
    client.post("/language", data={"lang": "en"})
    before = counts(session)
    empty = client.post(f"/vendor/inquiries/{inquiry.id}/messages", data={"body": "   "})
    assert empty.status_code == 422 and "Write your message." in page(empty)
    assert client.post(f"/vendor/inquiries/{inquiry.id}/close").status_code == 303
    late = client.post(f"/vendor/inquiries/{inquiry.id}/messages", data={"body": ANSWER})
    assert late.status_code == 409 and "This thread is closed." in page(late)
    assert counts(session) == before
    session.refresh(inquiry)
    assert inquiry.status is InquiryStatus.CLOSED


def test_vendor_api_lists_reads_and_answers(
    app: Flask, session: Session, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution, vendor, buyer = listing
    first = ask(session, solution, buyer)
    second = ask(session, solution, buyer, body="支持导出 Excel 吗？")
    inquiries.reply(session, second, actor=vendor, body="支持。", now=utcnow())
    token = create_token(session, vendor.user, vendor.organization)
    buyer_token = create_token(session, buyer.user, buyer.organization)
    session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}

    listed = api.get("/api/v1/inquiries?status=open", headers=headers)
    assert listed.status_code == 200
    assert [(t["id"], t["status"]) for t in listed.get_json()] == [(first.id, "open")]
    assert len(api.get("/api/v1/inquiries", headers=headers).get_json()) == 2
    bad = api.get("/api/v1/inquiries?status=lost", headers=headers)
    assert bad.status_code == 422 and "status" in bad.get_json()["error"]["fields"]

    detail = api.get(f"/api/v1/inquiries/{first.id}", headers=headers).get_json()
    assert detail["buyer_name"] == buyer.organization.name and detail["unread"] is True
    assert [(m["side"], m["body"]) for m in detail["messages"]] == [("buyer", QUESTION)]

    refused = api.post(
        f"/api/v1/inquiries/{first.id}/messages",
        headers={**headers, "Accept-Language": "en"},  # the message quoted in English
        json={"body": ""},
    )
    assert refused.status_code == 422
    assert refused.get_json()["error"]["fields"] == {"body": ["Write your message."]}
    answered = api.post(
        f"/api/v1/inquiries/{first.id}/messages", headers=headers, json={"body": ANSWER}
    )
    assert answered.status_code == 201
    body = answered.get_json()
    assert body["status"] == "answered" and body["messages"][-1]["body"] == ANSWER
    assert body["messages"][-1]["author_name"] == vendor.user.name
    notice = session.scalars(
        sa.select(Notification).where(
            Notification.organization_id == buyer.organization.id,
            Notification.kind == "inquiry_answer",
        )
    ).all()
    assert len(notice) == 2  # the answer by API and the one before
    question_notices = session.scalars(
        sa.select(Notification.read_at).where(
            Notification.organization_id == vendor.organization.id
        )
    ).all()
    assert len(question_notices) == 2 and all(question_notices)  # answering read them

    buyer_headers = {"Authorization": f"Bearer {buyer_token}"}
    assert api.get("/api/v1/inquiries", headers=buyer_headers).status_code == 403
    assert "/inquiries/{inquiry_id}/messages" in str(
        api.get("/api/v1/openapi.json").get_json()["paths"]
    )


def test_only_buyers_with_a_writing_role_ask(
    app: Flask, session: Session, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution, vendor, buyer = listing
    auditor = add_member(session, buyer.organization, Role.AUDITOR)
    session.commit()
    client = app.test_client()
    login(client, auditor)
    refused = client.post(f"/solutions/{solution.slug}/ask", data={"body": QUESTION})
    assert refused.status_code == 403
    vendor_client = signed_in(app, vendor)
    assert vendor_client.get(f"/solutions/{solution.slug}/ask").status_code == 403
    assert counts(session) == (0, 0)


def test_vendor_webhooks_hear_of_buyer_messages(
    app: Flask, session: Session, listing: tuple[Solution, Actor, Actor]
) -> None:
    solution, vendor, buyer = listing
    with app.app_context():  # the endpoint's secret is encrypted with the app's key
        webhooks.create_endpoint(
            session,
            organization_id=vendor.organization.id,
            user_id=vendor.user.id,
            url="https://93.184.216.34/hooks",
            event_types=["inquiry.created", "inquiry.message"],
            policy=UrlPolicy(),
            now=utcnow(),
        )
    inquiry = ask(session, solution, buyer)
    inquiries.reply(session, inquiry, actor=vendor, body=ANSWER, now=utcnow())
    inquiries.reply(session, inquiry, actor=buyer, body="好的，谢谢！", now=utcnow())
    events = session.scalars(sa.select(VendorEvent).order_by(VendorEvent.id)).all()
    assert [e.type for e in events] == ["inquiry.created", "inquiry.message"]  # not the answer
    assert events[0].data["inquiry_id"] == inquiry.id
    assert events[0].data["solution_slug"] == solution.slug
    assert events[1].data["body"] == "好的，谢谢！"


def test_demo_shows_a_question_with_the_vendors_answer(app: Flask, session: Session) -> None:
    assert inquiry_demo.load in app.extensions["marketplace.demo_loaders"]
    with app.app_context():  # the demo's people and listings, then its inquiries (twice)
        context: dict[str, Any] = {}
        for loader in (load_platform_demo, catalog_demo.load, inquiry_demo.load):
            context.update(loader(db.session, **context))
        inquiry_demo.load(db.session, **context)
        db.session.commit()
    threads = session.scalars(sa.select(Inquiry).order_by(Inquiry.id)).all()
    assert [t.status for t in threads] == [InquiryStatus.ANSWERED, InquiryStatus.OPEN]
    answered = threads[0]
    assert [m.side.value for m in answered.messages] == ["buyer", "vendor"]
    assert answered.solution.is_public and answered.unread_by_buyer
