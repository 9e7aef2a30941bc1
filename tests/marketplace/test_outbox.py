"""The outbox: jobs commit with the change that needs them, are delivered after the commit by
the worker, retried with backoff while the outside world is down, and shown to the operator."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing import notify
from marketplace import outbox
from marketplace.db import db, utcnow
from marketplace.models import OrgKind
from marketplace.outbox import JobStatus, Kind, OutboxJob
from tests.factories import create_org, create_token, create_user, login
from tests.mail import SmtpSink


def _jobs(session: Session) -> list[OutboxJob]:
    session.expire_all()
    return list(session.scalars(sa.select(OutboxJob).order_by(OutboxJob.id)))


def _notify_route(app: Flask, smtp: SmtpSink, org_id: int, *, then: str) -> dict[str, Any]:
    """A route that stores a notification (whose e-mail is queued) and then succeeds, answers
    422, or raises; it records what the SMTP server had received by then."""
    seen: dict[str, Any] = {}

    @app.post("/test-notify")
    def notify_then() -> tuple[str, int]:
        notify.send(db.session, org_id, "payment_succeeded", "test:paid", number="INV-1")
        seen["during_request"] = list(smtp.handler.messages)
        if then == "raise":
            raise RuntimeError("the work after queueing failed")
        return ("refused", 422) if then == "refuse" else ("ok", 200)

    return seen


@pytest.mark.parametrize("then", ["raise", "refuse"])
def test_a_rolled_back_request_delivers_nothing(
    smtp: SmtpSink, app: Flask, client: FlaskClient, session: Session, then: str
) -> None:
    org = create_org(session)
    seen = _notify_route(app, smtp, org.id, then=then)
    if then == "raise":
        with pytest.raises(RuntimeError):
            client.post("/test-notify")
    else:
        assert client.post("/test-notify").status_code == 422
    assert seen["during_request"] == []
    assert _jobs(session) == []
    assert outbox.drain(app).handled == 0
    assert smtp.handler.messages == []


def test_mail_is_sent_after_the_commit_never_before(
    smtp: SmtpSink, app: Flask, client: FlaskClient, session: Session
) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    seen = _notify_route(app, smtp, org.id, then="succeed")
    assert client.post("/test-notify").status_code == 200
    assert seen["during_request"] == []  # nothing reaches SMTP inside the transaction
    (job,) = _jobs(session)
    assert (job.kind, job.status, job.payload["to"]) == ("mail", JobStatus.PENDING, owner.email)
    assert outbox.drain(app).done == 1
    (message,) = smtp.handler.messages
    assert message["To"] == owner.email
    assert "INV-1" in message.get_content()


@pytest.fixture
def sink_not_started(config: dict[str, object]) -> SmtpSink:
    """A mail server whose port the app is configured with, but that is not running yet."""
    sink = SmtpSink()
    config["MAIL_SERVER"], config["MAIL_PORT"] = sink.host, sink.port
    return sink


def test_smtp_down_the_job_is_retried_and_delivered_once(
    sink_not_started: SmtpSink, app: Flask, session: Session
) -> None:
    with app.app_context():
        owner = create_user(session)
        org = create_org(session, owner=owner)
        notify.send(session, org.id, "payment_succeeded", "test:down", number="INV-9")
        session.commit()

    first = outbox.drain(app)
    assert (first.done, first.failed) == (0, 1)
    (job,) = _jobs(session)
    assert job.status is JobStatus.FAILED
    assert job.attempts == 1
    assert "ConnectionRefusedError" in job.last_error
    assert job.next_attempt_at > utcnow()  # backoff: not tried again at once
    assert outbox.drain(app).handled == 0

    with sink_not_started as sink:
        later = job.next_attempt_at + timedelta(seconds=1)
        assert outbox.drain(app, now=later).done == 1
        assert outbox.drain(app, now=later + timedelta(days=1)).handled == 0
        assert len(sink.handler.messages) == 1
        assert "INV-9" in sink.handler.messages[0].get_content()
    (job,) = _jobs(session)
    assert (job.status, job.attempts, job.last_error) == (JobStatus.DONE, 2, "")


def test_a_failing_job_goes_dead_and_the_operator_sees_and_retries_it(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    calls: list[dict[str, Any]] = []
    broken = {"yes": True}

    def flaky(payload: dict[str, Any]) -> None:
        calls.append(payload)
        if broken["yes"]:
            raise ConnectionError("vendor endpoint answered 503")

    outbox.register(app, "test.flaky", flaky, max_attempts=2, backoff=timedelta(seconds=10))
    with app.app_context():
        job_id = outbox.enqueue(session, "test.flaky", {"n": 1}, dedupe_key="flaky:1")
        assert outbox.enqueue(session, "test.flaky", {"n": 1}, dedupe_key="flaky:1") is None
        session.commit()
    assert outbox.drain(app).failed == 1
    assert outbox.drain(app, now=utcnow() + timedelta(minutes=1)).dead == 1
    assert outbox.drain(app, now=utcnow() + timedelta(days=9)).handled == 0  # dead stays dead
    assert len(calls) == 2

    operator = create_user(session)
    platform = create_org(session, OrgKind.PLATFORM, owner=operator)
    token = create_token(session, operator, platform)
    bearer = {"Authorization": f"Bearer {token}"}
    listing = client.get("/api/v1/jobs?status=dead", headers=bearer).get_json()
    (item,) = listing["items"]
    assert (item["id"], item["status"], item["attempts"]) == (job_id, "dead", 2)
    assert "503" in item["last_error"]
    assert listing["counts"]["dead"] == 1

    login(client, operator)
    page = client.get("/console/jobs/?status=dead").get_data(as_text=True)
    assert "test.flaky" in page and "vendor endpoint answered 503" in page
    assert "立即重试" in page and "已停止重试" in page  # zh-CN by default
    with client.session_transaction() as browser:
        browser["lang"] = "en"
    english = client.get("/console/jobs/?status=dead").get_data(as_text=True)
    assert "Retry now" in english and "Failed for good" in english

    answer = client.post(f"/api/v1/jobs/{job_id}/retry", headers=bearer)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["status"] == "pending"
    again = client.post(f"/api/v1/jobs/{job_id}/retry", headers=bearer)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "conflict"
    assert client.post("/api/v1/jobs/2147483647/retry", headers=bearer).status_code == 404

    broken["yes"] = False
    assert outbox.drain(app).done == 1
    (job,) = _jobs(session)
    assert (job.status, job.attempts) == (JobStatus.DONE, 1)


def test_the_page_retry_button_requeues_a_failed_job(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    def failing(payload: dict[str, Any]) -> None:
        raise ValueError("bad")

    outbox.register(app, "test.failing", failing)
    with app.app_context():
        job_id = outbox.enqueue(session, "test.failing", {})
        session.commit()
    outbox.drain(app)
    operator = create_user(session)
    create_org(session, OrgKind.PLATFORM, owner=operator)
    login(client, operator)
    assert client.post(f"/console/jobs/{job_id}/retry").status_code == 302
    (job,) = _jobs(session)
    assert job.status is JobStatus.PENDING
    assert job.next_attempt_at <= utcnow()


def test_an_unregistered_kind_is_refused_at_enqueue(app: Flask, session: Session) -> None:
    with app.app_context(), pytest.raises(ValueError, match="no outbox handler"):
        outbox.enqueue(session, "nobody.handles.this", {})


@given(
    attempts=st.integers(min_value=1, max_value=200),
    base=st.integers(min_value=1, max_value=3600),
    cap=st.integers(min_value=1, max_value=86_400),
)
def test_backoff_doubles_and_never_passes_its_cap(attempts: int, base: int, cap: int) -> None:
    kind = Kind(
        "k",
        lambda payload: None,
        backoff=timedelta(seconds=base),
        max_backoff=timedelta(seconds=cap),
    )
    delay = kind.delay(attempts)
    assert delay <= timedelta(seconds=cap)
    assert delay.total_seconds() == min(base * 2 ** (attempts - 1), cap)
    assert kind.delay(attempts + 1) >= delay


def test_two_drains_at_once_deliver_each_job_once(database_url: str, tmp_path: Path) -> None:
    """Two workers' drains in parallel threads on committed jobs (no test transaction):
    SKIP LOCKED on PostgreSQL, the single writer on SQLite, give each job to one of them."""
    from marketplace import create_app

    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "SEARCH_INDEX_DIR": str(tmp_path)}
    )
    delivered: list[int] = []
    lock = threading.Lock()

    def record(payload: dict[str, Any]) -> None:
        time.sleep(0.01)  # let the other drain run meanwhile
        with lock:
            delivered.append(payload["n"])

    outbox.register(app, "test.parallel", record)
    with app.app_context():
        for n in range(40):
            outbox.enqueue(db.session, "test.parallel", {"n": n}, dedupe_key=f"parallel:{n}")
        db.session.commit()
    try:

        def drain_all() -> None:
            while outbox.drain(app, limit=3).handled:
                pass

        threads = [threading.Thread(target=drain_all) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(delivered) == list(range(40))
    finally:
        with app.app_context():
            db.session.execute(sa.delete(OutboxJob).where(OutboxJob.kind == "test.parallel"))
            db.session.commit()
        app.extensions["marketplace.db"].engine.dispose()
