"""Invoices and monthly statements as PDF, with the Chinese font embedded.

ReportLab embeds (a subset of) a TrueType Chinese font installed on the host: the file named
by ``MARKETPLACE_PDF_FONT_FILE``, else the first of ``FONT_FILES`` present (Debian's
``fonts-wqy-zenhei``, which ``.ci/run`` installs, or ``fonts-wqy-microhei`` /
``fonts-arphic-uming``). Only TrueType outlines can be embedded (Noto CJK's are PostScript).
On a host without one, it falls back to ReportLab's CID font STSong-Light, which readers
substitute from their own Chinese fonts, and logs that the font is not embedded. Nothing is
downloaded, and the text stays selectable and searchable either way. Lines are worded by billing/line_words.py, the same words as
the page; amounts come from the invoice's stored figures, never recomputed here.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

from flask_babel import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from billing import invoices as invoice_rules
from billing.line_words import LineWords, yuan
from billing.models import Invoice
from marketplace.dates import first_day, last_day
from marketplace.models import Organization

FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
FALLBACK_FONT = "STSong-Light"
log = logging.getLogger(__name__)


def _register_font() -> str:
    """The name of the font the PDFs are set in (registered with ReportLab)."""
    configured = os.environ.get("MARKETPLACE_PDF_FONT_FILE", "")
    for path in (configured, *FONT_FILES) if configured else FONT_FILES:
        if path and os.path.isfile(path):
            try:
                pdfmetrics.registerFont(TTFont("MarketplaceCJK", path, subfontIndex=0))
            except TTFError as exc:  # not TrueType outlines, or not a font at all
                log.warning("PDF font %s cannot be embedded: %s", path, exc)
                continue
            return "MarketplaceCJK"
    log.warning(
        "no TrueType Chinese font found (apt-get install fonts-wqy-zenhei, or set "
        "MARKETPLACE_PDF_FONT_FILE): PDFs use %s, which is not embedded",
        FALLBACK_FONT,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK_FONT))
    return FALLBACK_FONT


FONT = _register_font()

BODY = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=13)
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=11, textColor=colors.grey)
TITLE = ParagraphStyle("title", parent=BODY, fontSize=16, leading=22)
TABLE_STYLE = TableStyle(
    [
        ("FONT", (0, 0), (-1, -1), FONT, 9),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.lightgrey),
        ("ALIGN", (-3, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def _p(text: str, style: ParagraphStyle = BODY) -> Paragraph:
    return Paragraph(escape(text), style)


def _render(story: list) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=18 * mm
    )
    document.build(story)
    return buffer.getvalue()


def _parties(seller: Organization, buyer: Organization) -> Table:
    cells = [
        [_p(_("Seller")), _p(_("Buyer"))],
        [_p(seller.name), _p(buyer.name)],
        [_p(seller.uscc, SMALL), _p(buyer.uscc, SMALL)],
    ]
    table = Table(cells, colWidths=[87 * mm, 87 * mm])
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9)]))
    return table


def invoice_pdf(invoice: Invoice, words: Sequence[LineWords]) -> bytes:
    """The invoice as the page shows it: parties, lines in words, VAT and totals."""
    story: list = [
        _p(_("Invoice %(number)s", number=invoice.number), TITLE),
        _p(_("Period") + f": {first_day(invoice.period_start)} – {last_day(invoice.period_end)}"),
    ]
    if invoice.due_at:
        story.append(_p(_("Due") + f": {first_day(invoice.due_at)}"))
    story += [Spacer(1, 4 * mm), _parties(invoice.vendor, invoice.buyer), Spacer(1, 6 * mm)]
    rows: list[list[Paragraph | str]] = [
        [_p(_("Description")), _p(_("Quantity")), _p(_("Unit price")), _p(_("Amount"))]
    ]
    for line, line_words in zip(invoice.lines, words, strict=True):
        text = line_words.title + (f"\n{line_words.tier}" if line_words.tier else "")
        rows.append(
            [
                Paragraph(escape(text).replace("\n", "<br/>"), BODY),
                _p(line_words.quantity),
                _p(line_words.unit_price),
                yuan(line.amount_fen),
            ]
        )
    table = Table(rows, colWidths=[82 * mm, 30 * mm, 32 * mm, 30 * mm], repeatRows=1)
    table.setStyle(TABLE_STYLE)
    totals = [
        (_("Subtotal (excl. VAT)"), invoice.subtotal_fen),
        (_("VAT"), invoice.tax_fen),
        (_("Total"), invoice.total_fen),
    ]
    if invoice.voucher_fen:
        totals.append((_("Paid with vouchers"), -invoice.voucher_fen))
    totals.append((_("Amount due"), invoice_rules.amount_due(invoice)))
    summary = Table(
        [[_p(label), yuan(fen)] for label, fen in totals], colWidths=[144 * mm, 30 * mm]
    )
    summary.setStyle(
        TableStyle([("FONT", (0, 0), (-1, -1), FONT, 9), ("ALIGN", (1, 0), (1, -1), "RIGHT")])
    )
    story += [table, Spacer(1, 4 * mm), summary, Spacer(1, 6 * mm)]
    story.append(_p(_("Transfer reference") + f": {invoice.transfer_reference}", SMALL))
    return _render(story)


@dataclass(frozen=True)
class StatementRow:
    number: str
    issued: date | None
    status: str
    total_fen: int
    due_fen: int


def statement_pdf(
    buyer: Organization, vendor: Organization, month: date, invoices: Sequence[Invoice]
) -> bytes:
    """One buyer's invoices from one vendor issued in one calendar month (China)."""
    story: list = [
        _p(_("Statement for %(month)s", month=month.strftime("%Y-%m")), TITLE),
        Spacer(1, 4 * mm),
        _parties(vendor, buyer),
        Spacer(1, 6 * mm),
    ]
    rows: list[list[Paragraph | str]] = [
        [_p(_("Invoice")), _p(_("Issued")), _p(_("Status")), _p(_("Total")), _p(_("Due"))]
    ]
    for invoice in invoices:
        rows.append(
            [
                invoice.number,
                str(first_day(invoice.issued_at)) if invoice.issued_at else "",
                _p(invoice.display_label),
                yuan(invoice.total_fen),
                yuan(invoice_rules.amount_due(invoice)),
            ]
        )
    rows.append(
        [
            _p(_("Total")),
            "",
            "",
            yuan(sum(invoice.total_fen for invoice in invoices)),
            yuan(sum(invoice_rules.amount_due(invoice) for invoice in invoices)),
        ]
    )
    table = Table(rows, colWidths=[50 * mm, 30 * mm, 34 * mm, 30 * mm, 30 * mm], repeatRows=1)
    table.setStyle(TABLE_STYLE)
    story.append(table)
    return _render(story)
