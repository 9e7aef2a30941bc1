"""Results are reported for the contract's own billing periods only, by the page's form and
the API alike (billing/outcomes/reporting.py billing_period), so the plan's cap applies once per
billing period, and no correction takes a period beyond it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import invoice_money
from billing.models import Contract, Invoice, InvoiceStatus
from billing.outcomes import corrections, invoicing, reporting, verification
from billing.outcomes.models import OutcomeReport, ReportStatus
from billing.periods import period_bounds, period_index
from marketplace import create_app
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.models import Organization, Role, User
from tests.billing.factories import COMMISSION_BP, T0
from tests.billing.test_outcomes import agreed, invoiced, reported
from tests.catalog.factories import operator_actor
from tests.conftest import POSTGRES_URL
from tests.factories import create_token, csrf_token, login

HOUR = timedelta(hours=1)
# tests/catalog/factories.OUTCOME: baseline 42,000 kWh (decrease), 30 fen per kWh saved,
# base fee ¥500; here capped at ¥1,000 a period.
CAP_FEN = 100_000
BASE_FEE_FEN = 50_000


def period(n: int) -> tuple[datetime, datetime]:
    """The n-th billing period of a contract whose baseline was agreed at T0."""
    return period_bounds(T0, n)


def vendor_auth(session: Session, vendor: Actor) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, vendor.user, vendor.organization)}"}


def api_report(
    client: FlaskClient,
    headers: dict[str, str],
    contract: Contract,
    start: datetime,
    end: datetime,
    measured: str = "30000",
) -> Any:
    return client.post(
        "/api/v1/outcome-reports",
        json={
            "contract_id": contract.id,
            "period_start": start.isoformat(),
            "period_end": end.isoformat(),
            "measured": measured,
        },
        headers=headers,
    )


def form_report(client: FlaskClient, contract: Contract, start: datetime, end: datetime) -> Any:
    page = f"/billing/contracts/{contract.id}"
    return client.post(
        f"{page}/outcome-reports",
        data={
            "csrf_token": csrf_token(client, page),
            "period": f"{start.isoformat()}|{end.isoformat()}",
            "measured": "30000",
        },
    )


def live_charge_fen(session: Session, contract: Contract, start: datetime) -> int:
    """What the contract's live documents charge for the improvement of one period."""
    lines = session.scalars(
        sa.select(Invoice).where(
            Invoice.contract_id == contract.id,
            Invoice.period_start == start,
            Invoice.status != InvoiceStatus.VOID,
        )
    )
    return sum(
        line.amount_fen
        for invoice in lines
        for line in invoice.lines
        if line.kind in ("outcome", "outcome_correction")
    )


def test_sliced_periods_are_refused_through_the_api_and_the_cap_applies_once_a_period(
    client: FlaskClient, session: Session
) -> None:
    contract, buyer, vendor = agreed(session, cap_fen=CAP_FEN)
    headers = vendor_auth(session, vendor)
    month_start, month_end = period(0)
    slices = [
        (month_start, month_start + HOUR),
        (month_start + timedelta(days=3), month_start + timedelta(days=3) + HOUR),
        (month_start + timedelta(days=10), month_start + timedelta(days=10) + HOUR),
    ]
    for start, end in slices:
        response = api_report(client, headers, contract, start, end)
        assert response.status_code == 422, response.get_json()
        error = response.get_json()["error"]
        ((field, (message,)),) = error["fields"].items()
        assert field in ("period_start", "period_end")
        assert month_end.isoformat() in message  # says which period is expected
    assert session.scalar(sa.select(sa.func.count()).select_from(OutcomeReport)) == 0

    # The same month given in Beijing time is the same period.
    beijing = timezone(timedelta(hours=8))
    accepted = api_report(
        client, headers, contract, month_start.astimezone(beijing), month_end.astimezone(beijing)
    )
    assert accepted.status_code == 201, accepted.get_json()
    body = accepted.get_json()
    assert body["charge_fen"] == CAP_FEN  # 12,000 kWh x 30 fen = ¥3,600, capped at ¥1,000
    assert datetime.fromisoformat(body["period_start"]) == month_start
    assert datetime.fromisoformat(body["period_end"]) == month_end

    for start, end in [*slices, (month_start, month_end)]:  # nothing more for that month
        again = api_report(client, headers, contract, start, end)
        assert again.status_code in (409, 422), again.get_json()

    result = session.get(OutcomeReport, body["id"])
    verification.confirm(session, result, actor=buyer, now=utcnow())
    (invoice,) = invoicing.invoice_confirmed(session, now=utcnow(), commission_bp=COMMISSION_BP)
    assert invoice.total_fen == CAP_FEN + BASE_FEE_FEN
    assert invoice.period_start == month_start and invoice.period_end == month_end


