"""Signing in and out, several organizations, invitations, roles."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import audit, outbox
from marketplace.models import Membership, OrgKind, Role
from tests.factories import PASSWORD, add_member, create_org, create_user, login
from tests.mail import SmtpSink


def test_login_logout(client: FlaskClient, session: Session) -> None:
    user = create_user(session, email="Wang@Example.com")
    create_org(session, owner=user)
    response = client.post("/login", data={"email": "wang@example.com ", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert user.name in client.get("/dashboard").get_data(as_text=True)
    client.post("/logout")
    assert client.get("/dashboard").status_code == 302  # back to the login page


def test_wrong_password_is_refused(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    response = client.post("/login", data={"email": user.email, "password": "nope-nope"})
    assert response.status_code == 200
    assert client.get("/dashboard").status_code == 302


def test_login_does_not_redirect_off_site(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "next": "//evil.example/x"},
    )
    assert response.headers["Location"].endswith("/dashboard")


def test_switch_between_organizations(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    first = create_org(session, owner=user, name="第一家企业有限公司")
    second = create_org(session, OrgKind.VENDOR, owner=user, name="第二家科技有限公司")
    login(client, user)
    page = client.get("/organization").get_data(as_text=True)
    assert first.name in page
    client.post(f"/switch/{second.id}")
    assert second.name in client.get("/organization").get_data(as_text=True)
    other = create_org(session)
    assert client.post(f"/switch/{other.id}").status_code == 404  # not a member


def test_invitation_link_lets_a_colleague_join(app, client: FlaskClient, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    login(client, owner)
    page = client.post(
        "/organization/members", data={"email": "colleague@example.com", "role": "member"}
    ).get_data(as_text=True)
    link = re.search(r'id="invite-link" value="([^"]+)"', page).group(1)
    path = link.split("marketplace.test", 1)[1]

    colleague = app.test_client()
    page = colleague.get(path).get_data(as_text=True)
    assert org.name in page
    response = colleague.post(path, data={"name": "赵敏", "password": "another-pass-1"})
    assert response.status_code == 302
    membership = session.scalar(
        sa.select(Membership).where(
            Membership.organization_id == org.id, Membership.role == Role.MEMBER
        )
    )
    assert membership.user.email == "colleague@example.com"
    assert colleague.get(path).status_code == 404  # used once


def test_invitation_is_emailed_when_smtp_is_configured(
    smtp: SmtpSink, client: FlaskClient, session: Session
) -> None:
    owner = create_user(session)
    create_org(session, owner=owner)
    login(client, owner)
    client.post("/organization/members", data={"email": "new@example.com", "role": "admin"})
    assert outbox.drain(client.application).done == 1  # the worker's part
    messages = smtp.wait_for(1)
    assert messages[0]["To"] == "new@example.com"
    assert "/invitations/" in messages[0].get_content()


def test_member_cannot_invite_or_change_roles(client: FlaskClient, session: Session) -> None:
    org = create_org(session)
    member = add_member(session, org, Role.MEMBER)
    login(client, member)
    assert (
        client.post(
            "/organization/members", data={"email": "x@example.com", "role": "member"}
        ).status_code
        == 403
    )
    owner_membership = session.scalar(
        sa.select(Membership).where(
            Membership.organization_id == org.id, Membership.role == Role.OWNER
        )
    )
    assert (
        client.post(
            f"/organization/members/{owner_membership.id}/role", data={"role": "member"}
        ).status_code
        == 403
    )


def test_owner_changes_a_role_and_it_is_audited(client: FlaskClient, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    member = add_member(session, org, Role.MEMBER)
    login(client, owner)
    membership = member.membership_in(org.id)
    client.post(f"/organization/members/{membership.id}/role", data={"role": "admin"})
    session.refresh(membership)
    assert membership.role is Role.ADMIN
    event = session.scalar(
        sa.select(audit.AuditEvent).where(audit.AuditEvent.action == "membership.role_changed")
    )
    assert event.data == {"user_id": member.id, "from": "member", "to": "admin"}


def test_last_owner_cannot_be_demoted(client: FlaskClient, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    second_owner = add_member(session, org, Role.OWNER)
    login(client, second_owner)
    membership = owner.membership_in(org.id)
    client.post(f"/organization/members/{membership.id}/role", data={"role": "member"})
    session.refresh(membership)
    assert membership.role is Role.MEMBER  # two owners: allowed
    mine = second_owner.membership_in(org.id)
    client.post("/logout")
    login(client, owner)  # now a member
    assert (
        client.post(f"/organization/members/{mine.id}/role", data={"role": "member"}).status_code
        == 403
    )
