"""Quantities and amounts have documented maxima (catalog/limits.py): an event or a period
beyond them is refused where it enters, an out-of-range date is one rejected event, the
price calculator never shows an amount beyond them, and nothing a listing and the usage
API accept can overflow the stored types."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing import charges, contracts, run
from billing.models import Invoice, UsageEvent
from billing.outcomes import baselines, reporting
from billing.periods import period_bounds
from catalog import validation
from catalog.limits import (
    MAX_EVENT_QUANTITY,
    MAX_INVOICE_FEN,
    MAX_LINE_FEN,
    MAX_PERIOD_QUANTITY,
    MAX_UNIT_FEN,
)
from catalog.models import Plan, TierMode
from marketplace.db import utcnow
from marketplace.errors import DomainError
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    offered_plan,
    usage_terms,
)
from tests.catalog.factories import OUTCOME, publish_solution, vendor_actor
from tests.factories import create_token

BIGINT_MAX = 2**63 - 1
NUMERIC_24_6_MAX = Decimal(10) ** 18  # 18 digits before the point


def auth(session: Session, actor: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(session, actor.user, actor.organization)}"}


def usage_contract(client: FlaskClient, session: Session, **terms: Any) -> tuple[dict, Any, Any]:
    vendor = vendor_actor(session)
    plan = offered_plan(session, usage_terms(free_units=0, **terms), vendor)
    buyer = buyer_actor(session)
    response = client.post(
        "/api/v1/contracts",
        json={"plan_id": plan.id, "accept_agreement_version": 1},
        headers=auth(session, buyer),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json(), buyer, vendor


def usage_event(contract: dict, event_id: str, quantity: Any, occurred_at: str) -> dict:
    return {
        "id": event_id,
        "contract_id": contract["id"],
        "meter": "inspected_images",
        "quantity": quantity,
        "occurred_at": occurred_at,
    }


def reasons(body: dict) -> dict[str, str]:
    return {r["id"]: r["reason"].split(":")[0] for r in body["rejected"]}


def test_twelve_events_of_10_to_the_15_are_rejected_and_the_estimate_stays_small(
    client: FlaskClient, session: Session
) -> None:
    contract, buyer, vendor = usage_contract(client, session)
    now = utcnow().isoformat()
    huge = [usage_event(contract, f"huge-{i}", 10**15, now) for i in range(12)]
    body = client.post(
        "/api/v1/usage-events",
        json={"events": [*huge, usage_event(contract, "ok", 100, now)]},
        headers=auth(session, vendor),
    ).get_json()
    assert body["accepted"] == 1
    assert reasons(body) == {f"huge-{i}": "quantity_too_large" for i in range(12)}
    usage = client.get(
        f"/api/v1/contracts/{contract['id']}/usage", headers=auth(session, buyer)
    ).get_json()
    assert usage["quantity"] == "100" and usage["estimated_charge_fen"] == 200  # 100 x 2 fen


def test_an_event_over_the_period_maximum_is_rejected_across_calls(
    client: FlaskClient, session: Session
) -> None:
    contract, _buyer, vendor = usage_contract(client, session)
    now = utcnow().isoformat()
    half = MAX_PERIOD_QUANTITY // 2 + 1
    first = client.post(
        "/api/v1/usage-events",
        json={
            "events": [
                usage_event(contract, "a", half, now),
                usage_event(contract, "b", half, now),  # the same batch: over the maximum
            ]
        },
        headers=auth(session, vendor),
    ).get_json()
    assert first["accepted"] == 1 and reasons(first) == {"b": "period_quantity_too_large"}
    again = client.post(
        "/api/v1/usage-events",
        json={
            "events": [usage_event(contract, "c", half, now), usage_event(contract, "d", 1, now)]
        },
        headers=auth(session, vendor),
    ).get_json()
    assert again["accepted"] == 1 and reasons(again) == {"c": "period_quantity_too_large"}
    stored = session.scalar(sa.select(sa.func.sum(UsageEvent.quantity)))
    assert stored == half + 1 <= MAX_PERIOD_QUANTITY


def test_a_year_one_occurred_at_is_one_rejected_event(
    client: FlaskClient, session: Session
) -> None:
    contract, _buyer, vendor = usage_contract(client, session)
    events = [
        usage_event(contract, "year-1-east", 1, "0001-01-01T00:00:00+01:00"),  # overflows UTC
        usage_event(contract, "year-9999-west", 1, "9999-12-31T23:59:59-01:00"),
        usage_event(contract, "year-1-utc", 1, "0001-01-01T00:00:00+00:00"),
        usage_event(contract, "epoch", 1, "1970-01-01T00:00:00+00:00"),
        usage_event(contract, "good", 5, utcnow().isoformat()),
        usage_event(
            contract, "good-in-30-seconds", 7, (utcnow() + timedelta(seconds=30)).isoformat()
        ),
    ]
    response = client.post(
        "/api/v1/usage-events", json={"events": events}, headers=auth(session, vendor)
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["accepted"] == 2
    assert reasons(body) == {
        "year-1-east": "invalid_occurred_at",
        "year-9999-west": "invalid_occurred_at",
        "year-1-utc": "invalid_occurred_at",
        "epoch": "invalid_occurred_at",
    }
    assert session.scalar(sa.select(sa.func.count()).select_from(UsageEvent)) == 2


def test_the_price_calculator_never_shows_an_amount_beyond_the_maximum(
    client: FlaskClient, session: Session
) -> None:
    usage = publish_solution(session, plans=[usage_terms()])
    plan = usage.published.plans[0]
    # A price no listing may have any more, as an older row could hold it.
    session.execute(
        sa.update(Plan)
        .where(Plan.id == plan.id)
        .values(tiers=[{"up_to": None, "unit_fen": str(10**12)}], free_units=0)
    )
    response = client.get(
        f"/solutions/{usage.slug}/estimate", query_string={"plan": plan.id, "quantity": 10**9}
    )
    assert response.status_code == 422
    assert "quantity" in response.get_json()["error"]["fields"]

    outcome = publish_solution(
        session, plans=[{**OUTCOME, "price_per_unit_fen": str(MAX_UNIT_FEN), "cap_fen": None}]
    )
    plan = outcome.published.plans[0]
    url = f"/solutions/{outcome.slug}/estimate"
    big = client.get(url, query_string={"plan": plan.id, "baseline": 10**12, "measured": 0})
    assert big.status_code == 422 and "measured" in big.get_json()["error"]["fields"]
    fine = client.get(url, query_string={"plan": plan.id, "baseline": 1000, "measured": 0})
    assert fine.status_code == 200
    assert fine.get_json()["total_fen"] == 1000 * MAX_UNIT_FEN + OUTCOME["base_fee_fen"]


def test_the_largest_period_a_listing_allows_is_invoiced_exactly(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    """A plan at the highest unit price and a period at the highest quantity: the invoice
    holds the exact figure, on SQLite and in PostgreSQL's bigint."""
    top = str(MAX_UNIT_FEN)
    contract, _buyer, vendor = usage_contract(
        client, session, tiers=[{"up_to": None, "unit_fen": top}], base_fee_fen=10**12
    )
    now = utcnow()
    events = [
        usage_event(contract, f"e{i}", MAX_EVENT_QUANTITY, now.isoformat())
        for i in range(MAX_PERIOD_QUANTITY // int(MAX_EVENT_QUANTITY))
    ]
    body = client.post(
        "/api/v1/usage-events", json={"events": events}, headers=auth(session, vendor)
    ).get_json()
    assert body["rejected"] == []
    session.commit()
    report = run.run(
        app.extensions["marketplace.db"].sessions,
        as_of=now + timedelta(days=32),
        commission_bp=COMMISSION_BP,
    )
    assert report.failures == [] and len(report.invoices) == 1
    session.expire_all()
    invoice = session.scalar(sa.select(Invoice).where(Invoice.contract_id == contract["id"]))
    assert invoice is not None
    assert invoice.total_fen == MAX_PERIOD_QUANTITY * int(MAX_UNIT_FEN) + 10**12
    assert invoice.total_fen <= MAX_INVOICE_FEN


# --- no accepted combination overflows the stored types --------------------------------


def listed_plan(
    tiers: list[dict[str, Any]], mode: str, free_units: int, base_fee: int
) -> Plan | None:
    """The plan as listing validation would store it (None when it refuses the terms)."""
    try:
        terms = validation.parse_plan(
            usage_terms(tiers=tiers, tier_mode=mode, free_units=free_units, base_fee_fen=base_fee)
        )
    except DomainError:
        return None
    return Plan(
        id=1,
        name=terms.name,
        meter=terms.meter,
        unit=terms.unit,
        tier_mode=TierMode(mode),
        tiers=terms.tiers,
        free_units=terms.free_units,
        base_fee_fen=terms.base_fee_fen,
        vat_rate_bp=terms.vat_rate_bp,
    )


def decimal_text(places: int, high: int) -> st.SearchStrategy[str]:
    return st.decimals(min_value=0, max_value=high, places=places).map(lambda d: format(d, "f"))


# Prices and quantities around the maxima and far beyond them: the property holds for
# whatever listing validation and the usage rules accept.
prices = st.one_of(
    st.sampled_from([str(MAX_UNIT_FEN), str(MAX_UNIT_FEN + 1), str(10**12)]),
    decimal_text(6, int(MAX_UNIT_FEN)),
    st.integers(0, 10**13).map(str),
)
quantities = st.one_of(
    st.sampled_from([Decimal(MAX_PERIOD_QUANTITY), MAX_EVENT_QUANTITY]),
    st.decimals(min_value=0, max_value=MAX_PERIOD_QUANTITY, places=6),
    st.integers(0, 10**16).map(Decimal),
)


@st.composite
def ladders(draw: st.DrawFn) -> list[dict[str, Any]]:
    bounds = sorted(set(draw(st.lists(st.integers(1, 10**13), max_size=9))))
    tiers = [{"up_to": bound, "unit_fen": draw(prices)} for bound in bounds]
    return [*tiers, {"up_to": None, "unit_fen": draw(prices)}]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    ladders(),
    st.sampled_from(["graduated", "volume"]),
    st.integers(0, 10**13),
    st.integers(0, 10**13),
    quantities,
    st.one_of(st.none(), st.integers(1, 10**12)),
)
def test_no_accepted_quantity_and_price_overflows_the_stored_types(
    tiers: list[dict[str, Any]],
    mode: str,
    free_units: int,
    base_fee: int,
    quantity: Decimal,
    spend_cap: int | None,
) -> None:
    plan = listed_plan(tiers, mode, free_units, base_fee)
    assume(plan is not None)  # listing validation accepts these terms
    assume(quantity <= MAX_PERIOD_QUANTITY)  # usage ingestion accepts this period total
    assert plan is not None
    start = utcnow()
    lines = charges.usage_period_lines(
        plan, quantity, start, start + timedelta(days=30), spend_cap_fen=spend_cap
    )
    for line in lines:
        assert abs(line.amount_fen) <= (MAX_LINE_FEN if line.kind == "usage" else MAX_INVOICE_FEN)
        assert abs(line.quantity) < NUMERIC_24_6_MAX and abs(line.unit_fen) < NUMERIC_24_6_MAX
        assert line.quantity.as_tuple().exponent >= -6  # type: ignore[operator]
        assert line.unit_fen.as_tuple().exponent >= -6  # type: ignore[operator]
    total = sum(line.amount_fen for line in lines)
    assert 0 <= total <= MAX_INVOICE_FEN < BIGINT_MAX // 10