def test_the_form_and_the_api_accept_and_refuse_the_same_spans(
    client: FlaskClient, session: Session
) -> None:
    for_form, _buyer, form_vendor = agreed(session)
    for_api, _buyer, api_vendor = agreed(session)
    headers = vendor_auth(session, api_vendor)
    login(client, form_vendor.user)
    (start0, end0), (start1, end1), (start2, end2) = period(0), period(1), period(2)
    running = period(period_index(T0, utcnow()))
    spans = [
        (start0, start0 + HOUR),  # a slice of a month
        (start0 + timedelta(days=1), start0 + timedelta(days=1, hours=1)),
        (start0 + timedelta(seconds=1), end0 + timedelta(seconds=1)),  # a second off
        (start0, end1),  # two periods in one
        (start0 - timedelta(days=1), end0 - timedelta(days=1)),  # before the baseline
        running,  # not ended yet
        (start0, end0),  # the first period: accepted
        (start0, end0),  # reported already
        (start1, end1),
        (start2 + timedelta(days=2), end2),  # a tail of a period
    ]
    outcomes_seen = []
    for start, end in spans:
        by_form = form_report(client, for_form, start, end)
        by_api = api_report(client, headers, for_api, start, end)
        assert by_form.status_code in (302, 422), by_form.status_code
        assert by_api.status_code in (201, 409, 422), by_api.get_json()
        outcomes_seen.append((by_form.status_code == 302, by_api.status_code == 201))
    assert [form for form, _api in outcomes_seen] == [api for _form, api in outcomes_seen]
    assert [form for form, _api in outcomes_seen] == [False] * 6 + [True, False, True, False]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("9999-12-31T00:00:00+00:00", "9999-12-31T23:59:59-01:00"),
        ("0001-01-01T00:00:00+01:00", "2026-02-15T09:00:00+00:00"),
        ("2026-01-15T09:00:00+00:00", "9999-12-31T23:59:59-01:00"),
    ],
)
def test_dates_at_the_edges_of_the_range_are_a_422(
    client: FlaskClient, session: Session, start: str, end: str
) -> None:
    contract, _buyer, vendor = agreed(session)
    response = client.post(
        "/api/v1/outcome-reports",
        json={
            "contract_id": contract.id,
            "period_start": start,
            "period_end": end,
            "measured": "1",
        },
        headers=vendor_auth(session, vendor),
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert set(response.get_json()["error"]["fields"]) <= {"period_start", "period_end"}


def test_a_rejected_result_may_be_reported_again_and_only_one_report_counts(
    session: Session,
) -> None:
    contract, buyer, vendor = agreed(session)
    first = reported(session, contract, vendor, 30_000)
    with pytest.raises(Conflict) as taken:
        reported(session, contract, vendor, 40_000)
    assert taken.value.field == "period_start"
    verification.dispute(session, first, actor=buyer, reason="读数有误", now=first.submitted_at)
    verification.resolve(
        session,
        first,
        actor=operator_actor(session),
        decision="reject",
        note="证据不足",
        now=first.submitted_at,
    )
    second = reported(session, contract, vendor, 40_000)  # as the form offers it again
    assert (second.period_start, second.period_end) == (first.period_start, first.period_end)
    assert first.status is ReportStatus.REJECTED
    # The database holds the rule too: a second report that counts for a period is refused
    # even when it skips the service (two requests at once).
    start, end = period(0)
    with pytest.raises(sa.exc.IntegrityError), session.begin_nested():
        session.add(
            OutcomeReport(
                contract_id=contract.id,
                period_start=start,
                period_end=end,
                measured=Decimal(1),
                submitted_by_id=vendor.user.id,
                confirm_by=end,
            )
        )
        session.flush()


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (T0 + HOUR, T0 + 2 * HOUR, "period_start"),
        (T0, T0 + HOUR, "period_end"),
        (T0 - HOUR, T0 + timedelta(days=31), "period_start"),
        (T0 + HOUR, T0, "period_end"),
    ],
)
def test_the_service_names_the_field_and_the_expected_period(
    session: Session, start: datetime, end: datetime, field: str
) -> None:
    contract, _buyer, vendor = agreed(session)
    with pytest.raises(DomainError) as refused:
        reporting.report(
            session,
            contract,
            actor=vendor,
            period_start=start,
            period_end=end,
            measured=Decimal(30_000),
            now=datetime(2026, 6, 1, tzinfo=UTC),
        )
    assert refused.value.field == field and refused.value.status == 422


