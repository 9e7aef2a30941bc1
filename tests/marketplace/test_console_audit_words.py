"""The operator's audit page reads in words: event names in the reader's language (from the
registry in marketplace.audit_words, which vouchers, billing and catalog add to at app
setup), and the acting person and organization by name rather than by id."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import audit_words
from marketplace.models import OrgKind
from tests.billing.factories import T0
from tests.factories import create_org, create_user, login
from tests.vouchers.factories import create_program, grant, officer_actor, sme_actor
from vouchers import wallet

NEWER_EVENTS = (
    "voucher_program.stacking_set",
    "voucher_program.stacking_removed",
    "voucher_program.funders_set",
    "voucher_program.settlement_conditions_set",
    "contract.delivery_accepted",
    "voucher_notice.started",
    "voucher_notice.ended",
    "voucher_notice.cancelled",
    "voucher_objection.filed",
    "voucher_objection.upheld",
    "voucher_objection.dismissed",
    "organization.licence_uploaded",
)


def _cells(page: str, action: str) -> list[list[str]]:
    row = re.search(rf'<tr[^>]*data-audit-event="{re.escape(action)}">(.*?)</tr>', page, re.S)
    assert row, f"no {action} row on the page"
    return [
        re.sub(r"<[^>]+>", " ", cell).split()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]


def test_the_operator_reads_event_names_and_peoples_names(
    client: FlaskClient, session: Session
) -> None:
    officer, sme = officer_actor(session), sme_actor(session)
    program = create_program(session, officer, name="浦东新区上云券")
    grant(session, program, sme, 50_000, officer=officer)
    assert wallet.expire_due(session, T0 + timedelta(days=365)) == 1  # a job: nobody acted
    operator = create_user(session)
    create_org(session, OrgKind.PLATFORM, owner=operator)
    session.commit()
    login(client, operator)
    page = client.get("/console/audit").get_data(as_text=True)

    assert "<code>voucher.issued</code>" not in page
    _id, _time, event, subject, actor, _hash = _cells(page, "voucher.issued")
    assert event == ["发放券"] and subject[0] == "券"
    assert actor == [officer.user.name, officer.organization.name]
    _id, _time, event, _subject, actor, _hash = _cells(page, "voucher.expired")
    assert "voucher.expired" not in " ".join(event) and actor == ["系统"]
    _id, _time, event, _subject, actor, _hash = _cells(page, "voucher_program.created")
    assert event == ["创建项目"] and actor[0] == officer.user.name


def test_every_event_key_in_the_code_has_a_name(app: Flask) -> None:
    for key in NEWER_EVENTS:
        assert audit_words.knows(key), key
    with app.test_request_context("/"):
        assert audit_words.event_name("voucher.issued") == "发放券"
        assert audit_words.event_name("webhook_endpoint.paused") == "Webhook endpoint · paused"
        assert audit_words.subject_name("voucher_objection") == "异议"


def test_an_organizations_history_reads_in_words(client: FlaskClient, session: Session) -> None:
    sme = create_org(session, OrgKind.SME)
    operator = create_user(session)
    create_org(session, OrgKind.PLATFORM, owner=operator)
    session.commit()
    login(client, operator)
    page = client.get(f"/console/organizations/{sme.id}").get_data(as_text=True)
    assert "<code>organization.registered</code>" not in page
    assert re.search(r'data-audit-event="organization.registered">\s*组织注册 ·', page)
