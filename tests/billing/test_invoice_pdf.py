"""Invoice and statement PDFs: the text extracted from them (with pypdf) carries the invoice
number, the Chinese solution name and the total; nobody else gets them."""

from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from billing.models import Invoice
from marketplace.dates import CHINA
from marketplace.db import utcnow
from tests.billing.factories import buyer_actor, offered_plan, start_contract, subscription_terms
from tests.billing.test_invoice_words import usage_invoice
from tests.factories import login


def pdf_text(response) -> str:
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.get_data()))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_invoice_pdf_holds_number_chinese_solution_name_and_total(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    invoice = usage_invoice(session, buyer)
    name = invoice.contract.solution.published.name
    assert any("\u4e00" <= ch <= "\u9fff" for ch in name)  # a Chinese name

    login(client, buyer.user)
    page = client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    assert f'href="/billing/invoices/{invoice.id}.pdf"' in page and "data-statement-pdf" in page
    text = pdf_text(client.get(f"/billing/invoices/{invoice.id}.pdf"))
    assert invoice.number in text
    assert name in text
    assert f"¥{invoice.total_fen // 100:,}.{invoice.total_fen % 100:02d}" in text
    assert "第 2 档" in text and "¥0.015 / 张" in text


def test_monthly_statement_pdf_lists_the_pairs_invoices(
    client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    plan = offered_plan(session, subscription_terms(trial_days=0))
    start_contract(session, plan=plan, buyer=buyer, now=utcnow() - timedelta(days=1))
    invoice = session.scalars(
        sa.select(Invoice).where(Invoice.buyer_id == buyer.organization.id)
    ).one()
    month = invoice.issued_at.astimezone(CHINA)

    login(client, buyer.user)
    url = f"/billing/statements/{invoice.vendor_id}/{month.year}-{month.month}.pdf"
    text = pdf_text(client.get(url))
    assert invoice.number in text and invoice.buyer.name in text

    stranger = buyer_actor(session)
    login(client, stranger.user)
    assert client.get(url).status_code == 404
    assert client.get(f"/billing/invoices/{invoice.id}.pdf").status_code == 404
    assert client.get(f"/billing/statements/{invoice.vendor_id}/2026-13.pdf").status_code == 404
