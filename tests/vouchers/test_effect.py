"""使用效能 shows results, not only money: the improvements measured by the outcome
contracts a program subsidised, summed per KPI; where the subsidy went by district,
industry and size class; the subsidy month over month on a scale that shows small
spending; and the tab as a file."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import timedelta
from decimal import Decimal

import openpyxl
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing.models import Contract
from billing.outcomes import baselines, reporting, verification
from billing.periods import period_bounds, period_index
from catalog.models import VoucherKind
from devtools.demo.platform import DEMO_PASSWORD
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.billing.factories import T0, offered_plan, start_contract
from tests.catalog.factories import OUTCOME
from tests.marketplace.test_cli import load_demo_into
from tests.vouchers.factories import (
    grant,
    invoice_for,
    lines_of,
    officer_of,
    sme_actor,
    vendor_actor,
)
from tests.vouchers.test_pages import open_program, page, sign_in
from vouchers import effect, redemptions
from vouchers.charts import budget_chart, column_chart
from vouchers.models import Program
from vouchers.stats import MonthFigures


def outcome_contract(
    session: Session, buyer: Actor, vendor: Actor, baseline: int | Decimal, **terms: object
) -> Contract:
    plan = offered_plan(session, {**OUTCOME, **terms}, vendor)
    contract = start_contract(session, plan=plan, buyer=buyer, baseline=Decimal(baseline))
    baselines.accept_baseline(session, contract, actor=vendor, now=T0)
    return contract


def confirmed(
    session: Session,
    contract: Contract,
    buyer: Actor,
    vendor: Actor,
    month: int,
    measured: int | Decimal,
) -> None:
    """A result for the contract's ``month``-th period, confirmed by the buyer."""
    start, end = period_bounds(contract.anchor_at, period_index(contract.anchor_at, T0) + month)
    report = reporting.report(
        session,
        contract,
        actor=vendor,
        period_start=start,
        period_end=end,
        measured=Decimal(measured),
        now=end + timedelta(hours=1),
    )
    verification.confirm(session, report, actor=buyer, now=end + timedelta(hours=2))


def subsidise(session: Session, program: Program, contract: Contract, code: str, fen: int) -> None:
    invoice = invoice_for(session, contract, fen)
    redemptions.redeem(
        session,
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        lines=lines_of(invoice),
        codes=[code],
        now=utcnow(),
        contract_id=invoice.contract_id,
    )


def outcome_world(session: Session) -> tuple[Program, Actor]:
    """Two enterprises on electricity-saving contracts the program subsidised (one in
    Pudong, small, metal products; one in Minhang, micro, general machinery), and a third
    contract nobody subsidised."""
    program = open_program(
        session, region_prefix="31", budget_fen=200_000_000, annual_cap_fen=2_000_000
    )
    officer = officer_of(session, program)
    vendor = vendor_actor(session)
    pudong = sme_actor(session, region_code="310115", industry_code="C33")
    minhang = sme_actor(
        session,
        region_code="310112",
        industry_code="C34",
        employees=8,
        annual_revenue_fen=50_000_000,
    )
    outsider = sme_actor(session)
    first = outcome_contract(session, pudong, vendor, 42_000)
    confirmed(session, first, pudong, vendor, 0, 40_000)  # 2,000 kWh saved
    confirmed(session, first, pudong, vendor, 1, 38_000)  # 4,000 kWh saved
    second = outcome_contract(session, minhang, vendor, 10_000)
    confirmed(session, second, minhang, vendor, 0, 9_000)  # 1,000 kWh saved
    confirmed(session, second, minhang, vendor, 1, 11_000)  # worse than baseline: 0
    # A quality contract: the defect rate should fall from 3.2% to 0.4%.
    quality = outcome_contract(
        session,
        minhang,
        vendor,
        Decimal("3.2"),
        kpi_name="漏检率",
        kpi_unit="%",
        price_per_unit_fen="100000",
    )
    confirmed(session, quality, minhang, vendor, 0, Decimal("0.4"))
    unsubsidised = outcome_contract(session, outsider, vendor, 42_000)
    confirmed(session, unsubsidised, outsider, vendor, 0, 1_000)
    for buyer, contracts, fen in (
        (pudong, [first], 2_000_000),
        (minhang, [second, quality], 500_000),
    ):
        voucher = grant(session, program, buyer, 1_000_000, officer=officer, now=utcnow())
        for contract in contracts:
            subsidise(session, program, contract, voucher.code, fen)
    return program, officer


def test_outcomes_are_summed_per_kpi_over_subsidised_contracts_only(session: Session) -> None:
    program, _officer = outcome_world(session)
    by_name = {k.name: k for k in effect.outcomes(session, program)}
    power = by_name["月用电量"]
    assert (power.unit, power.direction, power.contracts, power.periods) == (
        "kWh",
        "decrease",
        2,
        4,
    )
    assert power.improvement == Decimal(7_000)  # 2,000 + 4,000 + 1,000 + 0
    assert power.latest_improvement == Decimal(4_000)  # 4,000 + 0
    quality = by_name["漏检率"]
    assert quality.improvement == Decimal("2.8") and quality.contracts == 1


