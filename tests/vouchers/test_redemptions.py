"""Paying invoices with vouchers: the subsidy formula, the eligibility of lines, clear
refusals, reversal on void or refund, and who sees which redemptions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.models import Organization
from tests.billing.factories import T0
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    line,
    lines_of,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import parties, programs, redemptions, wallet
from vouchers.models import RedemptionStatus, VoucherStatus
from vouchers.redemptions import VoucherRefused

NOW = T0 + timedelta(days=1)


def pay(session: Session, invoice, codes, *, now=NOW, lines=None):
    return redemptions.redeem(
        session,
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        lines=lines if lines is not None else lines_of(invoice),
        codes=codes,
        now=now,
        contract_id=invoice.contract_id,
    )


@pytest.fixture
def setup(session: Session):
    program = create_program(session, ratio_bp=5000, invoice_cap_fen=30_000)
    buyer = sme_actor(session)
    vendor = vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000)
    contract = contract_between(session, buyer, vendor)
    return program, buyer, vendor, voucher, contract


def test_subsidy_is_the_smallest_of_balance_ratio_and_cap(session: Session, setup) -> None:
    program, _buyer, _vendor, voucher, contract = setup
    small = invoice_for(session, contract, 20_000)  # ratio: 10,000
    assert pay(session, small, [voucher.code]).total_fen == 10_000
    large = invoice_for(session, contract, 200_000)  # ratio 100,000, cap 30,000
    result = pay(session, large, [voucher.code])
    assert result.total_fen == 30_000
    (redemption,) = result.redemptions
    assert redemption.eligible_fen == 200_000 and redemption.vendor_id == large.vendor_id
    assert voucher.balance_fen == 60_000 and voucher.redeemed_fen == 40_000
    big = invoice_for(session, contract, 1_000_000)
    pay(session, big, [voucher.code])
    more = invoice_for(session, contract, 1_000_000)
    pay(session, more, [voucher.code])  # the cap, then the last 30,000
    assert voucher.balance_fen == 0 and voucher.status is VoucherStatus.SPENT
    figures = programs.figures(session, program)
    assert (figures.reserved_fen, figures.redeemed_fen) == (0, 100_000)


def test_quote_computes_without_writing(session: Session, setup) -> None:
    _program, buyer, _vendor, voucher, contract = setup
    invoice = invoice_for(session, contract, 20_000)
    quote = redemptions.quote(
        session,
        buyer_id=buyer.organization.id,
        lines=lines_of(invoice),
        codes=[voucher.code, "CLD-0000-0000-0000-0000"],
        now=NOW,
    )
    assert quote.total_fen == 10_000
    assert quote.items[1].problem and quote.items[1].subsidy_fen == 0
    assert voucher.balance_fen == 100_000
    assert redemptions.redemptions_on_invoice(session, invoice.id) == []


def test_two_vouchers_of_one_program_share_its_ratio_and_cap(session: Session, setup) -> None:
    program, buyer, _vendor, first, contract = setup
    second = grant(session, program, buyer, 5_000)
    invoice = invoice_for(session, contract, 40_000)  # ratio 20,000, cap 30,000
    result = pay(session, invoice, [second.code, first.code])
    assert [r.amount_fen for r in result.redemptions] == [5_000, 15_000]
    assert second.status is VoucherStatus.SPENT


def test_someone_elses_voucher_is_refused(session: Session, setup) -> None:
    _program, _buyer, vendor, voucher, _contract = setup
    other = sme_actor(session)
    invoice = invoice_for(session, contract_between(session, other, vendor), 20_000)
    with pytest.raises(NotAllowed):
        pay(session, invoice, [voucher.code])
    with pytest.raises(VoucherRefused) as refused:
        pay(session, invoice, ["CLD-NOPE"])
    assert refused.value.reason == "unknown" and refused.value.field == "vouchers"


def test_ended_vouchers_are_refused(session: Session, setup) -> None:
    program, buyer, _vendor, voucher, contract = setup
    officer = officer_of(session, program)
    invoice = invoice_for(session, contract, 20_000)
    with pytest.raises(VoucherRefused) as refused:
        pay(session, invoice, [voucher.code], now=voucher.expires_at)
    assert refused.value.reason == "expired"
    revoked = grant(session, program, buyer, 1_000, officer=officer)
    wallet.revoke(session, revoked, actor=officer, reason="核查不符", now=NOW)
    with pytest.raises(VoucherRefused) as refused:
        pay(session, invoice, [revoked.code])
    assert refused.value.reason == "revoked"
    spent = grant(session, program, buyer, 1_000, officer=officer)
    pay(session, invoice_for(session, contract, 20_000), [spent.code])
    with pytest.raises(VoucherRefused) as refused:
        pay(session, invoice, [spent.code])
    assert refused.value.reason == "spent"


def test_a_compute_voucher_cannot_pay_a_saas_only_line(session: Session) -> None:
    program = create_program(session, kind="compute", name="算力券")
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 50_000)
    assert voucher.code.startswith("CMP-")
    saas = invoice_for(session, contract_between(session, buyer, vendor), 20_000)
    with pytest.raises(VoucherRefused) as refused:
        pay(session, saas, [voucher.code])
    assert refused.value.reason == "wrong_kind"
    assert voucher.balance_fen == 50_000
    compute = invoice_for(
        session, contract_between(session, buyer, vendor, voucher_kinds=("compute",)), 20_000
    )
    assert pay(session, compute, [voucher.code]).total_fen == 10_000


def test_whitelist_limits_the_vendors(session: Session) -> None:
    pooled, outsider = vendor_actor(session), vendor_actor(session)
    program = create_program(session, vendor_whitelist=[pooled.organization.id])
    buyer = sme_actor(session)
    voucher = grant(session, program, buyer, 50_000)
    outside = invoice_for(session, contract_between(session, buyer, outsider), 20_000)
    with pytest.raises(VoucherRefused) as refused:
        pay(session, outside, [voucher.code])
    assert refused.value.reason == "vendor_not_in_pool"
    inside = invoice_for(session, contract_between(session, buyer, pooled), 20_000)
    assert pay(session, inside, [voucher.code]).total_fen == 10_000


def test_without_a_whitelist_only_verified_vendors_qualify(session: Session) -> None:
    program = create_program(session)
    buyer = sme_actor(session)
    voucher = grant(session, program, buyer, 50_000)
    verified, unverified = vendor_actor(session), vendor_actor(session, verified=False)
    lines = [line(unverified.organization.id, 10_000), line(verified.organization.id, 10_000)]
    quote = redemptions.quote(
        session, buyer_id=buyer.organization.id, lines=lines, codes=[voucher.code], now=NOW
    )
    assert quote.total_fen == 5_000  # half of the verified vendor's line only
    assert [s.vendor_id for s in quote.items[0].shares] == [verified.organization.id]


@pytest.mark.parametrize(
    "shared",
    ["uscc", "legal_representative", "contact_phone", "contact_email", "address"],
)
def test_related_party_vendor_is_not_eligible(session: Session, shared: str) -> None:
    program = create_program(session)
    buyer = sme_actor(session)
    voucher = grant(session, program, buyer, 50_000)
    vendor = vendor_actor(session)
    value = getattr(buyer.organization, shared)
    if shared == "uscc":  # unique among registered organizations: compare unsaved copies
        twin = Organization(
            id=-1,
            uscc=buyer.organization.uscc,
            legal_representative="另一人",
            contact_phone="0",
            contact_email="x@y.cn",
            address="别处",
        )
        assert parties.related_party_reasons(buyer.organization, twin) == ["uscc"]
        return
    setattr(vendor.organization, shared, f" {value.upper()} " if "@" in value else value)
    session.flush()
    invoice = invoice_for(session, contract_between(session, buyer, vendor), 20_000)
    with pytest.raises(VoucherRefused) as refused:
        pay(session, invoice, [voucher.code])
    assert refused.value.reason == "related_party"
    assert voucher.balance_fen == 50_000


def test_all_or_nothing_when_one_voucher_is_refused(session: Session, setup) -> None:
    program, buyer, _vendor, voucher, contract = setup
    officer = officer_of(session, program)
    revoked = grant(session, program, buyer, 1_000, officer=officer)
    wallet.revoke(session, revoked, actor=officer, reason="x", now=NOW)
    invoice = invoice_for(session, contract, 20_000)
    with pytest.raises(DomainError):
        pay(session, invoice, [voucher.code, revoked.code])
    session.refresh(voucher)
    assert voucher.balance_fen == 100_000
    pay(session, invoice, [voucher.code])
    with pytest.raises(Conflict):
        pay(session, invoice, [voucher.code])


def test_reversal_restores_the_balance_and_is_idempotent(session: Session, setup) -> None:
    program, _buyer, _vendor, voucher, contract = setup
    invoice = invoice_for(session, contract, 20_000)
    pay(session, invoice, [voucher.code])
    result = redemptions.reverse_invoice(session, invoice_id=invoice.id, reason="void", now=NOW)
    assert result.restored_fen == 10_000 and result.released_fen == 0
    assert voucher.balance_fen == 100_000 and voucher.redeemed_fen == 0
    (redemption,) = result.reversed
    assert redemption.status is RedemptionStatus.REVERSED and redemption.reversal_reason == "void"
    again = redemptions.reverse_invoice(session, invoice_id=invoice.id, reason="void", now=NOW)
    assert again.reversed == [] and again.total_fen == 0
    figures = programs.figures(session, program)
    assert (figures.reserved_fen, figures.redeemed_fen, figures.released_fen) == (100_000, 0, 0)


def test_reversal_after_expiry_releases_to_the_budget(session: Session, setup) -> None:
    program, _buyer, _vendor, voucher, contract = setup
    invoice = invoice_for(session, contract, 20_000)
    pay(session, invoice, [voucher.code])
    wallet.expire_due(session, voucher.expires_at)
    assert voucher.released_fen == 90_000
    later = voucher.expires_at + timedelta(days=1)
    result = redemptions.reverse_invoice(session, invoice_id=invoice.id, reason="refund", now=later)
    assert (result.restored_fen, result.released_fen) == (0, 10_000)
    assert voucher.balance_fen == 0 and voucher.released_fen == 100_000
    figures = programs.figures(session, program)
    assert (figures.reserved_fen, figures.redeemed_fen, figures.released_fen) == (0, 0, 100_000)


def test_reversal_of_a_spent_voucher_past_its_expiry_releases_at_once(
    session: Session, setup
) -> None:
    program, buyer, _vendor, _voucher, contract = setup
    small = grant(session, program, buyer, 5_000)
    invoice = invoice_for(session, contract, 20_000)
    pay(session, invoice, [small.code])
    assert small.status is VoucherStatus.SPENT
    later = small.expires_at + timedelta(days=1)
    result = redemptions.reverse_invoice(session, invoice_id=invoice.id, reason="refund", now=later)
    assert result.released_fen == 5_000 and small.status is VoucherStatus.EXPIRED


def test_vendors_see_only_redemptions_on_their_invoices(session: Session, setup) -> None:
    program, buyer, vendor, voucher, contract = setup
    other_vendor = vendor_actor(session)
    mine = pay(session, invoice_for(session, contract, 20_000), [voucher.code]).redemptions
    other_contract = contract_between(session, buyer, other_vendor)
    theirs = pay(session, invoice_for(session, other_contract, 20_000), [voucher.code]).redemptions
    assert redemptions.redemptions_for_vendor(session, vendor.organization.id) == mine
    assert redemptions.redemptions_for_vendor(session, other_vendor.organization.id) == theirs
    assert set(redemptions.redemptions_in(session, program)) == set(mine + theirs)
