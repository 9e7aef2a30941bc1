"""The vendor's plan builder takes every price in 元: amounts with two decimals, unit prices
with four (a hundredth of a fen), stored as fen and shown back in 元 when editing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from catalog.forms import unit_fen_to_yuan, unit_yuan_to_fen
from marketplace.money import MoneyParseError
from tests.catalog.factories import create_solution, vendor_actor
from tests.catalog.test_vendor_console import field_errors, signed_in, state

USAGE_IN_YUAN = {
    "name": "按量计费",
    "billing_model": "usage",
    "meter": "inspected_images",
    "unit": "张",
    "tier_mode": "graduated",
    "tiers-0-up_to": "1,000",
    "tiers-0-unit_yuan": "1.5",  # once read as fen, this became ¥0.015
    "tiers-1-up_to": "10,000",
    "tiers-1-unit_yuan": "¥0.0125",
    "tiers-2-up_to": "",
    "tiers-2-unit_yuan": "0.005元",
    "free_units": "0",
    "base_fee": "199.9",
    "vat_rate": "6",
}
OUTCOME_IN_YUAN = {
    "name": "节能分成",
    "billing_model": "outcome",
    "kpi_name": "月用电量",
    "kpi_unit": "kWh",
    "direction": "decrease",
    "outcome_pricing": "share",
    "share_percent": "20",
    "value_per_unit_yuan": "0.85",
    "cap": "5,000",
    "verification_days": "7",
    "vat_rate": "6",
}


def test_unit_prices_typed_in_yuan_are_stored_as_fen_and_shown_back_in_yuan(
    app: Flask, session: Session
) -> None:
    vendor = vendor_actor(session)
    solution = create_solution(session, vendor)
    client = signed_in(app, vendor)
    for form in (USAGE_IN_YUAN, OUTCOME_IN_YUAN):
        response = client.post(f"/vendor/solutions/{solution.id}/plans", data=form)
        assert response.status_code == 302, field_errors(response.get_data(as_text=True))
    session.expire_all()
    _subscription, usage, outcome = solution.current.plans
    assert usage.tiers == [
        {"up_to": 1_000, "unit_fen": "150"},
        {"up_to": 10_000, "unit_fen": "1.25"},
        {"up_to": None, "unit_fen": "0.5"},
    ]
    assert usage.base_fee_fen == 19_990
    assert outcome.value_per_unit_fen == Decimal("85") and outcome.cap_fen == 500_000

    page = client.get(f"/vendor/solutions/{solution.id}/plans/1").get_data(as_text=True)
    for shown in ('value="1.5"', 'value="0.0125"', 'value="0.005"', 'value="199.90"'):
        assert shown in page
    assert "元/张" in page
    page = client.get(f"/vendor/solutions/{solution.id}/plans/2").get_data(as_text=True)
    assert 'value="0.85"' in page and 'value="5000"' in page


def test_five_decimals_of_yuan_are_refused_next_to_the_tier(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    vendor.user.locale = "en"
    solution = create_solution(session, vendor)
    before = state(session)
    bad = {**USAGE_IN_YUAN, "tiers-1-unit_yuan": "0.00001"}
    response = signed_in(app, vendor).post(f"/vendor/solutions/{solution.id}/plans", data=bad)
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True))
    assert "four decimal places" in errors["tiers-1-unit_yuan"]
    assert state(session) == before


@given(st.decimals(min_value=0, max_value=10**6, places=4, allow_nan=False))
def test_yuan_and_fen_convert_both_ways_exactly(yuan: Decimal) -> None:
    fen = unit_yuan_to_fen(format(yuan, "f"))
    assert Decimal(fen) == yuan * 100
    assert Decimal(unit_fen_to_yuan(fen)) == yuan


@pytest.mark.parametrize("text", ["", "abc", "-1", "1e3", "0.00001", "1.2.3"])
def test_what_is_not_a_unit_price_in_yuan_is_refused(text: str) -> None:
    with pytest.raises(MoneyParseError):
        unit_yuan_to_fen(text)
