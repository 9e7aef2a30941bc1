"""The officer's audit log reads as words (people, organizations, programs and vouchers by
name, amounts in yuan, events in the reader's language), filters by event, person, object
and days, refuses filters it cannot read with 400 (never 500), pages, and exports the
filtered rows; a page view verifies from the latest signed checkpoint without re-hashing
the rows the checkpoint covers, and still names a fault when asked or after the signing
job found one."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import openpyxl
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import audit, checkpoints, worker
from marketplace.audit import AuditEvent
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Role
from tests.audit_helpers import KEY_A, without_append_only_guard
from tests.factories import actor_for, add_member, login
from tests.vouchers.test_pages import paid_program
from vouchers.models import Program, Voucher


@pytest.fixture
def config(config: dict[str, object]) -> dict[str, object]:
    config["AUDIT_SIGNING_KEY"] = KEY_A
    return config


def officer_in(session: Session, program: Program, locale: str = "zh_CN") -> Actor:
    user = add_member(session, program.owner, Role.ADMIN, locale=locale, name=f"审计读者{locale}")
    return actor_for(session, user, program.owner)


def rows(html: str) -> list[tuple[str, str, str]]:
    """(row id, event key, person id) of each listed row."""
    found = re.findall(r'data-audit-row="(\d+)" data-action="([a-z_.]+)"', html)
    people = re.findall(r'data-person="(\d+)"', html)
    return [(row, action, person) for (row, action), person in zip(found, people, strict=True)]


def get(client: FlaskClient, path: str, status: int = 200) -> str:
    response = client.get(path)
    assert response.status_code == status, response.get_data(as_text=True)[-2000:]
    return response.get_data(as_text=True)


def test_rows_read_as_names_amounts_and_events_in_the_readers_language(
    client: FlaskClient, session: Session
) -> None:
    program, officer, buyer, vendor, voucher = paid_program(session)
    reader = officer_in(session, program)
    login(client, reader.user)
    html = get(client, "/vouchers/audit")
    assert "发放券" in html and "批准申请" in html and "券在账单上核销" in html
    assert officer.user.name in html and program.owner.name in html  # who acted, for whom
    assert f"项目 {program.name}" in html and voucher.code in html
    assert buyer.organization.name in html and vendor.organization.name in html
    assert "¥1,000.00" in html and "¥200.00" in html  # face value; a redemption
    assert "符合条件金额" in html  # the screen's word for the eligible amount
    assert ">voucher.issued<" not in html and ">voucher_application.approved<" not in html

    english = officer_in(session, program, "en")
    login(client, english.user)
    html = get(client, "/vouchers/audit")
    assert "Voucher issued" in html and "Application approved" in html
    assert f"Program {program.name}" in html


def test_each_filter_narrows_the_rows(client: FlaskClient, session: Session) -> None:
    program, officer, _buyer, _vendor, voucher = paid_program(session)
    login(client, officer_in(session, program).user)
    everything = rows(get(client, "/vouchers/audit"))
    assert {"voucher.issued", "voucher.redeemed", "voucher_program.published"} <= {
        action for _row, action, _person in everything
    }

    issued = rows(get(client, "/vouchers/audit?kind=voucher.issued"))
    assert issued and {action for _r, action, _p in issued} == {"voucher.issued"}

    by_officer = rows(get(client, f"/vouchers/audit?person={officer.user.id}"))
    assert by_officer and {p for _r, _a, p in by_officer} == {str(officer.user.id)}
    assert len(by_officer) < len(everything)
    by_jobs = rows(get(client, "/vouchers/audit?person=system"))  # the redemptions
    assert {a for _r, a, p in by_jobs} == {"voucher.redeemed"} and {p for *_, p in by_jobs} == {"0"}

    about_voucher = rows(get(client, f"/vouchers/audit?type=voucher&ref={voucher.code.lower()}"))
    assert [a for _r, a, _p in about_voucher] == ["voucher.issued"]
    about_program = rows(get(client, f"/vouchers/audit?type=voucher_program&ref={program.name}"))
    assert {a for _r, a, _p in about_program} == {
        "voucher_program.created",
        "voucher_program.published",
    }
    html = get(client, "/vouchers/audit?type=voucher&ref=CLD-NONE")
    assert rows(html) == [] and "CLD-NONE" in html  # named back, nothing listed

    today = utcnow().date()
    assert len(rows(get(client, f"/vouchers/audit?from={today - timedelta(days=1)}"))) == len(
        everything
    )
    assert rows(get(client, "/vouchers/audit?from=2001-01-01&to=2001-12-31")) == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=0001-01-01", "from"),
        ("to=9999-12-31", "to"),
        ("from=yesterday", "from"),
        ("from=2026-02-30", "from"),
        ("from=2027-01-02&to=2027-01-01", "to"),
        ("kind=%3Cscript%3E", "kind"),
        ("person=somebody", "person"),
        ("ref=12", "type"),
        ("type=DROP%20TABLE&ref=1", "type"),
    ],
)
def test_a_filter_that_cannot_be_read_is_refused_with_the_field_named(
    client: FlaskClient, session: Session, query: str, field: str
) -> None:
    program, *_ = paid_program(session)
    login(client, officer_in(session, program).user)
    html = get(client, f"/vouchers/audit?{query}", 400)
    assert f'data-field="{field}"' in html and "data-audit-filter-error" in html
    assert "data-audit-row" not in html
    assert client.get(f"/vouchers/audit/export.csv?{query}").status_code == 400


def test_pages_of_fifty(client: FlaskClient, session: Session) -> None:
    program, *_ = paid_program(session)
    for n in range(60):
        audit.record(
            session, "voucher_program.updated", "voucher_program", program.id, data={"n": n}
        )
    login(client, officer_in(session, program).user)
    first = rows(get(client, "/vouchers/audit"))
    second = rows(get(client, "/vouchers/audit?page=2"))
    assert len(first) == 50 and second and not {r for r, *_ in first} & {r for r, *_ in second}
    assert int(first[0][0]) > int(second[0][0])  # newest first
    assert rows(get(client, "/vouchers/audit?page=999")) == second  # the last page
    assert rows(get(client, "/vouchers/audit?page=abc")) == first
    html = get(client, "/vouchers/audit?kind=voucher_program.updated&page=2")
    assert "kind=voucher_program.updated" in html and "page=1" in html  # links keep the filter


def test_export_holds_the_filtered_rows_in_the_screens_words(
    client: FlaskClient, session: Session
) -> None:
    program, officer, _buyer, _vendor, voucher = paid_program(session)
    login(client, officer_in(session, program, "en").user)  # the files are Chinese anyway
    listed = rows(get(client, "/vouchers/audit?kind=voucher.redeemed"))
    response = client.get("/vouchers/audit/export.csv?kind=voucher.redeemed")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert [r["序号"] for r in table] == [row for row, *_ in listed]
    assert {r["事件"] for r in table} == {"券在账单上核销"}
    assert {r["金额项"] for r in table} == {"金额"}
    # Two invoices of ¥200 and ¥400, half paid by the voucher.
    assert sorted(r["金额（元）"] for r in table) == ["100.00", "200.00"]
    assert sorted(r["其他金额"] for r in table) == ["符合条件金额 ¥200.00", "符合条件金额 ¥400.00"]
    assert all(r["所属项目"] == program.name for r in table)
    text = response.data.decode("utf-8-sig")
    assert not any(word in text for word in ("兑付", "冲销", "可补贴金额"))

    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/vouchers/audit/export.xlsx?person={officer.user.id}").data)
    )
    sheet = list(workbook.active.iter_rows(values_only=True))
    assert sheet[0][:3] == ("序号", "时间", "事件")
    assert {line[3] for line in sheet[1:]} == {officer.user.name}
    assert "发放券" in {line[2] for line in sheet[1:]}
    issued = next(line for line in sheet[1:] if line[2] == "发放券")
    assert voucher.code in issued[5] and float(issued[7]) == 1000.0


# --- verification on a page view ---------------------------------------------------------


def sign(session: Session, app: Flask) -> checkpoints.AuditCheckpoint:
    setup = checkpoints.setup_for(app)
    checkpoint = checkpoints.create(session, setup, now=utcnow())
    assert checkpoint is not None
    session.commit()
    checkpoints.write_file(setup.folder, checkpoint)
    return checkpoint


def test_a_page_view_hashes_only_the_rows_after_the_latest_checkpoint(
    app: Flask, client: FlaskClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    program, *_ = paid_program(session)
    checkpoint = sign(session, app)
    audit.record(session, "voucher_program.updated", "voucher_program", program.id, data={})
    session.commit()
    hashed: list[int] = []
    original = AuditEvent.compute_hash

    def counting(event: AuditEvent) -> str:
        hashed.append(event.id)
        return original(event)

    monkeypatch.setattr(AuditEvent, "compute_hash", counting)
    login(client, officer_in(session, program).user)
    hashed.clear()
    html = get(client, "/vouchers/audit")
    assert 'data-audit-ok="1"' in html
    assert f'data-audit-from-checkpoint="{checkpoint.sequence}"' in html
    assert "链条完整" in html
    # The signed head and the rows after it, not the rows the checkpoint already covers.
    assert 0 < len(hashed) <= 3 < checkpoint.row_count

    hashed.clear()
    html = get(client, "/vouchers/audit?verify=all")
    assert 'data-audit-ok="1"' in html and "data-audit-from-checkpoint" not in html
    assert len(hashed) == checkpoint.row_count + 1


def test_a_row_changed_under_a_checkpoint_is_named_on_request_and_after_a_failed_signing(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    program, *_ = paid_program(session)
    sign(session, app)
    target = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id).limit(1).offset(2)).one()
    without_append_only_guard(session)
    session.execute(
        sa.update(AuditEvent).where(AuditEvent.id == target.id).values(data={"budget_fen": 1})
    )
    session.expire_all()
    login(client, officer_in(session, program).user)
    # The head the checkpoint signed is untouched: a page view trusts the checked prefix...
    assert 'data-audit-ok="1"' in get(client, "/vouchers/audit")
    # ...a whole walk names the row...
    html = get(client, "/vouchers/audit?verify=all")
    assert 'data-audit-ok="0"' in html and f'data-first-bad="{target.id}"' in html
    # ...and so does every page view once the signing job (a whole walk) has failed.
    with pytest.raises(Exception, match="does not verify"):
        checkpoints.create(session, checkpoints.setup_for(app), now=utcnow())
    session.add(
        worker.ScheduleRun(
            name="audit_checkpoint",
            slot_start=utcnow(),
            worker="test",
            started_at=utcnow(),
            finished_at=utcnow(),
            ok=False,
            result="audit chain broken",
        )
    )
    session.flush()
    html = get(client, "/vouchers/audit")
    assert 'data-audit-ok="0"' in html and f'data-first-bad="{target.id}"' in html


def test_another_governments_rows_are_never_listed_or_exported(
    client: FlaskClient, session: Session
) -> None:
    program, *_ = paid_program(session)
    other, other_officer, *_ = paid_program(session)
    login(client, officer_in(session, program).user)
    own = get(client, "/vouchers/audit")
    theirs = get(client, f"/vouchers/audit?type=voucher_program&ref={other.id}")
    assert rows(theirs) == [] and other_officer.user.name not in own
    assert other_officer.user.name not in client.get("/vouchers/audit/export.csv").data.decode(
        "utf-8-sig"
    )
    voucher_ids = session.scalars(sa.select(Voucher.id).where(Voucher.program_id == other.id))
    for voucher_id in voucher_ids:
        assert rows(get(client, f"/vouchers/audit?type=voucher&ref={voucher_id}")) == []
