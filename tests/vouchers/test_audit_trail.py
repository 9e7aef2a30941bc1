"""An officer reads their own government's audit trail, never another government's; the
operator reads every row."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.audit import AuditEvent
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from tests.billing.factories import T0
from tests.factories import create_org, create_user, login
from tests.vouchers.factories import create_program, grant, officer_actor, sme_actor
from vouchers import audit_trail, flags, wallet
from vouchers.models import Program


def government_world(session: Session, officer: Actor, sme: Actor) -> Program:
    """A program with an application and an issued voucher."""
    program = create_program(session, officer, name=f"{officer.organization.name}上云券")
    grant(session, program, sme, 50_000, officer=officer)
    return program


def rows_of(session: Session, *conditions: sa.ColumnElement[bool]) -> set[int]:
    return set(session.scalars(sa.select(AuditEvent.id).where(sa.or_(*conditions))))


def test_an_officer_sees_their_own_governments_rows_only(
    client: FlaskClient, session: Session
) -> None:
    officer_a, officer_b = officer_actor(session), officer_actor(session)
    sme = sme_actor(session)  # applies to both programs; both flag it
    program_a = government_world(session, officer_a, sme)
    program_b = government_world(session, officer_b, sme)
    for officer in (officer_a, officer_b):
        flags.flag(session, sme.organization, actor=officer, reason="虚假材料", now=T0)
    # A system job acts for nobody: its rows belong to the government through the subject.
    assert wallet.expire_due(session, T0 + timedelta(days=365)) == 2

    seen = {e.id for e in audit_trail.latest_events(session, officer_a.organization.id, limit=500)}
    b_rows = rows_of(
        session,
        AuditEvent.actor_org_id == officer_b.organization.id,
        AuditEvent.data["program_id"].as_integer() == program_b.id,
        sa.and_(
            AuditEvent.subject_type == "voucher_program",
            AuditEvent.subject_id == str(program_b.id),
        ),
    )
    a_rows = rows_of(
        session,
        AuditEvent.actor_org_id == officer_a.organization.id,
        AuditEvent.data["program_id"].as_integer() == program_a.id,
        sa.and_(
            AuditEvent.subject_type == "voucher_program",
            AuditEvent.subject_id == str(program_a.id),
        ),
    )
    assert b_rows and not (seen & b_rows)
    assert a_rows <= seen
    actions = set(session.scalars(sa.select(AuditEvent.action).where(AuditEvent.id.in_(seen))))
    assert {
        "voucher_program.created",
        "voucher_application.submitted",  # written by the enterprise, about A's program
        "voucher.issued",
        "organization.flagged",
        "voucher.expired",  # written by nobody, about A's voucher
    } <= actions

    login(client, officer_a.user)
    client.post(f"/switch/{officer_a.organization.id}")
    page = client.get("/vouchers/audit").get_data(as_text=True)
    for row in b_rows:
        assert f'data-audit-row="{row}"' not in page
    for row in sorted(a_rows)[-10:]:
        assert f'data-audit-row="{row}"' in page

    operator = create_user(session)
    create_org(session, OrgKind.PLATFORM, owner=operator)
    login(client, operator)
    page = client.get("/console/audit").get_data(as_text=True)
    for row in b_rows | a_rows:
        assert f"<td>{row}</td>" in page