def test_breakdowns_by_district_industry_and_size(session: Session) -> None:
    program, _officer = outcome_world(session)
    found = effect.breakdowns(session, program)
    # The vouchers paid half of each invoice: ¥10,000 for Pudong, 2 x ¥2,500 for Minhang.
    assert [(s.code, s.enterprises, s.redeemed_fen) for s in found.by_district] == [
        ("310115", 1, 1_000_000),
        ("310112", 1, 500_000),
    ]
    assert [s.code for s in found.by_industry] == ["C33", "C34"]
    assert [(s.code, s.redeemed_fen) for s in found.by_size] == [
        ("small", 1_000_000),
        ("micro", 500_000),
    ]


def test_the_tab_shows_results_breakdowns_and_month_over_month(
    client: FlaskClient, session: Session
) -> None:
    program, officer = outcome_world(session)
    sign_in(client, officer)
    html = page(client.get(f"/vouchers/programs/{program.id}/effect"))
    assert 'data-kpi="月用电量|kWh|decrease"' in html and "7,000 kWh" in html
    assert "2.8 %" in html  # the defect rate, 3.2% -> 0.4%
    assert 'data-breakdown="district"' in html and "闵行区" in html and "浦东新区" in html
    assert "金属制品业" in html  # C33 by its GB/T 4754 name
    assert "小型企业" in html and "微型企业" in html
    assert 'data-column-chart="spend"' in html and "data-month-changes" in html
    assert 'data-figure="redeemed">¥15,000.00<' in html
    # A ¥2,000,000 budget does not flatten ¥15,000 of use: it is stated, not drawn.
    assert "data-budget-off-scale" in html and "¥2,000,000.00" in html


def test_the_tab_exports_as_csv_and_xlsx(client: FlaskClient, session: Session) -> None:
    program, officer = outcome_world(session)
    sign_in(client, officer)
    response = client.get(f"/vouchers/programs/{program.id}/effect.csv")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    table = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    kpis = {r["名称"]: r for r in table if r["分类"] == "成效指标"}
    assert kpis["月用电量"]["成效合计"] == "7,000" and kpis["月用电量"]["单位"] == "kWh"
    assert kpis["月用电量"]["企业数/合同数"] == "2"
    districts = {r["名称"]: r["核销金额（元）"] for r in table if r["分类"] == "地区"}
    assert districts == {"上海市 浦东新区": "10000.00", "上海市 闵行区": "5000.00"}
    assert any(r["分类"] == "月度核销" and r["核销金额（元）"] == "15000.00" for r in table)
    assert {r["分类"] for r in table} == {"月度核销", "地区", "行业", "企业规模", "成效指标"}
    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get(f"/vouchers/programs/{program.id}/effect.xlsx").data)
    )
    assert workbook.active["A1"].value == "分类"


def test_small_spending_is_drawn_on_a_scale_that_shows_it() -> None:
    month = MonthFigures("2026-12", 2_500_000, 2_500_000, 0, 0, 2_500_000, 0)
    chart = budget_chart([month], 200_000_000)
    assert chart.budget_off_scale
    (segment,) = [s for s in chart.segments if s.part == "redeemed"]
    assert segment.height > (chart.bottom - chart.top) / 2  # not a hairline
    assert chart.phone is not None and chart.phone.budget_off_scale
    near = budget_chart([month], 5_000_000)  # a budget near the columns is drawn
    assert not near.budget_off_scale and near.top <= near.budget_y < near.bottom

    spend = column_chart([("2026-11", 40_000), ("2026-12", 2_500_000)])
    small, large = spend.columns
    assert large.height > (spend.bottom - spend.top) / 2 and small.height >= 1
    assert spend.phone is not None and spend.phone.width == 340


@given(st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=24))
def test_month_over_month_changes_add_up(redeemed: list[int]) -> None:
    months = [
        MonthFigures(f"2026-{i:02d}", 0, value, 0, 0, 0, 0) for i, value in enumerate(redeemed)
    ]
    changes = effect.month_over_month(months)
    assert changes[0].change_fen is None
    assert sum(c.change_fen or 0 for c in changes) == redeemed[-1] - redeemed[0]
    for before, after in itertools.pairwise(changes):
        if before.redeemed_fen > 0:
            assert after.change_bp is not None and after.change_fen is not None
            # Basis points of the month before, rounded down.
            low = after.change_bp * before.redeemed_fen
            assert low <= after.change_fen * 10_000 < low + before.redeemed_fen


def test_the_demo_shows_results_a_program_paid_for(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    compute = session.scalar(
        sa.select(Program).where(Program.kind == VoucherKind.COMPUTE).order_by(Program.id)
    )
    assert compute is not None
    (rework,) = effect.outcomes(session, compute)
    assert (rework.contracts, rework.periods) == (1, 2)
    assert rework.improvement == Decimal(44 + 82)  # 280 h -> 236 h, then 198 h
    client.post("/login", data={"email": "officer@demo.local", "password": DEMO_PASSWORD})
    html = page(client.get(f"/vouchers/programs/{compute.id}/effect"))
    assert f'data-kpi="{rework.key}"' in html and "126" in html
