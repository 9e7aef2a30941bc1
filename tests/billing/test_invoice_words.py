"""Invoice lines in plain words, in both languages: the solution's name, the meter's unit
label (never its key), the quantity, the unit price in 元 with fractional fen, and the tier
in words."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import run as billing_run
from billing.metering import events as metering
from billing.models import Invoice
from marketplace.db import utcnow
from tests.billing.factories import (
    COMMISSION_BP,
    buyer_actor,
    offered_plan,
    start_contract,
    usage_terms,
)
from tests.factories import login


def usage_invoice(session: Session, buyer) -> Invoice:
    """12,000 images in a month on the ladder 2 fen up to 10,000, then 1.5 fen; 1,000 free."""
    start = utcnow() - timedelta(days=40)
    contract = start_contract(
        session, plan=offered_plan(session, usage_terms()), buyer=buyer, now=start
    )
    metering.ingest(
        session,
        vendor_id=contract.vendor_id,
        events=[
            {
                "id": "batch-1",
                "contract_id": contract.id,
                "meter": "inspected_images",
                "quantity": "12000",
                "occurred_at": (start + timedelta(days=1)).isoformat(),
            }
        ],
        now=start + timedelta(days=1),
    )
    (invoice,) = billing_run.close_period(
        session, contract, now=contract.current_period_end, commission_bp=COMMISSION_BP
    )
    return invoice


def test_usage_lines_read_in_words_in_chinese_and_english(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    invoice = usage_invoice(session, buyer)
    assert [line.amount_fen for line in invoice.lines] == [9000 * 2, 3000]  # 2,000 × 1.5
    solution = invoice.contract.solution.published

    login(client, buyer.user)
    chinese = client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert "inspected_images" not in chinese
    assert f"{solution.name} · 按量计费：用量" in chinese
    assert "9,000 张" in chinese and "2,000 张" in chinese
    assert "¥0.02 / 张" in chinese and "¥0.015 / 张" in chinese
    assert "第 1 档：1–10,000 张" in chinese
    assert "第 2 档：10,001 张及以上" in chinese
    assert "前 1,000 张免费" in chinese

    with client.session_transaction() as browser:
        browser["lang"] = "en"
    english = client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert "inspected_images" not in english
    assert f"{solution.name_en or solution.name} · Pay as you go: usage" in english
    assert "9,000 image" in english and "¥0.015 / image" in english
    assert "Tier 1: 1–10,000 image" in english
    assert "Tier 2: 10,001 image and above" in english
