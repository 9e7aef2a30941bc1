"""What the officer sees adds up: a redemption's eligible amount is the sum of every
eligible line (also those the subsidy did not reach), on the console, the API, CSV and
XLSX, and subsidy <= ratio x eligible on every row; the anomaly rule that recomputes it."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing import invoices, voucher_payments
from billing.invoices import LineDraft
from billing.models import Contract, Invoice
from marketplace.db import utcnow
from marketplace.money import apply_basis_points
from tests.billing.factories import COMMISSION_BP, T0
from tests.factories import create_token, login
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    line,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import anomalies, redemptions
from vouchers.models import AnomalyRule, Redemption

USAGE_FEN, SUBSCRIPTION_FEN = 30_000, 8_376  # ¥300.00 of usage, ¥83.76 of base fee


def mixed_invoice(session: Session, contract: Contract, *amounts: tuple[str, int]) -> Invoice:
    now = utcnow()
    start, end = now - timedelta(days=30), now
    lines = [
        LineDraft(
            kind=kind,
            description=kind,
            quantity=Decimal(1),
            unit_fen=Decimal(amount),
            amount_fen=amount,
            vat_rate_bp=600,
            period_start=start,
            period_end=end,
            plan_id=contract.plan_id,
        )
        for kind, amount in amounts
    ]
    return invoices.create(
        session,
        contract,
        reason="test",
        period_start=start,
        period_end=end,
        lines=lines,
        commission_bp=COMMISSION_BP,
        now=now,
    )


def pay_mixed(session: Session, **program_terms: Any):
    now = utcnow()
    program = create_program(
        session,
        ratio_bp=5000,
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
        **program_terms,
    )
    officer = officer_of(session, program)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 200_000, officer=officer, now=now)
    contract = contract_between(session, buyer, vendor)
    invoice = mixed_invoice(
        session, contract, ("usage", USAGE_FEN), ("subscription", SUBSCRIPTION_FEN)
    )
    subsidy = voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=now)
    (redemption,) = redemptions.redemptions_on_invoice(session, invoice.id)
    return program, officer, invoice, redemption, subsidy


def test_mixed_invoice_records_the_sum_of_its_eligible_lines_everywhere(
    client: FlaskClient, session: Session
) -> None:
    program, officer, _invoice, redemption, subsidy = pay_mixed(session)
    eligible = USAGE_FEN + SUBSCRIPTION_FEN
    assert subsidy == 19_188 == apply_basis_points(eligible, 5000)  # ¥191.88 on ¥383.76
    assert redemption.eligible_fen == eligible  # not ¥300.00: the line with no share counts
    assert sorted(share["amount_fen"] for share in redemption.lines) == [
        SUBSCRIPTION_FEN,
        USAGE_FEN,
    ]
    assert redemption.amount_fen <= apply_basis_points(redemption.eligible_fen, program.ratio_bp)

    headers = {
        "Authorization": f"Bearer {create_token(session, officer.user, officer.organization)}"
    }
    (row,) = client.get(
        f"/api/v1/voucher-programs/{program.id}/redemptions", headers=headers
    ).get_json()
    assert (row["eligible_fen"], row["amount_fen"]) == (38_376, 19_188)

    text = client.get(
        f"/api/v1/voucher-programs/{program.id}/redemptions?format=csv", headers=headers
    ).data.decode("utf-8-sig")
    (record,) = csv.DictReader(io.StringIO(text))
    assert (record["符合条件金额（元）"], record["补贴金额（元）"]) == ("383.76", "191.88")

    login(client, officer.user)
    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/vouchers/programs/{program.id}/export/redemptions.xlsx").data)
    )
    sheet = workbook.active
    header = [cell.value for cell in sheet[1]]
    values = [cell.value for cell in sheet[2]]
    eligible_cell = values[header.index("符合条件金额（元）")]
    subsidy_cell = values[header.index("补贴金额（元）")]
    assert (Decimal(str(eligible_cell)), Decimal(str(subsidy_cell))) == (
        Decimal("383.76"),
        Decimal("191.88"),
    )
    html = client.get(f"/vouchers/programs/{program.id}/redemptions").get_data(as_text=True)
    row_html = html.split(f'data-redemption-row="{redemption.id}"')[1].split("</tr>")[0]
    assert "¥383.76" in row_html and "¥191.88" in row_html and "¥300.00" not in row_html
    assert not [
        a
        for a in anomalies.scan(session, program, now=utcnow())
        if a.rule is AnomalyRule.SUBSIDY_OVER_RATIO
    ]


def test_capped_subsidy_on_a_mixed_invoice_keeps_the_whole_eligible_base(
    session: Session,
) -> None:
    """The per-invoice cap stops the subsidy on the first line; the second still counts."""
    _program, _officer, _invoice, redemption, subsidy = pay_mixed(session, invoice_cap_fen=10_000)
    assert subsidy == redemption.amount_fen == 10_000
    assert redemption.eligible_fen == USAGE_FEN + SUBSCRIPTION_FEN
    assert [share["subsidy_fen"] for share in redemption.lines] == [10_000, 0]


def test_an_ineligible_line_stays_out_of_the_base(session: Session) -> None:
    """Lines of a vendor outside the pool, or of a solution taking only compute vouchers,
    are not eligible: the base is the sum of the eligible lines only."""
    pooled, outsider = vendor_actor(session), vendor_actor(session)
    program = create_program(session, ratio_bp=5000, vendor_whitelist=[pooled.organization.id])
    buyer = sme_actor(session)
    voucher = grant(session, program, buyer, 200_000)
    invoice = invoice_for(session, contract_between(session, buyer, pooled), 1)
    vendor_id = pooled.organization.id
    lines = [
        line(vendor_id, USAGE_FEN, line_id=1),
        line(vendor_id, 50_000, kinds=("compute",), line_id=2),
        line(outsider.organization.id, 70_000, line_id=3),
        line(vendor_id, SUBSCRIPTION_FEN, line_id=4),
    ]
    result = redemptions.redeem(
        session,
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        lines=lines,
        codes=[voucher.code],
        now=T0 + timedelta(days=1),
    )
    (redemption,) = result.redemptions
    assert redemption.eligible_fen == USAGE_FEN + SUBSCRIPTION_FEN
    assert redemption.amount_fen == 19_188
    assert [share["line"] for share in redemption.lines] == ["1", "4"]


line_facts = st.lists(
    st.tuples(
        st.integers(0, 2),  # which vendor
        st.integers(-500, 200_000),  # amount (zero and credits are never subsidised)
        st.sampled_from([("cloud",), ("compute",), ("cloud", "compute")]),
    ),
    min_size=1,
    max_size=6,
)


def test_every_redemption_adds_up_for_any_invoice(session: Session) -> None:
    """Property: for any lines of up to three vendors, any ratio, cap and balance, each
    redemption's eligible amount is the sum of that vendor's eligible lines, it lists them
    all, and its subsidy is at most ratio x eligible; the subsidy is the design's
    min(balance, ratio x eligible, cap), which with one vendor (every real invoice) is
    exactly the formula, and with several is also no vendor above ratio x its own lines."""
    vendors = [vendor_actor(session) for _ in range(3)]
    buyer = sme_actor(session)
    # Big enough for any lines below: no eligible amount passes the invoice's total.
    invoice = invoice_for(session, contract_between(session, buyer, vendors[0]), 2_000_000)

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        line_facts,
        st.sampled_from([1, 3333, 5000, 6667, 10_000]),
        st.one_of(st.none(), st.integers(1, 100_000)),
        st.integers(1, 300_000),
    )
    def run(facts, ratio_bp: int, cap: int | None, balance: int) -> None:
        savepoint = session.begin_nested()
        try:
            program = create_program(
                session,
                ratio_bp=ratio_bp,
                invoice_cap_fen=cap,
                budget_fen=10**9,
                annual_cap_fen=10**9,
            )
            voucher = grant(session, program, buyer, balance)
            lines = [
                line(vendors[v].organization.id, amount, kinds=kinds, line_id=i)
                for i, (v, amount, kinds) in enumerate(facts)
            ]
            eligible = [x for x in lines if x.amount_fen > 0 and "cloud" in x.voucher_kinds]
            by_vendor: dict[int, int] = {}
            for x in eligible:
                by_vendor[x.vendor_id] = by_vendor.get(x.vendor_id, 0) + x.amount_fen
            base = sum(by_vendor.values())
            # The design's subsidy, no vendor's row above ratio x its own eligible lines.
            expected = min(
                balance,
                apply_basis_points(base, ratio_bp),
                sum(apply_basis_points(fen, ratio_bp) for fen in by_vendor.values()),
                *([cap] if cap else []),
            )
            try:
                result = redemptions.redeem(
                    session,
                    invoice_id=invoice.id,
                    buyer_id=invoice.buyer_id,
                    lines=lines,
                    codes=[voucher.code],
                    now=T0 + timedelta(days=1),
                )
            except redemptions.VoucherRefused:
                assert expected == 0
                return
            assert result.total_fen == expected
            for r in result.redemptions:
                own = [x for x in eligible if x.vendor_id == r.vendor_id]
                assert r.eligible_fen == sum(x.amount_fen for x in own)
                assert sorted(share["line"] for share in r.lines) == sorted(
                    str(x.line_id) for x in own
                )
                assert sum(share["subsidy_fen"] for share in r.lines) == r.amount_fen
                assert 0 < r.amount_fen <= apply_basis_points(r.eligible_fen, ratio_bp)
            found = anomalies.scan(session, program, now=T0 + timedelta(days=1))
            assert AnomalyRule.SUBSIDY_OVER_RATIO not in {a.rule for a in found}
        finally:
            savepoint.rollback()

    run()


# --- the anomaly rule ----------------------------------------------------------------------


def test_the_rule_flags_a_subsidy_above_ratio_of_eligible_and_not_a_correct_one(
    session: Session,
) -> None:
    program, _officer, invoice, correct, _subsidy = pay_mixed(session)
    contract = invoice.contract
    wrong_invoice = mixed_invoice(
        session, contract, ("usage", USAGE_FEN), ("subscription", SUBSCRIPTION_FEN)
    )
    (voucher,) = {correct.voucher}
    # As redemptions were recorded before: eligible = the one line the subsidy reached.
    session.execute(
        sa.insert(Redemption).values(
            invoice_id=wrong_invoice.id,
            contract_id=contract.id,
            voucher_id=voucher.id,
            program_id=program.id,
            buyer_id=correct.buyer_id,
            vendor_id=correct.vendor_id,
            amount_fen=19_188,
            eligible_fen=USAGE_FEN,
            lines=[{"line": "1", "solution_id": 1, "amount_fen": USAGE_FEN, "subsidy_fen": 19_188}],
            created_at=utcnow(),
        )
    )
    wrong = session.scalars(
        sa.select(Redemption).where(Redemption.invoice_id == wrong_invoice.id)
    ).one()
    found = [
        a
        for a in anomalies.scan(session, program, now=utcnow())
        if a.rule is AnomalyRule.SUBSIDY_OVER_RATIO
    ]
    assert [a.redemption_id for a in found] == [wrong.id]
    (case,) = found
    assert case.details["problems"] == ["over_ratio"]
    assert case.details["ratio_limit_fen"] == 15_000 and case.details["excess_fen"] == 4_188
    assert case.amount_fen == 19_188
    assert AnomalyRule.SUBSIDY_OVER_RATIO.label  # labelled for the console
    assert anomalies.scan(session, program, now=utcnow()) == []  # recorded once


def test_the_rule_flags_an_eligible_amount_above_the_invoice(session: Session) -> None:
    program, _officer, invoice, redemption, _subsidy = pay_mixed(session)
    session.execute(
        sa.update(Redemption)
        .where(Redemption.id == redemption.id)
        .values(
            eligible_fen=invoice.total_fen + 1,
            lines=[{**redemption.lines[0], "amount_fen": invoice.total_fen + 1}],
        )
    )
    session.expire_all()
    (case,) = [
        a
        for a in anomalies.scan(session, program, now=utcnow())
        if a.rule is AnomalyRule.SUBSIDY_OVER_RATIO
    ]
    assert case.details["problems"] == ["eligible_over_invoice"]
