"""The pay page's default choice of vouchers: the order that pays the most. Vouchers of
programs that may not share an invoice exclude each other, so soonest-expiry-first alone
could offer the smaller subsidy and hide the larger one."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from billing import voucher_payments
from tests.billing.factories import T0
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import stacking


@pytest.fixture(autouse=True)
def _in_app(app):
    with app.app_context():
        yield


def test_the_larger_subsidy_is_offered_when_two_vouchers_cannot_share_an_invoice(
    session: Session,
) -> None:
    city = create_program(session, name="上海市上云券", region_prefix="31", ratio_bp=5000)
    district = create_program(session, name="浦东新区上云券", ratio_bp=4000)
    other = create_program(session, name="张江专项券", ratio_bp=6000)
    # The city stacks with the district only: the city's and 张江's vouchers exclude each other.
    stacking.set_rule(
        session,
        city,
        actor=officer_of(session, city),
        partner_program_ids=[district.id],
        combined_cap_bp=7000,
        now=T0,
    )
    buyer, vendor = sme_actor(session), vendor_actor(session)
    city_code = grant(session, city, buyer, 50_000).code
    other_code = grant(session, other, buyer, 50_000).code
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)

    in_order = voucher_payments.quote(session, invoice, [city_code, other_code], now=T0)
    assert in_order.total_fen == 5_000  # the city's 50%; 张江 refused beside it

    best = voucher_payments.best_quote(session, invoice, [city_code, other_code], now=T0)
    assert best.total_fen == 6_000  # 张江's 60% alone
    paying = {item.code: item.subsidy_fen for item in best.items}
    assert paying == {other_code: 6_000, city_code: 0}
    # The city's voucher is left out for the larger one, yet the buyer may still choose it.
    assert best.could_pay(city_code) and best.could_pay(other_code)

    # Applying the offered choice pays exactly what was offered.
    assert (
        voucher_payments.apply(session, invoice, codes=[other_code], actor=buyer, now=T0) == 6_000
    )


def test_a_tie_keeps_the_soonest_expiring_voucher_first(session: Session) -> None:
    first = create_program(session, name="甲券", ratio_bp=5000)
    second = create_program(session, name="乙券", ratio_bp=5000)
    stacking.set_rule(
        session,
        first,
        actor=officer_of(session, first),
        partner_program_ids=[],
        combined_cap_bp=5000,
        now=T0,
    )
    buyer, vendor = sme_actor(session), vendor_actor(session)
    codes = [grant(session, p, buyer, 50_000).code for p in (first, second)]
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)
    best = voucher_payments.best_quote(session, invoice, codes, now=T0)
    assert best.total_fen == 5_000
    assert [item.code for item in best.items if item.subsidy_fen] == [codes[0]]
