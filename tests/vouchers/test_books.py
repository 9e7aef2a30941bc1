"""Settlement with vendors, anomaly cases, effectiveness figures and exports."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy.orm import Session

from billing.metering import events as metering
from marketplace.errors import Conflict, NotAllowed
from tests.billing.factories import T0, event, start_contract, usage_terms
from tests.catalog.factories import publish_solution
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    lines_of,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import anomalies, exports, redemptions, settlements, stats, wallet
from vouchers.models import AnomalyRule, AnomalyStatus, SettlementStatus

NOW = T0 + timedelta(days=1)
MONTH_START, MONTH_END = T0 - timedelta(days=14), T0 + timedelta(days=60)


def pay(session: Session, invoice, codes, *, now=NOW):
    return redemptions.redeem(
        session,
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        lines=lines_of(invoice),
        codes=codes,
        now=now,
        contract_id=invoice.contract_id,
    )


@pytest.fixture
def paid(session: Session):
    """A program whose voucher paid three invoices of one vendor."""
    program = create_program(session, ratio_bp=5000, region_prefix="31")
    officer = officer_of(session, program)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000, officer=officer)
    contract = contract_between(session, buyer, vendor)
    invoices = [invoice_for(session, contract, amount) for amount in (20_000, 40_000, 10_000)]
    for invoice in invoices:
        pay(session, invoice, [voucher.code])
    return program, officer, buyer, vendor, voucher, invoices


def test_settlement_from_batch_to_paid(session: Session, paid) -> None:
    program, officer, _buyer, vendor, _voucher, _invoices = paid
    vendor_id = vendor.organization.id
    batch = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor_id,
        period_start=MONTH_START,
        period_end=MONTH_END,
        now=NOW,
    )
    assert batch.total_fen == 35_000 and batch.status is SettlementStatus.DRAFT
    with pytest.raises(Conflict):  # every redemption is in a batch already
        settlements.create_settlement(
            session,
            program,
            actor=officer,
            vendor_id=vendor_id,
            period_start=MONTH_START,
            period_end=MONTH_END,
            now=NOW,
        )
    with pytest.raises(Conflict):
        settlements.mark_paid(session, batch, actor=officer, bank_reference="X", now=NOW)
    with pytest.raises(NotAllowed):
        settlements.approve_settlement(session, batch, actor=officer_actor(session), now=NOW)
    settlements.approve_settlement(session, batch, actor=officer, now=NOW)
    (account,) = settlements.vendor_accounts(session, vendor_id)
    assert (account.owed_fen, account.paid_fen) == (35_000, 0)
    settlements.mark_paid(session, batch, actor=officer, bank_reference="CMB20260120001", now=NOW)
    assert batch.status is SettlementStatus.PAID and batch.bank_reference == "CMB20260120001"
    (account,) = settlements.vendor_accounts(session, vendor_id)
    assert (account.owed_fen, account.paid_fen) == (0, 35_000)
    assert settlements.settlements_for_vendor(session, vendor_id) == [batch]
    assert settlements.settlements_for_vendor(session, vendor_actor(session).organization.id) == []


def test_reversal_leaves_a_draft_batch_and_is_clawed_back_after_payment(
    session: Session, paid
) -> None:
    program, officer, _buyer, vendor, voucher, invoices = paid
    vendor_id = vendor.organization.id
    batch = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor_id,
        period_start=MONTH_START,
        period_end=MONTH_END,
        now=NOW,
    )
    redemptions.reverse_invoice(session, invoice_id=invoices[2].id, reason="void", now=NOW)
    assert batch.total_fen == 30_000
    settlements.approve_settlement(session, batch, actor=officer, now=NOW)
    settlements.mark_paid(session, batch, actor=officer, bank_reference="B1", now=NOW)
    redemptions.reverse_invoice(session, invoice_id=invoices[0].id, reason="refund", now=NOW)
    (account,) = settlements.vendor_accounts(session, vendor_id)
    assert account.clawback_due_fen == 10_000
    later = invoice_for(session, invoices[0].contract, 60_000)
    pay(session, later, [voucher.code], now=NOW + timedelta(days=2))
    second = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor_id,
        period_start=MONTH_START,
        period_end=MONTH_END,
        now=NOW + timedelta(days=3),
    )
    assert (second.redeemed_fen, second.clawback_fen, second.total_fen) == (30_000, 10_000, 20_000)


def test_anomaly_rules_record_each_case_once(session: Session) -> None:
    program = create_program(session, ratio_bp=10_000, invoice_cap_fen=10_000)
    officer = officer_of(session, program)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000, officer=officer)
    contract = contract_between(session, buyer, vendor)
    # Split: three invoices a day apart, each subsidised at the cap.
    split = [invoice_for(session, contract, 9_500 + i * 500) for i in range(3)]
    for day, invoice in enumerate(split):
        pay(session, invoice, [voucher.code], now=NOW + timedelta(days=day))
    # Cash-out: refunded the next day.
    quick = invoice_for(session, contract, 3_000)
    pay(session, quick, [voucher.code], now=NOW)
    redemptions.reverse_invoice(
        session, invoice_id=quick.id, reason="refund", now=NOW + timedelta(days=1)
    )
    # A related party by mail domain (not caught at payment, caught in review).
    vendor.organization.contact_email = "sales@jinqiao-tech.cn"
    buyer.organization.contact_email = "boss@jinqiao-tech.cn"
    session.flush()
    # No usage on a pay-after-use contract.
    usage_solution = publish_solution(session, vendor, plans=[usage_terms(base_fee_fen=20_000)])
    metered = start_contract(session, plan=usage_solution.published.plans[0], buyer=buyer)
    pay(session, invoice_for(session, metered, 20_000), [voucher.code])

    found = anomalies.scan(session, program, now=NOW + timedelta(days=5))
    rules = sorted(a.rule.value for a in found)
    assert rules == sorted(
        [
            *["related_party"] * 4,  # each active redemption with that buyer and vendor
            "quick_reversal",
            "vendor_concentration",
            "split_invoices",
            "no_usage",
        ]
    )
    split_case = next(a for a in found if a.rule is AnomalyRule.SPLIT_INVOICES)
    assert {i.id for i in split} <= set(split_case.details["invoice_ids"])
    assert anomalies.scan(session, program, now=NOW + timedelta(days=6)) == []

    case = next(a for a in found if a.rule is AnomalyRule.QUICK_REVERSAL)
    with pytest.raises(NotAllowed):
        anomalies.review(
            session,
            case,
            actor=officer_actor(session),
            status=AnomalyStatus.CLEARED,
            note="x",
            now=NOW,
        )
    anomalies.review(
        session,
        case,
        actor=officer,
        status=AnomalyStatus.CONFIRMED,
        note="企业承认套现，已追回",
        now=NOW,
    )
    with pytest.raises(Conflict):
        anomalies.review(
            session, case, actor=officer, status=AnomalyStatus.CLEARED, note="x", now=NOW
        )
    assert case in anomalies.anomalies_in(session, program, status=AnomalyStatus.CONFIRMED)


def test_usage_recorded_clears_the_no_usage_rule(session: Session) -> None:
    program = create_program(session)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000)
    solution = publish_solution(session, vendor, plans=[usage_terms()])
    contract = start_contract(session, plan=solution.published.plans[0], buyer=buyer)
    metering.ingest(
        session,
        vendor_id=vendor.organization.id,
        events=[event(contract, "e1", 5, at=T0 + timedelta(hours=1))],
        now=T0 + timedelta(hours=2),
    )
    pay(session, invoice_for(session, contract, 20_000), [voucher.code])
    assert anomalies.contracts_without_usage(session, {contract.id}) == set()


def test_effectiveness_figures(session: Session, paid) -> None:
    program, officer, _buyer, vendor, _voucher, _invoices = paid
    other = sme_actor(session, region_code="310104", industry_code="C34")
    spare = grant(session, program, other, 5_000, officer=officer)
    wallet.revoke(session, spare, actor=officer, reason="放弃", now=T0 + timedelta(days=40))
    months = stats.budget_by_month(session, program)
    assert [m.month for m in months] == ["2026-01", "2026-02"]
    assert months[0].issued_fen == 105_000 and months[0].redeemed_fen == 35_000
    assert months[-1].released_total_fen == 5_000 and months[-1].reserved_total_fen == 65_000
    served = stats.enterprises_served(session, program)
    assert served.enterprises == 2
    assert dict(served.by_district) == {"310115": 1, "310104": 1}
    assert dict(served.by_industry) == {"C33": 1, "C34": 1}
    (top,) = stats.top_vendors(session, program)
    assert (top.vendor_id, top.redeemed_fen, top.buyers) == (vendor.organization.id, 35_000, 1)
    leverage = stats.leverage(session, program)
    assert (leverage.total_spend_fen, leverage.subsidy_fen) == (70_000, 35_000)
    assert leverage.ratio == Decimal("2.00")
    assert stats.leverage(session, program, total_spend_fen=140_000).ratio == Decimal("4.00")
    # The revoked enterprise ran out on day 40; three months later it is counted.
    retention = stats.still_paying(
        session,
        program,
        now=T0 + timedelta(days=140),
        paid_after=lambda _s, since: {other.organization.id} & set(since),
    )
    assert (retention.ran_out, retention.still_paying, retention.rate_bp) == (1, 1, 10_000)
    assert stats.still_paying(session, program, now=T0 + timedelta(days=140)).still_paying == 0


def test_exports_read_in_chinese_with_yuan_amounts(session: Session, paid) -> None:
    program, officer, _buyer, vendor, _voucher, _invoices = paid
    batch = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor.organization.id,
        period_start=MONTH_START,
        period_end=MONTH_END,
        now=NOW,
    )
    anomalies.scan(session, program, now=NOW)
    sheet = exports.redemptions_sheet(session, program)
    data = exports.to_csv(sheet)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("核销编号,核销时间,券码,企业名称")
    assert ",200.00,100.00,已核销," in text  # ¥200 eligible, ¥100 subsidy

    workbook = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(sheet)))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][7:9] == ("符合条件金额（元）", "补贴金额（元）")
    assert [row[8] for row in rows[1:]] == [100, 200, 50]
    cell = workbook.active.cell(row=2, column=9)
    assert cell.number_format == exports.YUAN_FORMAT and isinstance(cell.value, int | float)
    assert workbook.active.cell(row=2, column=2).value == (NOW + timedelta(hours=8)).replace(
        tzinfo=None
    )

    settled = openpyxl.load_workbook(
        io.BytesIO(exports.to_xlsx(exports.settlements_sheet(session, program)))
    ).active
    assert settled.cell(row=1, column=8).value == "应付金额（元）"
    assert settled.cell(row=2, column=8).value == batch.total_fen / 100 == 350
    assert settled.cell(row=2, column=9).value == "草稿"
    flagged = exports.to_csv(exports.anomalies_sheet(session, program)).decode("utf-8-sig")
    assert "单一服务商占比过高" in flagged and "待复核" in flagged
