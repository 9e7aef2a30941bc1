"""Dates mean what the officer typed: a date-only field is that day in China, inclusive,
stored as an instant and shown back as the same day on every page, in the API and the
exports, in both languages; times at the edges of the calendar are refused with a clear
422 (API) or a form error (pages), never a 500."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from marketplace import dates
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.factories import create_token, login
from tests.vouchers.factories import officer_actor
from tests.vouchers.test_pages import PROGRAM_FORM, field_error, paid_program
from vouchers.models import Program, Settlement

LAST_DAY = "2027-06-30"
EDGE_TIMES = ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00")
EDGE_DAYS = ("9999-12-31", "0001-01-01")


@given(st.dates(min_value=dates.EARLIEST_DAY, max_value=dates.LATEST_DAY))
def test_a_day_stored_and_shown_again_is_the_same_day(day: date) -> None:
    start, end = dates.day_start(day), dates.day_end(day)
    assert dates.first_day(start) == day and dates.last_day(end) == day
    assert end - start == timedelta(days=1)  # China keeps no daylight saving time
    assert dates.moment_in_range(start) and dates.moment_in_range(end - timedelta(microseconds=1))


@pytest.mark.parametrize("text", EDGE_TIMES)
def test_edge_times_are_out_of_range_not_an_overflow(text: str) -> None:
    assert not dates.moment_in_range(datetime.fromisoformat(text))


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def english(client: FlaskClient) -> None:
    client.post("/language", data={"lang": "en"})


def create_through_the_form(client: FlaskClient, session: Session, officer: Actor) -> Program:
    login(client, officer.user)
    form = {**PROGRAM_FORM, "opens_on": "2026-12-01", "closes_on": LAST_DAY}
    assert client.post("/vouchers/programs/new", data=form).status_code == 302
    program = session.scalars(
        sa.select(Program).where(Program.owner_org_id == officer.organization.id)
    ).one()
    edit = page(client.get(f"/vouchers/programs/{program.id}/edit"))  # a draft's terms
    assert f'value="{LAST_DAY}"' in edit
    client.post(
        f"/vouchers/programs/{program.id}/publish", data={"confirm_fen": str(program.budget_fen)}
    )
    return program


@pytest.mark.parametrize(
    ("language", "shown", "wrong"),
    [("zh_CN", "2027年6月30日", "2027年7月1日"), ("en", "Jun 30, 2027", "Jul 1, 2027")],
)
def test_the_last_day_typed_is_the_last_day_shown_everywhere(
    client: FlaskClient, session: Session, language: str, shown: str, wrong: str
) -> None:
    officer = officer_actor(session)
    program = create_through_the_form(client, session, officer)
    assert program.closes_at.isoformat() == "2027-06-30T16:00:00+00:00"  # next China midnight
    if language == "en":
        english(client)
    for path in (
        f"/vouchers/programs/{program.id}",  # the console
        "/vouchers/programs",  # the officer's list
        f"/vouchers/p/{program.id}",  # the program page
    ):
        html = page(client.get(path))
        assert shown in html and wrong not in html, path
    client.post("/logout")
    if language == "en":
        english(client)
    public = page(client.get("/vouchers/"))  # the public list of open programs
    assert shown in public and wrong not in public

    (listed,) = [
        p for p in client.get("/api/v1/voucher-programs").get_json() if p["id"] == program.id
    ]
    assert (listed["opens_on"], listed["closes_on"]) == ("2026-12-01", LAST_DAY)
    assert datetime.fromisoformat(listed["closes_at"]) == dates.day_end(date(2027, 6, 30))


def test_the_api_takes_days_and_gives_them_back(client: FlaskClient, session: Session) -> None:
    officer = officer_actor(session)
    headers = {
        "Authorization": f"Bearer {create_token(session, officer.user, officer.organization)}"
    }
    body = program_body(opens_on="2026-12-01", closes_on=LAST_DAY)
    created = client.post("/api/v1/voucher-programs", json=body, headers=headers)
    assert created.status_code == 201, created.get_json()
    program = created.get_json()
    assert (program["opens_on"], program["closes_on"]) == ("2026-12-01", LAST_DAY)
    assert datetime.fromisoformat(program["closes_at"]) == dates.day_end(date(2027, 6, 30))
    both = program_body(opens_on="2026-12-01", opens_at="2026-12-01T00:00:00+08:00")
    refused = client.post("/api/v1/voucher-programs", json=both, headers=headers)
    assert refused.status_code == 422 and "opens_at" in refused.get_json()["error"]["fields"]


def program_body(**window: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "浦东新区算力券",
        "kind": "compute",
        "region_prefix": "310115",
        "budget_fen": 100_000_000,
        "ratio_bp": 3000,
        "annual_cap_fen": 5_000_000,
        "size_classes": ["small", "micro"],
        "validity_days": 180,
    }
    if not window:
        now = utcnow()
        window = {
            "opens_at": now.isoformat(),
            "closes_at": (now + timedelta(days=90)).isoformat(),
        }
    return {**body, **window}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("edge", EDGE_TIMES)
@pytest.mark.parametrize("field", ["opens_at", "closes_at"])
def test_edge_times_on_program_creation_are_a_422(
    client: FlaskClient, session: Session, edge: str, field: str, language: str
) -> None:
    officer = officer_actor(session)
    headers = {
        "Authorization": f"Bearer {create_token(session, officer.user, officer.organization)}",
        "Accept-Language": language,
    }
    response = client.post(
        "/api/v1/voucher-programs", json={**program_body(), field: edge}, headers=headers
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert {"code", "message", "fields"} <= set(error) and field in error["fields"]
    expected = (
        "请输入 2000 年至 2100 年之间的时间" if language == "zh-CN" else "between 2000 and 2100"
    )
    assert expected in str(error["fields"][field])
    assert session.scalar(sa.select(sa.func.count()).select_from(Program)) == 0


@pytest.mark.parametrize("edge", EDGE_DAYS)
def test_edge_days_on_program_creation_are_a_422(
    client: FlaskClient, session: Session, edge: str
) -> None:
    officer = officer_actor(session)
    headers = {
        "Authorization": f"Bearer {create_token(session, officer.user, officer.organization)}"
    }
    body = program_body(opens_on="2026-12-01", closes_on=edge)
    response = client.post("/api/v1/voucher-programs", json=body, headers=headers)
    assert response.status_code == 422
    assert "closes_on" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("edge", EDGE_TIMES)
@pytest.mark.parametrize("field", ["period_start", "period_end"])
def test_edge_times_on_settlement_creation_are_a_422(
    client: FlaskClient, session: Session, edge: str, field: str
) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    headers = {
        "Authorization": f"Bearer {create_token(session, officer.user, officer.organization)}"
    }
    now = utcnow()
    body = {
        "vendor_id": vendor.organization.id,
        "period_start": (now - timedelta(days=7)).isoformat(),
        "period_end": (now + timedelta(days=1)).isoformat(),
        field: edge,
    }
    response = client.post(
        f"/api/v1/voucher-programs/{program.id}/settlements", json=body, headers=headers
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert {"code", "message", "fields"} <= set(error) and field in error["fields"]
    assert session.scalar(sa.select(sa.func.count()).select_from(Settlement)) == 0


def test_settlement_days_through_the_api(client: FlaskClient, session: Session) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    headers = {
        "Authorization": f"Bearer {create_token(session, officer.user, officer.organization)}"
    }
    today = dates.first_day(utcnow())
    body = {
        "vendor_id": vendor.organization.id,
        "first_day": (today - timedelta(days=7)).isoformat(),
        "last_day": today.isoformat(),
    }
    response = client.post(
        f"/api/v1/voucher-programs/{program.id}/settlements", json=body, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    settlement = response.get_json()
    assert (settlement["first_day"], settlement["last_day"]) == (
        body["first_day"],
        body["last_day"],
    )
    assert datetime.fromisoformat(settlement["period_end"]) == dates.day_end(today)
    login(client, officer.user)
    text = client.get(f"/vouchers/programs/{program.id}/export/settlements.csv").data
    (row,) = csv.DictReader(io.StringIO(text.decode("utf-8-sig")))
    assert (row["结算期起"], row["结算期止（含）"]) == (body["first_day"], body["last_day"])


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("zh_CN", ("请输入 2000 年至 2100 年之间的日期", "不是有效的日期值")),
        ("en", ("Enter a date between 2000 and 2100.", "Not a valid date value")),
    ],
)
@pytest.mark.parametrize("typed", [*EDGE_DAYS, *EDGE_TIMES])
def test_pages_refuse_edge_dates_in_the_readers_language(
    client: FlaskClient, session: Session, typed: str, language: str, message: tuple[str, str]
) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    login(client, officer.user)
    if language == "en":
        english(client)
    response = client.post("/vouchers/programs/new", data={**PROGRAM_FORM, "closes_on": typed})
    assert response.status_code == 422 and field_error(page(response), "closes_on")
    out_of_range, not_a_day = message  # a time typed into a date field is not a day
    assert (out_of_range if typed in EDGE_DAYS else not_a_day) in page(response)
    response = client.post(
        f"/vouchers/programs/{program.id}/settlements",
        data={
            "vendor_id": vendor.organization.id,
            "period_start": typed,
            "period_end": dates.first_day(utcnow()).isoformat(),
        },
    )
    assert response.status_code == 422 and field_error(page(response), "period_start")
    assert session.scalar(sa.select(sa.func.count()).select_from(Settlement)) == 0


def test_a_billing_period_ending_at_midnight_shows_its_last_day(
    client: FlaskClient, session: Session
) -> None:
    """The same helper pair reads every exclusive end: an invoice for November is
    "1 Nov – 30 Nov", not "– 1 Dec"."""
    from billing import invoices
    from billing.invoices import LineDraft
    from tests.billing.factories import COMMISSION_BP
    from tests.vouchers.factories import contract_between, sme_actor, vendor_actor

    buyer = sme_actor(session)
    contract = contract_between(session, buyer, vendor_actor(session))
    start, end = dates.day_start(date(2026, 11, 1)), dates.day_end(date(2026, 11, 30))
    line = LineDraft(
        kind="subscription",
        description="十一月",
        quantity=Decimal(1),
        unit_fen=Decimal(10_000),
        amount_fen=10_000,
        vat_rate_bp=600,
        period_start=start,
        period_end=end,
        plan_id=contract.plan_id,
    )
    invoice = invoices.create(
        session,
        contract,
        reason="test",
        period_start=start,
        period_end=end,
        lines=[line],
        commission_bp=COMMISSION_BP,
        now=utcnow(),
    )
    login(client, buyer.user)
    html = page(client.get(f"/billing/invoices/{invoice.id}"))
    assert "2026年11月1日 – 2026年11月30日" in html and "2026年12月1日" not in html
