"""Several programs on one invoice (stacking with a combined cap), co-funded programs split
by ratio to the fen with every funder's ledger balanced, and settlement after delivery
(fapiao issued, delivery accepted, days of use) holding back what does not qualify."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from flask_babel import force_locale
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing import delivery, ledger, voucher_payments
from billing import fapiao as fapiao_rules
from billing.fapiao_models import FapiaoType
from billing.payments import bank_transfers
from marketplace.errors import Conflict, DomainError, NotAllowed
from tests.billing.factories import T0
from tests.catalog.factories import operator_actor
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import cofunding, settlement_conditions, settlements, stacking
from vouchers.models import Redemption
from vouchers.rules_models import SettlementHoldback

PDF = b"%PDF-1.7\n% fapiao\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    return {**config, "UPLOAD_FOLDER": str(tmp_path / "uploads")}


@pytest.fixture(autouse=True)
def _in_app(app):
    with app.app_context():
        yield


def city_and_district(session: Session, *, city_cap_bp: int = 7000, district_cap_bp=None):
    """上海市 (50%) and 浦东新区 (40%) cloud programs; the district stacks with the city."""
    city = create_program(session, name="上海市上云券", region_prefix="31", ratio_bp=5000)
    district = create_program(session, name="浦东新区上云券", ratio_bp=4000)
    stacking.set_rule(
        session,
        city,
        actor=officer_of(session, city),
        partner_program_ids=[district.id],
        combined_cap_bp=city_cap_bp,
        now=T0,
    )
    if district_cap_bp is not None:
        stacking.set_rule(
            session,
            district,
            actor=officer_of(session, district),
            partner_program_ids=[city.id],
            combined_cap_bp=district_cap_bp,
            now=T0,
        )
    return city, district


def pay(session, invoice, buyer, *codes):
    return voucher_payments.apply(session, invoice, codes=list(codes), actor=buyer, now=T0)


# --- stacking -------------------------------------------------------------------------------


def test_city_and_district_stack_within_the_combined_cap(session: Session) -> None:
    city, district = city_and_district(session, city_cap_bp=7000)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    city_voucher = grant(session, city, buyer, 50_000)
    district_voucher = grant(session, district, buyer, 50_000)
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)

    assert pay(session, invoice, buyer, city_voucher.code) == 5_000  # the city's 50%
    # The district alone would pay 40% (4,000); together they stop at 70% of 10,000.
    assert pay(session, invoice, buyer, district_voucher.code) == 2_000
    assert invoice.voucher_fen == 7_000
    on_invoice = stacking.stacked_programs(session, [invoice.id])[invoice.id]
    assert [p.name for p in on_invoice] == ["上海市上云券", "浦东新区上云券"]
    assert ledger.unbalanced_transactions(session) == []


def test_the_strictest_cap_of_the_programs_involved_wins_in_one_payment(
    session: Session,
) -> None:
    city, district = city_and_district(session, city_cap_bp=8000, district_cap_bp=6000)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    codes = [grant(session, p, buyer, 50_000).code for p in (city, district)]
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_001)
    assert pay(session, invoice, buyer, *codes) == 6_001  # 60% of 10,001, half up


def test_a_program_that_does_not_stack_refuses_and_nothing_is_written(session: Session) -> None:
    city, district = city_and_district(session)
    other = create_program(session, name="张江专项券")
    buyer, vendor = sme_actor(session), vendor_actor(session)
    city_voucher = grant(session, city, buyer, 50_000)
    other_voucher = grant(session, other, buyer, 50_000)
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)
    pay(session, invoice, buyer, city_voucher.code)
    with pytest.raises(DomainError) as refused:
        pay(session, invoice, buyer, other_voucher.code)
    assert refused.value.code == "voucher_not_stackable"
    assert "上海市上云券" in str(refused.value.message)
    assert other_voucher.balance_fen == 50_000 and invoice.voucher_fen == 5_000
    # The partner listed on one side only: the district's own rule must allow the city too.
    stacking.set_rule(
        session,
        district,
        actor=officer_of(session, district),
        partner_program_ids=[other.id],
        combined_cap_bp=9000,
        now=T0,
    )
    district_voucher = grant(session, district, buyer, 50_000)
    with pytest.raises(DomainError, match="浦东新区上云券"):
        pay(session, invoice, buyer, district_voucher.code)


def test_the_cap_reached_refuses_with_its_reason(session: Session) -> None:
    city, district = city_and_district(session, city_cap_bp=5000)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    city_voucher = grant(session, city, buyer, 50_000)
    district_voucher = grant(session, district, buyer, 50_000)
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 10_000)
    pay(session, invoice, buyer, city_voucher.code)
    with force_locale("en"):  # the reason quoted in English
        quoted = voucher_payments.quote(session, invoice, [district_voucher.code], now=T0)
        assert quoted.total_fen == 0 and "combined cap" in quoted.items[0].problem
    with pytest.raises(DomainError) as refused:
        pay(session, invoice, buyer, district_voucher.code)
    assert refused.value.code == "voucher_stacking_cap"


def test_only_the_owner_sets_a_stacking_rule_and_bad_values_are_refused(
    session: Session,
) -> None:
    city, district = city_and_district(session)
    with pytest.raises(NotAllowed):
        stacking.set_rule(
            session,
            city,
            actor=officer_actor(session),
            partner_program_ids=[district.id],
            combined_cap_bp=8000,
            now=T0,
        )
    officer = officer_of(session, city)
    for partners, cap in (([district.id], 0), ([district.id], 10_001), ([999_999], 8000)):
        with pytest.raises(DomainError):
            stacking.set_rule(
                session, city, actor=officer, partner_program_ids=partners,
                combined_cap_bp=cap, now=T0,
            )  # fmt: skip
    assert stacking.rule_of(session, city).combined_cap_bp == 7000


@settings(max_examples=60, deadline=None)
@given(
    amount=st.integers(min_value=1, max_value=5_000_000),
    ratios=st.tuples(st.integers(1, 10_000), st.integers(1, 10_000)),
    caps=st.tuples(st.integers(1, 10_000), st.integers(1, 10_000)),
    balances=st.tuples(st.integers(1, 3_000_000), st.integers(1, 3_000_000)),
)
def test_property_stacked_subsidies_never_pass_any_combined_cap(
    amount, ratios, caps, balances
) -> None:
    """The pure rule: whatever each program would pay alone, what the second may add is
    within every cap involved, and the total never passes min(caps) x eligible."""
    from marketplace.money import apply_basis_points
    from vouchers.rules_models import StackingRule

    rules = {
        1: StackingRule(program_id=1, partner_program_ids=[2], combined_cap_bp=caps[0]),
        2: StackingRule(program_id=2, partner_program_ids=[1], combined_cap_bp=caps[1]),
    }
    first_alone = min(balances[0], apply_basis_points(amount, ratios[0]))
    room_first = stacking.combined_room({1: rules[1]}, {1: amount}, 0)
    first = min(first_alone, room_first)
    second_alone = min(balances[1], apply_basis_points(amount, ratios[1]))
    room = stacking.combined_room(rules, {1: amount, 2: amount}, first)
    second = min(second_alone, room)
    total = first + second
    assert total <= min(apply_basis_points(amount, c) for c in caps) or second == 0
    assert total <= max(first, apply_basis_points(amount, min(caps)))
    assert stacking.refusal(rules, [1], 2) is None
    assert stacking.refusal({1: rules[1]}, [1], 3) == (1, 3)


# --- co-funding -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    total=st.integers(min_value=0, max_value=10**12),
    weights=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=5),
)
def test_property_the_ratio_split_sums_exactly_and_each_share_is_within_a_fen(
    total, weights
) -> None:
    from fractions import Fraction

    shares = cofunding.split_by_ratio(total, weights)
    assert sum(shares) == total
    whole = sum(weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - Fraction(total * weight, whole)) < 1
    assert shares == cofunding.split_by_ratio(total, weights)  # deterministic


def test_split_examples() -> None:
    assert cofunding.split_by_ratio(10_001, [1, 1]) == [5_001, 5_000]  # the tie to the first
    assert cofunding.split_by_ratio(100, [1, 1, 1]) == [34, 33, 33]
    assert cofunding.split_by_ratio(7, [2, 1]) == [5, 2]  # 4.67 and 2.33
    with pytest.raises(ValueError):
        cofunding.split_by_ratio(5, [])


def cofunded(session: Session, **terms):
    """A city program co-funded 1:1 by the city and 浦东新区."""
    city_officer = officer_actor(session, name="上海市经济和信息化委员会")
    district_officer = officer_actor(session, name="浦东新区科技和经济委员会")
    program = create_program(session, city_officer, publish=False, name="市区共担上云券", **terms)
    cofunding.set_funders(
        session,
        program,
        actor=city_officer,
        funders=[(city_officer.organization.id, 1), (district_officer.organization.id, 1)],
    )
    from vouchers import programs

    programs.publish_program(
        session,
        program,
        actor=city_officer,
        now=T0 - timedelta(days=1),
        confirm_fen=program.budget_fen,
    )
    return program, city_officer, district_officer


def test_cofunded_settlements_split_by_ratio_with_the_ledger_balanced(session: Session) -> None:
    program, city_officer, district_officer = cofunded(session, ratio_bp=10_000)
    city_id, district_id = city_officer.organization.id, district_officer.organization.id
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000)
    contract = contract_between(session, buyer, vendor)
    first = invoice_for(session, contract, 10_001)  # odd fen: 5,001 city, 5,000 district
    second = invoice_for(session, contract, 3_333)  # 1,667 city, 1,666 district
    pay(session, first, buyer, voucher.code)
    pay(session, second, buyer, voucher.code)

    def owes(org_id: int) -> int:
        return ledger.balance(session, ledger.VOUCHER_PROGRAM_PAYABLE, org_id)

    assert (owes(city_id), owes(district_id)) == (6_668, 6_666)
    figures = {f.organization.id: f for f in cofunding.figures(session, program)}
    assert figures[city_id].redeemed_fen == 6_668 and figures[district_id].redeemed_fen == 6_666

    batch = settlements.create_settlement(
        session,
        program,
        actor=city_officer,
        vendor_id=vendor.organization.id,
        period_start=T0 - timedelta(days=1),
        period_end=T0 + timedelta(days=1),
        now=T0,
    )
    assert batch.total_fen == 13_334
    assert cofunding.settlement_shares(session, batch) == {city_id: 6_668, district_id: 6_666}
    settlements.approve_settlement(session, batch, actor=city_officer, now=T0)
    settlements.mark_paid(session, batch, actor=city_officer, bank_reference="GOV-9", now=T0)
    assert (owes(city_id), owes(district_id)) == (0, 0)
    assert ledger.unbalanced_transactions(session) == []
    figures = {f.organization.id: f for f in cofunding.figures(session, program)}
    assert figures[district_id].settled_fen == 6_666
    assert [p.id for p in cofunding.cofunded_programs(session, district_id)] == [program.id]
    from vouchers import exports

    sheet = exports.to_csv(exports.settlements_sheet(session, program)).decode("utf-8-sig")
    assert "上海市经济和信息化委员会 66.68；浦东新区科技和经济委员会 66.66" in sheet


def test_a_void_takes_back_each_funders_share(session: Session) -> None:
    program, city_officer, district_officer = cofunded(session, ratio_bp=10_000)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000)
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 999)
    pay(session, invoice, buyer, voucher.code)
    assert (
        ledger.balance(session, ledger.VOUCHER_PROGRAM_PAYABLE, district_officer.organization.id)
        == 499
    )
    voucher_payments.reverse(session, invoice, reason="void", now=T0)
    for org in (city_officer.organization, district_officer.organization):
        assert ledger.balance(session, ledger.VOUCHER_PROGRAM_PAYABLE, org.id) == 0
    assert ledger.unbalanced_transactions(session) == []


def test_funders_are_governments_listed_with_the_owner_and_fixed_once_published(
    session: Session,
) -> None:
    program, city_officer, _district = cofunded(session)
    with pytest.raises(Conflict):
        cofunding.set_funders(session, program, actor=city_officer, funders=[])
    draft = create_program(session, city_officer, publish=False)
    sme = sme_actor(session)
    other = officer_actor(session)
    for funders in (
        [(other.organization.id, 1), (sme.organization.id, 1)],  # owner missing
        [(city_officer.organization.id, 1), (sme.organization.id, 1)],  # not a government
        [(city_officer.organization.id, 0), (other.organization.id, 1)],  # weight 0
        [(city_officer.organization.id, 1)],  # one funder is no co-funding
    ):
        with pytest.raises(DomainError):
            cofunding.set_funders(session, draft, actor=city_officer, funders=funders)
    assert cofunding.funders_of(session, draft) == []


# --- settlement after delivery --------------------------------------------------------------


def paid_invoice(session, program, buyer, vendor, amount=10_000, contract=None):
    voucher = grant(session, program, buyer, amount)
    contract = contract or contract_between(session, buyer, vendor)
    invoice = invoice_for(session, contract, amount)
    pay(session, invoice, buyer, voucher.code)
    bank_transfers.record_bank_transfer(
        session,
        invoice,
        amount_fen=invoice.total_fen - invoice.voucher_fen,
        reference=f"FP-{invoice.id}",
        actor=operator_actor(session),
        now=T0,
    )
    return invoice


def draft_batch(session, program, officer, vendor, *, now=T0, end_days=1):
    return settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor.organization.id,
        period_start=T0 - timedelta(days=1),
        period_end=T0 + timedelta(days=end_days),
        now=now,
    )


def test_settlement_holds_back_a_redemption_without_fapiao_then_takes_it(
    app, session: Session
) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    settlement_conditions.set_conditions(
        session, program, actor=officer, require_fapiao=True, require_acceptance=False,
        min_days_used=None, now=T0,
    )  # fmt: skip
    buyer, vendor = sme_actor(session), vendor_actor(session)
    with_fapiao = paid_invoice(session, program, buyer, vendor, 6_000)
    without = paid_invoice(session, program, buyer, vendor, 4_000)
    upload = Path(app.config["UPLOAD_FOLDER"])

    def issue(invoice, number):
        found = fapiao_rules.request(session, invoice, actor=buyer, type_=FapiaoType.NORMAL, now=T0)
        fapiao_rules.record_issued(
            session, found, actor=vendor, number=number, issued_on=T0.date(),
            amount_fen=invoice.total_fen, data=PDF, filename="f.pdf", upload_folder=upload,
            now=T0,
        )  # fmt: skip

    issue(with_fapiao, "26312000000012345678")
    waiting = settlement_conditions.waiting(session, program, now=T0)
    assert [(r.invoice_id, why) for r, why in waiting] == [(without.id, ["no_fapiao"])]

    batch = draft_batch(session, program, officer, vendor)
    assert batch.redeemed_fen == 3_000  # 50% of 6,000; the 2,000 waits for its fapiao
    held = session.query(SettlementHoldback).filter_by(settlement_id=batch.id).all()
    assert [(h.reasons) for h in held] == [["no_fapiao"]]
    held_redemption = session.get(Redemption, held[0].redemption_id)
    assert held_redemption.invoice_id == without.id and held_redemption.settlement_id is None

    issue(without, "26312000000012345679")
    later = draft_batch(session, program, officer, vendor, now=T0 + timedelta(days=40), end_days=40)
    assert later.redeemed_fen == 2_000
    assert held_redemption.settlement_id == later.id
    assert settlement_conditions.waiting(session, program, now=T0) == []


def test_nothing_qualifying_is_refused_with_the_count_held_back(session: Session) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    settlement_conditions.set_conditions(
        session, program, actor=officer, require_fapiao=False, require_acceptance=True,
        min_days_used=None, now=T0,
    )  # fmt: skip
    buyer, vendor = sme_actor(session), vendor_actor(session)
    invoice = paid_invoice(session, program, buyer, vendor)
    with pytest.raises(Conflict, match="1 redemptions"), force_locale("en"):
        draft_batch(session, program, officer, vendor)
    with pytest.raises(NotAllowed):  # only the buyer accepts
        delivery.accept_delivery(session, invoice.contract, actor=vendor, now=T0)
    delivery.accept_delivery(session, invoice.contract, actor=buyer, note="验收合格", now=T0)
    with pytest.raises(Conflict):
        delivery.accept_delivery(session, invoice.contract, actor=buyer, now=T0)
    assert draft_batch(session, program, officer, vendor).redeemed_fen == 5_000


def test_days_of_use_or_acceptance(session: Session) -> None:
    program = create_program(session)
    officer = officer_of(session, program)
    settlement_conditions.set_conditions(
        session, program, actor=officer, require_fapiao=False, require_acceptance=True,
        min_days_used=30, now=T0,
    )  # fmt: skip
    buyer, vendor = sme_actor(session), vendor_actor(session)
    invoice = paid_invoice(session, program, buyer, vendor)
    started = invoice.contract.anchor_at
    rows = [r for r in session.query(Redemption).filter_by(invoice_id=invoice.id)]
    condition = settlement_conditions.condition_of(session, program)
    early = settlement_conditions.holdback_reasons(
        session, condition, rows, now=started + timedelta(days=29)
    )
    late = settlement_conditions.holdback_reasons(
        session, condition, rows, now=started + timedelta(days=30)
    )
    assert list(early.values()) == [["not_delivered"]] and list(late.values()) == [[]]
    with pytest.raises(DomainError):
        settlement_conditions.set_conditions(
            session, program, actor=officer, require_fapiao=False, require_acceptance=False,
            min_days_used=0, now=T0,
        )  # fmt: skip


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each try hits the DB
)
@given(
    amount=st.integers(min_value=1, max_value=500_000),
    city_ratio=st.integers(1, 10_000),
    district_ratio=st.integers(1, 10_000),
    cap_extra=st.integers(0, 10_000),
    balances=st.tuples(st.integers(1, 300_000), st.integers(1, 300_000)),
    together=st.booleans(),
)
def test_property_stacked_redemption_pays_exactly_up_to_the_combined_cap(
    session: Session, amount, city_ratio, district_ratio, cap_extra, balances, together
) -> None:
    """Through real redemption: the city's voucher then the district's (in one payment or
    two) pay exactly what each may, and never more together than the combined cap."""
    from marketplace.money import apply_basis_points

    cap_bp = min(10_000, city_ratio + cap_extra)
    city = create_program(session, region_prefix="31", ratio_bp=city_ratio)
    district = create_program(session, ratio_bp=district_ratio)
    stacking.set_rule(
        session, city, actor=officer_of(session, city), partner_program_ids=[district.id],
        combined_cap_bp=cap_bp, now=T0,
    )  # fmt: skip
    buyer, vendor = sme_actor(session), vendor_actor(session)
    codes = [
        grant(session, p, buyer, b).code for p, b in zip((city, district), balances, strict=True)
    ]
    invoice = invoice_for(session, contract_between(session, buyer, vendor), amount)
    cap = apply_basis_points(amount, cap_bp)
    first = min(balances[0], apply_basis_points(amount, city_ratio), cap)
    second = min(
        balances[1], apply_basis_points(amount, district_ratio), amount - first, cap - first
    )
    if first == 0:  # the city's ratio of so small an amount rounds to nothing
        second = min(balances[1], apply_basis_points(amount, district_ratio))
    expected = [first, second]
    if together:
        expected = [first + second] if first and second else [None]
        attempts = [codes]
    else:
        attempts = [[codes[0]], [codes[1]]]
    for codes_now, want in zip(attempts, expected, strict=True):
        if not want:
            with pytest.raises(DomainError) as refused:
                pay(session, invoice, buyer, *codes_now)
            assert refused.value.code in ("voucher_stacking_cap", "voucher_nothing_eligible")
        else:
            assert pay(session, invoice, buyer, *codes_now) == want
    total = sum(want or 0 for want in expected)
    assert invoice.voucher_fen == total
    assert first == 0 or total <= cap  # the city's cap binds once the city pays
