"""The hash-chained audit log catches a changed, inserted or deleted row."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import audit
from marketplace.models import OrgKind
from tests.audit_helpers import without_append_only_guard
from tests.factories import create_org, create_token, create_user


def write_events(session: Session, n: int = 5) -> list[audit.AuditEvent]:
    return [
        audit.record(
            session, "test.event", "thing", i, data={"amount_fen": i * 100, "名称": "测试"}
        )
        for i in range(n)
    ]


def test_intact_chain_verifies(session: Session) -> None:
    write_events(session)
    result = audit.verify(session)
    assert result.ok and result.first_bad is None and result.checked >= 5


def test_database_refuses_updates_and_deletes(session: Session) -> None:
    event = write_events(session, 1)[0]
    for statement in (
        sa.update(audit.AuditEvent).where(audit.AuditEvent.id == event.id).values(action="x"),
        sa.delete(audit.AuditEvent).where(audit.AuditEvent.id == event.id),
    ):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), session.begin_nested():
            session.execute(statement)


@pytest.mark.parametrize(
    "change",
    [
        {"data": {"amount_fen": 1, "名称": "测试"}},
        {"action": "test.other"},
        {"subject_id": "999"},
        {"actor_user_id": 42},
    ],
)
def test_tampered_row_is_named(session: Session, change: dict) -> None:
    events = write_events(session)
    target = events[2]
    without_append_only_guard(session)
    session.execute(
        sa.update(audit.AuditEvent).where(audit.AuditEvent.id == target.id).values(**change)
    )
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok
    assert result.first_bad == target.id


def test_deleted_row_is_caught_at_the_next_row(session: Session) -> None:
    events = write_events(session)
    without_append_only_guard(session)
    session.execute(sa.delete(audit.AuditEvent).where(audit.AuditEvent.id == events[1].id))
    session.expire_all()
    result = audit.verify(session)
    assert not result.ok and result.first_bad == events[2].id


def test_rehashed_row_still_breaks_the_chain(session: Session) -> None:
    """Fixing up the tampered row's own hash is not enough: the next row points at the old one."""
    events = write_events(session)
    without_append_only_guard(session)
    target = events[1]
    target_data = {"amount_fen": 0, "名称": "测试"}
    forged = audit.AuditEvent(
        created_at=target.created_at,
        actor_user_id=None,
        actor_org_id=None,
        action=target.action,
        subject_type=target.subject_type,
        subject_id=target.subject_id,
        data=target_data,
        prev_hash=target.prev_hash,
    )
    session.execute(
        sa.update(audit.AuditEvent)
        .where(audit.AuditEvent.id == target.id)
        .values(data=target_data, hash=forged.compute_hash())
    )
    session.expire_all()
    assert audit.verify(session).first_bad == events[2].id


def test_security_relevant_changes_are_recorded(session: Session) -> None:
    user = create_user(session)
    org = create_org(session, OrgKind.VENDOR, owner=user)
    create_token(session, user, org)
    actions = set(session.scalars(sa.select(audit.AuditEvent.action)))
    assert {"organization.registered", "token.created"} <= actions


def test_verify_through_api_and_cli(app: Flask, client: FlaskClient, session: Session) -> None:
    events = write_events(session)
    operator = create_user(session)
    platform = create_org(session, OrgKind.PLATFORM, owner=operator)
    headers = {"Authorization": f"Bearer {create_token(session, operator, platform)}"}
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body["ok"] is True and body["first_bad"] is None

    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "ok" in result.output

    without_append_only_guard(session)
    session.execute(
        sa.update(audit.AuditEvent)
        .where(audit.AuditEvent.id == events[3].id)
        .values(subject_id="x")
    )
    session.flush()
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body == {
        "ok": False,
        "checked": body["checked"],
        "first_bad": events[3].id,
        "reason": "row content does not match its hash",
        "code": "row_hash",
        "checkpoints_checked": 0,
        "first_bad_checkpoint": None,
        "notice": None,
    }
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and f"row {events[3].id}" in result.output
