"""One vocabulary on screen and in the files: the exports say 核销, 冲回 and 符合条件金额 with
the very words the Chinese screen shows for the same things, and none of the synonyms that
once crept into the files (兑付, 冲销, 可补贴金额) is left in an export, a voucher
template or the Chinese catalog."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import openpyxl
import sqlalchemy as sa
from babel.messages.pofile import read_po
from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from tests.vouchers.test_pages import paid_program
from vouchers import anomalies, exports, redemptions, settlements, vocabulary
from vouchers.models import Program, Redemption, RedemptionStatus

ROOT = Path(__file__).resolve().parents[2]


def export_text(session: Session, program: Program) -> str:
    """Every cell of every export of the program, CSV and XLSX."""
    parts = []
    for make in (exports.redemptions_sheet, exports.settlements_sheet, exports.anomalies_sheet):
        sheet = make(session, program)
        parts.append(sheet.title)
        parts.append(exports.to_csv(sheet).decode("utf-8-sig"))
        workbook = openpyxl.load_workbook(io.BytesIO(exports.to_xlsx(sheet)))
        for row in workbook.active.iter_rows(values_only=True):
            parts.extend(str(cell) for cell in row if cell is not None)
    return "\n".join(parts)


def test_exports_say_what_the_screen_says(app: Flask, session: Session) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    first = session.scalars(
        sa.select(Redemption).where(Redemption.program_id == program.id).order_by(Redemption.id)
    ).first()
    assert first is not None
    redemptions.reverse_invoice(session, invoice_id=first.invoice_id, reason="void", now=utcnow())
    settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor.organization.id,
        period_start=utcnow() - timedelta(days=1),
        period_end=utcnow() + timedelta(minutes=1),
        now=utcnow() + timedelta(minutes=1),
    )
    anomalies.scan(session, program, now=utcnow())
    text = export_text(session, program)

    with app.test_request_context(), force_locale("zh_CN"):
        screen = {
            "redeemed": RedemptionStatus.ACTIVE.label,
            "reversed": RedemptionStatus.REVERSED.label,
            "eligible": _("Eligible"),
            "redemptions": _("Redemptions"),
        }
    # The screen's words, as the Chinese catalog has them...
    assert screen["redeemed"] == vocabulary.REDEEMED
    assert screen["reversed"] == vocabulary.REVERSED
    assert screen["eligible"] == vocabulary.ELIGIBLE_AMOUNT
    assert vocabulary.REDEEM in screen["redemptions"]
    # ...are the export's words.
    assert f"\n{screen['eligible']}（元）" in text.replace(",", "\n")
    assert f",{screen['redeemed']}," in text and f",{screen['reversed']}," in text
    assert f"{vocabulary.REDEEM}明细" in text and f"{vocabulary.REVERSE}时间" in text
    for synonym in vocabulary.AVOIDED:
        assert synonym not in text, f"an export says {synonym!r}, the screen does not"


def test_no_synonym_in_the_voucher_templates_or_the_chinese_catalog() -> None:
    templates = [*(ROOT / "templates" / "vouchers").rglob("*.html")]
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for synonym in vocabulary.AVOIDED:
            assert synonym not in text, f"{path.relative_to(ROOT)} says {synonym!r}"
    po = ROOT / "marketplace" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN")
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        voucher_words = (
            any(
                "voucher" in location[0] or "vouchers" in location[0]
                for location in message.locations
            )
            or "redemption" in str(message.id).lower()
            or "eligible" in str(message.id).lower()
        )
        if not voucher_words:
            continue
        for string in strings:
            for synonym, word in vocabulary.AVOIDED.items():
                assert synonym not in (string or ""), (
                    f"{message.id!r} is translated with {synonym!r}; the screen word is {word!r}"
                )
