"""Invitations are bound to the invited address, and an owner can remove a member, whose
access (pages and API tokens) ends with their next request. Through the real WSGI stack
(Flask's test client) against the test database (SQLite, or PostgreSQL with DATABASE_URL).
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import audit, memberships
from marketplace.errors import Conflict, NotAllowed
from marketplace.models import ApiToken, Invitation, Membership, OrgKind, Role, User
from tests.factories import (
    actor_for,
    add_member,
    create_org,
    create_token,
    create_user,
    login,
)

NEW_PASSWORD = "a-much-better-secret-42"


def invitation_path(client: FlaskClient, email: str, role: str = "member") -> str:
    """The owner signed in on ``client`` invites ``email``; the link's path."""
    page = client.post("/organization/members", data={"email": email, "role": role})
    link = re.search(r'id="invite-link" value="([^"]+)"', page.get_data(as_text=True))
    assert link, page.get_data(as_text=True)
    return link.group(1).split("marketplace.test", 1)[1]


def member_of(session: Session, org_id: int, user_id: int) -> Membership | None:
    return session.scalar(
        sa.select(Membership).where(
            Membership.organization_id == org_id, Membership.user_id == user_id
        )
    )


def test_a_hijacked_invitation_link_changes_nothing(app: Flask, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    inviter = app.test_client()
    login(inviter, owner)
    path = invitation_path(inviter, "colleague@example.com", role="admin")

    # Someone else, signed in with another address, got hold of the link.
    intruder = create_user(session, email="intruder@example.com")
    create_org(session, owner=intruder)
    browser = app.test_client()
    login(browser, intruder)
    page = browser.get(path)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "data-wrong-person" in text and "colleague@example.com" in text
    assert "Accept invitation" not in text and "接受邀请" not in text
    refused = browser.post(path)

    assert refused.status_code == 403
    assert member_of(session, org.id, intruder.id) is None
    invitation = session.scalar(sa.select(Invitation).where(Invitation.organization_id == org.id))
    session.refresh(invitation)
    assert invitation.accepted_at is None and invitation.accepted_by_id is None
    assert browser.get("/organization").get_data(as_text=True).count(org.name) == 0

    # The invited person registers with the invited address and joins.
    invitee = app.test_client()
    joined = invitee.post(path, data={"name": "赵敏", "password": NEW_PASSWORD})
    assert joined.status_code == 302
    colleague = session.scalar(sa.select(User).where(User.email == "colleague@example.com"))
    membership = member_of(session, org.id, colleague.id)
    assert membership is not None and membership.role is Role.ADMIN


def test_the_invited_address_signed_in_accepts(app: Flask, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    inviter = app.test_client()
    login(inviter, owner)
    path = invitation_path(inviter, "Colleague@Example.com")
    colleague = create_user(session, email="colleague@example.com")
    create_org(session, owner=colleague)

    visitor = app.test_client()
    page = visitor.get(path).get_data(as_text=True)
    assert "/login?next=" in page  # has an account: signs in first, no sign-up form
    assert 'name="password"' not in page

    browser = app.test_client()
    login(browser, colleague)
    assert browser.post(path).status_code == 302
    assert member_of(session, org.id, colleague.id).role is Role.MEMBER


def test_a_refusal_is_in_the_persons_language(app: Flask, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    invitation, secret = memberships.invite(
        session, actor=actor_for(session, owner, org), email="a@example.com", role=Role.MEMBER
    )
    other = create_user(session)
    with app.test_request_context("/"):
        with pytest.raises(NotAllowed) as refused:
            memberships.accept_invitation(session, invitation, other)
        assert str(refused.value.message).startswith("此邀请发给 a@example.com")
    browser = app.test_client()
    login(browser, other)
    page = browser.get(f"/invitations/{secret}").get_data(as_text=True)
    assert "此邀请发给 a@example.com，但您当前登录的是" in page
    browser.post("/language", data={"lang": "en"})
    page = browser.get(f"/invitations/{secret}").get_data(as_text=True)
    assert "This invitation is for a@example.com, but you are signed in as" in page


def test_a_removed_member_is_locked_out_at_once(app: Flask, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, OrgKind.VENDOR, owner=owner, name="云织科技有限公司")
    member = add_member(session, org, Role.MEMBER)
    elsewhere = create_org(session, owner=member, name="另一家企业有限公司")
    token = create_token(session, member, org)
    api = {"Authorization": f"Bearer {token}"}
    owner_browser, member_browser = app.test_client(), app.test_client()
    login(owner_browser, owner)
    login(member_browser, member)
    member_browser.post(f"/switch/{org.id}")
    assert org.name in member_browser.get("/organization").get_data(as_text=True)
    me = app.test_client().get("/api/v1/me", headers=api)
    assert me.status_code == 200

    membership = member_of(session, org.id, member.id)
    removed = owner_browser.post(f"/organization/members/{membership.id}/remove")

    assert removed.status_code == 302
    # The very next request of the removed person: not in the organization any more.
    page = member_browser.get("/organization").get_data(as_text=True)
    assert org.name not in page and elsewhere.name in page
    assert member_browser.post(f"/switch/{org.id}").status_code == 404
    assert app.test_client().get("/api/v1/me", headers=api).status_code == 401
    assert member_of(session, org.id, member.id) is None
    revoked = session.scalar(sa.select(ApiToken).where(ApiToken.user_id == member.id))
    session.refresh(revoked)
    assert revoked.revoked_at is not None
    event = session.scalar(
        sa.select(audit.AuditEvent).where(audit.AuditEvent.action == "membership.removed")
    )
    assert event.actor_user_id == owner.id and event.actor_org_id == org.id
    assert event.data["user_id"] == member.id and event.data["role"] == "member"
    assert event.data["tokens_revoked"] == [revoked.prefix]


def test_a_removed_person_with_no_other_organization_reaches_nothing(
    app: Flask, session: Session
) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    member = add_member(session, org, Role.ADMIN)
    owner_browser, member_browser = app.test_client(), app.test_client()
    login(owner_browser, owner)
    login(member_browser, member)
    assert member_browser.get("/organization/members").status_code == 200

    owner_browser.post(f"/organization/members/{member_of(session, org.id, member.id).id}/remove")

    assert member_browser.get("/organization/members").status_code == 403
    assert member_browser.get("/organization").status_code == 403


def test_only_an_owner_removes_and_never_themselves(app: Flask, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    admin = add_member(session, org, Role.ADMIN)
    member = add_member(session, org, Role.MEMBER)
    admin_browser = app.test_client()
    login(admin_browser, admin)
    target = member_of(session, org.id, member.id)
    assert admin_browser.post(f"/organization/members/{target.id}/remove").status_code == 403
    assert member_of(session, org.id, member.id) is not None

    owner_actor = actor_for(session, owner, org)
    with pytest.raises(Conflict):
        memberships.remove_member(session, member_of(session, org.id, owner.id), actor=owner_actor)
    with pytest.raises(NotAllowed):
        memberships.remove_member(session, target, actor=actor_for(session, admin, org))
    stranger_org = create_org(session)
    stranger = member_of(session, stranger_org.id, stranger_org.memberships[0].user_id)
    with pytest.raises(NotAllowed):
        memberships.remove_member(session, stranger, actor=owner_actor)


def test_an_owner_removes_another_owner(app: Flask, session: Session) -> None:
    owner = create_user(session)
    org = create_org(session, owner=owner)
    second = add_member(session, org, Role.OWNER)
    browser = app.test_client()
    login(browser, owner)
    browser.post(f"/organization/members/{member_of(session, org.id, second.id).id}/remove")
    assert member_of(session, org.id, second.id) is None
    assert member_of(session, org.id, owner.id).role is Role.OWNER