def test_an_outcome_result_beyond_what_a_period_can_bill_is_refused(session: Session) -> None:
    vendor = vendor_actor(session)
    buyer = buyer_actor(session)
    terms = {**OUTCOME, "price_per_unit_fen": str(MAX_UNIT_FEN), "cap_fen": None}
    plan = offered_plan(session, terms, vendor)
    contract = contracts.start(
        session,
        actor=buyer,
        plan=plan,
        agreement_version=contracts.agreement_in_force(plan),
        now=T0,
        commission_bp=COMMISSION_BP,
        baseline=Decimal(10**12),
    )
    baselines.accept_baseline(session, contract, actor=vendor, now=T0)
    start, end = period_bounds(T0, 0)
    with pytest.raises(DomainError) as refused:
        reporting.report(
            session,
            contract,
            actor=vendor,
            period_start=start,
            period_end=end,
            measured=Decimal(0),  # 10^12 kWh saved x 10^7 fen: 10^19 fen, beyond bigint's room
            now=end + timedelta(hours=1),
        )
    assert refused.value.field == "measured"
    fine = reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=start,
        period_end=end,
        measured=Decimal(10**12 - 10**9),  # 10^9 kWh saved: 10^16 fen
        now=end + timedelta(hours=1),
    )
    assert fine.id is not None