def test_corrections_keep_the_period_within_its_cap_and_happen_once(session: Session) -> None:
    # Reported 40,000 kWh: 2,000 saved, ¥600.
    contract, _buyer, _vendor, result, invoice = invoiced(
        session, 40_000, cap_fen=CAP_FEN, base_fee_fen=0
    )
    operator = operator_actor(session)
    start = result.period_start
    # Really 30,000: 12,000 saved is ¥3,600, capped at ¥1,000: a supplement of ¥400.
    supplement = corrections.correct(
        session, result, actor=operator, corrected=Decimal(30_000), note="少报", now=T0
    )
    assert supplement.total_fen == CAP_FEN - 60_000
    assert live_charge_fen(session, contract, start) == CAP_FEN
    invoice_money.void(session, supplement, note="更正作废", actor=operator, now=T0)
    assert live_charge_fen(session, contract, start) == 60_000  # the original stands
    # A second correction is refused in words (it used to fail on the invoices' unique
    # period and reason, a 500 on the console).
    with pytest.raises(Conflict):
        corrections.correct(
            session, result, actor=operator, corrected=Decimal(41_000), note="复核", now=T0
        )
    assert live_charge_fen(session, contract, start) == 60_000
    assert invoice.status is not InvoiceStatus.VOID


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs PostgreSQL (set DATABASE_URL)")
def test_two_reports_of_one_period_at_once_make_one(
    live_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both requests pass the service's check before either writes; the partial unique
    index lets one in and turns the other into a 409."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": live_database_url,
            "SECRET_KEY": "test-secret",
            "RATELIMIT_STORAGE_URI": "memory://",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        }
    )
    app.extensions["catalog.search"].create()
    sessions = app.extensions["marketplace.db"].sessions
    with app.app_context(), sessions() as session:
        contract, _buyer, vendor = agreed(session)
        session.commit()
        contract_id, user_id, org_id = contract.id, vendor.user.id, vendor.organization.id

    checked = threading.Barrier(2, timeout=30)
    original = reporting.billing_period

    def billing_period_then_wait(*args: Any, **kwargs: Any) -> tuple[datetime, datetime]:
        bounds = original(*args, **kwargs)
        checked.wait()  # both requests have seen no report for the period
        return bounds

    monkeypatch.setattr(reporting, "billing_period", billing_period_then_wait)
    answers: list[str] = []

    def report_once(measured: int) -> None:
        with app.test_request_context(), sessions() as session:
            vendor_now = Actor(
                session.get(User, user_id), session.get(Organization, org_id), Role.OWNER
            )
            start, end = period(0)
            try:
                reporting.report(
                    session,
                    session.get(Contract, contract_id),
                    actor=vendor_now,
                    period_start=start,
                    period_end=end,
                    measured=Decimal(measured),
                    now=end + HOUR,
                )
                session.commit()
                answers.append("created")
            except Conflict:
                session.rollback()
                answers.append("conflict")

    threads = [threading.Thread(target=report_once, args=(m,)) for m in (30_000, 31_000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == ["conflict", "created"]
    with sessions() as session:
        count = session.scalar(
            sa.select(sa.func.count()).where(OutcomeReport.contract_id == contract_id)
        )
    assert count == 1
    app.extensions["marketplace.db"].engine.dispose()
