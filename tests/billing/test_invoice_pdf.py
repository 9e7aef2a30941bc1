"""Invoice and statement PDFs: the text extracted from them (with pypdf) carries the invoice
number, the Chinese solution name and the total; nobody else gets them."""

from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy.orm import Session

from billing import pdf
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


def embedded_fonts(data: bytes) -> dict[str, bool]:
    """Each font of the PDF's pages by its base name: whether its file is in the PDF."""
    fonts: dict[str, bool] = {}
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            described = descendants[0].get_object() if descendants else font
            descriptor = described.get("/FontDescriptor")
            descriptor = descriptor.get_object() if descriptor else {}
            fonts[str(font["/BaseFont"])] = any(
                key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
            )
    return fonts


@pytest.mark.skipif(
    not any(os.path.isfile(path) for path in pdf.FONT_FILES),
    reason="no TrueType Chinese font on this host (apt-get install fonts-wqy-zenhei; CI does)",
)
def test_the_invoice_pdf_embeds_its_chinese_font(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    invoice = usage_invoice(session, buyer)
    login(client, buyer.user)
    response = client.get(f"/billing/invoices/{invoice.id}.pdf")
    fonts = embedded_fonts(response.get_data())
    # ReportLab lists Helvetica on every page; the standard 14 fonts are every reader's own.
    chinese = {name: embedded for name, embedded in fonts.items() if name != "/Helvetica"}
    # The font the invoice is set in travels inside the file: a reader without Chinese
    # fonts of its own (a tax office's viewer, a phone) shows the same glyphs.
    assert chinese and all(chinese.values()), fonts
    assert invoice.contract.solution.published.name in pdf_text(response)
