"""The outcome chart: baseline line, measured points, charge bars (confirmed or pending)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from flask import Flask, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from billing.outcomes import invoicing, verification
from billing.outcomes.chart import OutcomeChart, outcome_chart
from tests.billing.factories import T0
from tests.billing.test_outcomes import MONTH, agreed, reported
from tests.catalog.factories import operator_actor

# tests/catalog/factories.OUTCOME: baseline 42,000 kWh (decrease), 30 fen per kWh saved,
# cap ¥50,000, base fee ¥500.
BASE_FEE_FEN = 50_000


@pytest.fixture(autouse=True)
def request_context(app: Flask) -> Iterator[None]:
    """Dates and titles are formatted in the reader's language and time zone."""
    with app.test_request_context(), force_locale("en"):
        yield


def chart_of(session: Session, contract) -> OutcomeChart:
    chart = outcome_chart(session, contract)
    assert chart is not None
    return chart


def test_no_chart_without_reports(session: Session) -> None:
    contract, _buyer, _vendor = agreed(session)
    assert outcome_chart(session, contract) is None


def test_baseline_lies_between_points_above_and_below_it(session: Session) -> None:
    contract, _buyer, vendor = agreed(session)
    reported(session, contract, vendor, 40_000)  # better: energy use went down
    reported(session, contract, vendor, 44_000, start=T0 + MONTH)  # worse
    chart = chart_of(session, contract)
    better, worse = chart.points
    # SVG y grows downwards: the higher value is drawn above the baseline.
    assert worse.y < chart.baseline_y < better.y
    assert chart.top <= worse.y and better.y <= chart.bottom
    assert chart.lower_is_better
    assert [p.label for p in chart.periods] == ["1/15–2/15", "2/15–3/15"]
    assert better.x < worse.x  # ordered by period


def test_rejected_reports_are_not_drawn_nor_scaled(session: Session) -> None:
    contract, buyer, vendor = agreed(session)
    wild = reported(session, contract, vendor, 1_000)
    verification.dispute(session, wild, actor=buyer, reason="读数错误", now=wild.submitted_at)
    verification.resolve(
        session,
        wild,
        actor=operator_actor(session),
        decision="reject",
        note="电表故障",
        now=wild.submitted_at,
    )
    reported(session, contract, vendor, 41_000, start=T0 + MONTH)
    chart = chart_of(session, contract)
    assert len(chart.points) == len(chart.bars) == 1
    # On a scale down to 1,000 the 1,000 kWh saved would be a few pixels.
    (point,) = chart.points
    assert point.y - chart.baseline_y > (chart.bottom - chart.top) / 4


def test_reports_awaiting_the_buyer_or_disputed_give_pending_bars(session: Session) -> None:
    contract, buyer, vendor = agreed(session)
    confirmed = reported(session, contract, vendor, 40_000)
    verification.confirm(session, confirmed, actor=buyer, now=confirmed.submitted_at)
    reported(session, contract, vendor, 40_000, start=T0 + MONTH)  # awaiting the buyer
    disputed = reported(session, contract, vendor, 40_000, start=T0 + 2 * MONTH)
    verification.dispute(
        session, disputed, actor=buyer, reason="含停产周", now=disputed.submitted_at
    )

    chart = chart_of(session, contract)
    assert [bar.pending for bar in chart.bars] == [False, True, True]
    assert chart.confirmed_fen == 110_000 and chart.pending_fen == 220_000
    assert "confirmed" in chart.bars[0].title and "if confirmed" in chart.bars[1].title
    assert "Disputed" in chart.bars[2].title


def test_an_adjusted_report_draws_the_adjusted_value_and_keeps_the_reported(
    session: Session,
) -> None:
    contract, buyer, vendor = agreed(session)
    adjusted = reported(session, contract, vendor, 30_000)
    verification.dispute(
        session, adjusted, actor=buyer, reason="含停产周", now=adjusted.submitted_at
    )
    verification.resolve(
        session,
        adjusted,
        actor=operator_actor(session),
        decision="adjust",
        note="按 39,000 计",
        adjusted=Decimal(39_000),
        now=adjusted.submitted_at,
    )
    reported(session, contract, vendor, 39_000, start=T0 + MONTH)

    chart = chart_of(session, contract)
    first, second = chart.periods
    assert first.adjusted and (first.value, first.reported) == (39_000, 30_000)
    assert first.charge_fen == 3_000 * 30 + BASE_FEE_FEN  # billed on the adjusted value
    drawn, plain = chart.points
    assert drawn.y == plain.y  # drawn at 39,000
    assert drawn.reported_y is not None and drawn.y < drawn.reported_y <= chart.bottom
    assert "30,000" in (drawn.reported_title or "") and "39,000" in drawn.title
    assert not second.adjusted and plain.reported_y is None
    assert chart.has_adjusted


def test_bar_heights_are_proportional_to_the_charge(session: Session) -> None:
    contract, _buyer, vendor = agreed(session)
    charges = []
    for month, measured in enumerate([42_000, 41_000, 40_000, 38_000]):
        reported(session, contract, vendor, measured, start=T0 + month * MONTH)
        charges.append(invoicing.charge_fen(contract, Decimal(measured)) + BASE_FEE_FEN)
    assert charges == [50_000, 80_000, 110_000, 170_000]

    chart = chart_of(session, contract)
    assert [p.charge_fen for p in chart.periods] == charges
    per_fen = chart.bars[-1].height / charges[-1]
    for bar, charge in zip(chart.bars, charges, strict=True):
        assert bar.height == pytest.approx(charge * per_fen, abs=0.1)
        assert bar.y + bar.height == pytest.approx(chart.bottom)  # standing on the axis
    top_tick = min(chart.charge_ticks, key=lambda tick: tick.position)
    assert top_tick.position == chart.top and top_tick.label == "¥2,000"


def test_the_partial_renders_an_svg_with_points_and_titles(app: Flask, session: Session) -> None:
    contract, buyer, vendor = agreed(session)
    first = reported(session, contract, vendor, 40_000)
    verification.confirm(session, first, actor=buyer, now=first.submitted_at)
    reported(session, contract, vendor, 39_000, start=T0 + MONTH)
    chart = chart_of(session, contract)

    html = render_template("billing/_outcome_chart.html", outcome_chart=chart, plan=contract.plan)
    start = html.index("<svg")
    svg = html[start : html.index("</svg>", start)]
    assert 'role="img"' in svg and "aria-label=" in svg
    assert svg.count('class="outcome-point"') == 2
    assert svg.count('class="outcome-bar outcome-bar-confirmed"') == 1
    assert svg.count('class="outcome-bar outcome-bar-pending"') == 1
    assert 'class="outcome-baseline"' in svg
    assert "<title>1/15–2/15: 40,000 kWh" in svg and "¥1,100.00" in svg
    assert "lower is better" in html
    # Geometry, not script: nothing inline for the CSP to block.
    assert "<script" not in html and "style=" not in html
