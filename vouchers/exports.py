"""Officers' exports of redemptions, settlements and anomalies, as CSV (UTF-8 with a byte
order mark, so Excel reads the Chinese) and XLSX. Headers are Chinese whatever the
interface language: the files go to finance offices and auditors. Amounts are yuan with
two decimals (numeric cells with a number format in XLSX); times are China time, and a
settlement's period is its first and last day (inclusive, as the officer typed them)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session, aliased

from marketplace import dates
from marketplace.dates import CHINA
from marketplace.models import Organization
from marketplace.money import Money
from vouchers import cofunding, settlement_conditions, vocabulary
from vouchers.audit_words import AuditLine
from vouchers.models import (
    Anomaly,
    AnomalyRule,
    AnomalyStatus,
    Program,
    Redemption,
    RedemptionStatus,
    Settlement,
    SettlementStatus,
    Voucher,
)

# Billing's invoice numbers, read by name: vouchers never imports billing.
_invoices = sa.table("invoices", sa.column("id"), sa.column("number"))

YUAN_FORMAT = "#,##0.00"
TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_FORMAT = "yyyy-mm-dd"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

REDEMPTION_STATUS_ZH = {
    RedemptionStatus.ACTIVE: vocabulary.REDEEMED,
    RedemptionStatus.REVERSED: vocabulary.REVERSED,
}
SETTLEMENT_STATUS_ZH = {
    SettlementStatus.DRAFT: "草稿",
    SettlementStatus.APPROVED: "已批准待付款",
    SettlementStatus.PAID: "已付款",
}
ANOMALY_RULE_ZH = {
    AnomalyRule.RELATED_PARTY: "疑似关联交易",
    AnomalyRule.QUICK_REVERSAL: "核销后短期退款或作废（疑似套现）",
    AnomalyRule.VENDOR_CONCENTRATION: "单一服务商占比过高",
    AnomalyRule.SPLIT_INVOICES: "拆分账单规避单笔上限",
    AnomalyRule.NO_USAGE: "合同无使用记录",
    AnomalyRule.SUBSIDY_OVER_RATIO: "补贴超过符合条件金额的补贴比例",
}
ANOMALY_STATUS_ZH = {
    AnomalyStatus.OPEN: "待复核",
    AnomalyStatus.CLEARED: "已排除",
    AnomalyStatus.CONFIRMED: "已确认",
}

Kind = Literal["text", "yuan", "time", "date", "int"]


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = "text"
    width: int = 14


@dataclass
class Sheet:
    title: str  # also the file name's stem
    columns: list[Column]
    rows: list[list[object]]  # fen for "yuan" columns, aware datetimes for "time", dates


def _yuan(fen: int | None) -> Decimal | None:
    return None if fen is None else Money(fen).yuan


def _local(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(CHINA).replace(tzinfo=None)


def redemptions_sheet(session: Session, program: Program) -> Sheet:
    buyer, vendor = aliased(Organization), aliased(Organization)
    rows = session.execute(
        sa.select(Redemption, Voucher.code, buyer.name, buyer.uscc, vendor.name, _invoices.c.number)
        .join(Voucher, Voucher.id == Redemption.voucher_id)
        .join(buyer, buyer.id == Redemption.buyer_id)
        .join(vendor, vendor.id == Redemption.vendor_id)
        .outerjoin(_invoices, _invoices.c.id == Redemption.invoice_id)
        .where(Redemption.program_id == program.id)
        .order_by(Redemption.created_at, Redemption.id)
    )
    return Sheet(
        f"核销明细-{program.id}",
        [
            Column("核销编号", "int", 10),
            Column("核销时间", "time", 20),
            Column("券码", width=26),
            Column("企业名称", width=30),
            Column("统一社会信用代码", width=22),
            Column("服务商名称", width=30),
            Column("账单编号", width=18),
            Column(f"{vocabulary.ELIGIBLE_AMOUNT}（元）", "yuan"),
            Column("补贴金额（元）", "yuan"),
            Column("状态", width=10),
            Column("冲回时间", "time", 20),
            Column("冲回原因", width=10),
            Column("结算批次", "int", 10),
        ],
        [
            [
                r.id,
                r.created_at,
                code,
                buyer_name,
                buyer_uscc,
                vendor_name,
                number or str(r.invoice_id),
                r.eligible_fen,
                r.amount_fen,
                REDEMPTION_STATUS_ZH[r.status],
                r.reversed_at,
                {"void": "作废", "refund": "退款"}.get(r.reversal_reason, r.reversal_reason),
                r.settlement_id,
            ]
            for r, code, buyer_name, buyer_uscc, vendor_name, number in rows
        ],
    )


def settlements_sheet(session: Session, program: Program) -> Sheet:
    rows = session.execute(
        sa.select(Settlement, Organization.name, Organization.uscc)
        .join(Organization, Organization.id == Settlement.vendor_id)
        .where(Settlement.program_id == program.id)
        .order_by(Settlement.created_at, Settlement.id)
    ).all()
    held = settlement_conditions.holdbacks_of(session, [s.id for s, _n, _u in rows])
    return Sheet(
        f"结算批次-{program.id}",
        [
            Column("批次编号", "int", 10),
            Column("服务商名称", width=30),
            Column("统一社会信用代码", width=22),
            Column("结算期起", "date", 12),
            Column("结算期止（含）", "date", 12),
            Column("核销金额（元）", "yuan"),
            Column("追回金额（元）", "yuan"),
            Column("应付金额（元）", "yuan"),
            Column("状态", width=12),
            Column("批准时间", "time", 20),
            Column("付款时间", "time", 20),
            Column("银行流水号", width=24),
            Column("出资方分摊", width=40),
            Column("暂缓结算的核销", width=40),
        ],
        [
            [
                s.id,
                name,
                uscc,
                dates.first_day(s.period_start),
                dates.last_day(s.period_end),
                s.redeemed_fen,
                s.clawback_fen,
                s.total_fen,
                SETTLEMENT_STATUS_ZH[s.status],
                s.approved_at,
                s.paid_at,
                s.bank_reference or "",
                _funder_split(session, s),
                "；".join(
                    f"#{h.redemption_id}"
                    f" {'、'.join(settlement_conditions.REASONS_ZH.get(c, c) for c in h.reasons)}"
                    for h in held.get(s.id, [])
                ),
            ]
            for s, name, uscc in rows
        ],
    )


def _funder_split(session: Session, settlement: Settlement) -> str:
    """A co-funded batch's split, e.g. "上海市经信委 66.68；浦东新区科经委 66.66" (元)."""
    if not cofunding.funders_of(session, settlement.program):
        return ""
    shares = cofunding.settlement_shares(session, settlement)
    names = dict(
        session.execute(
            sa.select(Organization.id, Organization.name).where(Organization.id.in_(shares))
        ).all()
    )
    return "；".join(f"{names.get(o, o)} {_yuan(fen)}" for o, fen in shares.items())


def anomalies_sheet(session: Session, program: Program) -> Sheet:
    buyer, vendor = aliased(Organization), aliased(Organization)
    rows = session.execute(
        sa.select(Anomaly, buyer.name, vendor.name)
        .outerjoin(buyer, buyer.id == Anomaly.buyer_id)
        .outerjoin(vendor, vendor.id == Anomaly.vendor_id)
        .where(Anomaly.program_id == program.id)
        .order_by(Anomaly.detected_at, Anomaly.id)
    )
    return Sheet(
        f"异常线索-{program.id}",
        [
            Column("编号", "int", 8),
            Column("规则", width=30),
            Column("对象", width=36),
            Column("企业名称", width=30),
            Column("服务商名称", width=30),
            Column("涉及金额（元）", "yuan"),
            Column("发现时间", "time", 20),
            Column("状态", width=10),
            Column("复核意见", width=40),
            Column("复核时间", "time", 20),
        ],
        [
            [
                a.id,
                ANOMALY_RULE_ZH[a.rule],
                a.subject_key,
                buyer_name or "",
                vendor_name or "",
                a.amount_fen,
                a.detected_at,
                ANOMALY_STATUS_ZH[a.status],
                a.review_note,
                a.reviewed_at,
            ]
            for a, buyer_name, vendor_name in rows
        ],
    )


def audit_sheet(lines: list[AuditLine], title: str) -> Sheet:
    """The officer's filtered audit rows (described in Chinese by the caller)."""
    return Sheet(
        title,
        [
            Column("序号", "int", 10),
            Column("时间", "time", 20),
            Column("事件", width=24),
            Column("操作人", width=16),
            Column("操作单位", width=30),
            Column("对象", width=36),
            Column("所属项目", width=30),
            Column("金额（元）", "yuan"),
            Column("金额项", width=14),
            Column("其他金额", width=30),
            Column("说明", width=40),
            Column("事件代码", width=30),
            Column("哈希", width=66),
        ],
        [
            [
                line.id,
                line.at,
                line.event_name,
                line.person,
                line.organization,
                line.subject,
                line.program,
                line.amount.fen if line.amount else None,
                line.amount.label if line.amount else "",
                "；".join(a.text for a in line.amounts[1:]),
                "；".join(line.notes),
                line.event.action,
                line.event.hash,
            ]
            for line in lines
        ],
    )


def _cell(value: object, kind: Kind) -> object:
    if value is None:
        return None
    if kind == "yuan":
        assert isinstance(value, int)
        return _yuan(value)
    if kind == "time":
        assert isinstance(value, datetime)
        return _local(value)
    if kind == "date":
        assert isinstance(value, date) and not isinstance(value, datetime)
    return value


def _safe_text(value: str) -> str:
    """A spreadsheet runs text that starts like a formula; such text is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def to_csv(sheet: Sheet) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.header for column in sheet.columns])
    for row in sheet.rows:
        cells = []
        for value, column in zip(row, sheet.columns, strict=True):
            cell = _cell(value, column.kind)
            if cell is None:
                cells.append("")
            elif isinstance(cell, datetime):
                cells.append(cell.strftime("%Y-%m-%d %H:%M:%S"))
            elif isinstance(cell, date):
                cells.append(cell.isoformat())
            elif isinstance(cell, str):
                cells.append(_safe_text(cell))
            else:
                cells.append(str(cell))
        writer.writerow(cells)
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(sheet: Sheet) -> bytes:
    workbook = Workbook()
    worksheet = workbook.active
    assert worksheet is not None
    worksheet.title = sheet.title[:31]
    worksheet.append([column.header for column in sheet.columns])
    for cell in worksheet[1]:
        cell.font = Font(bold=True)
    for row in sheet.rows:
        worksheet.append(
            [
                _safe_text(c) if isinstance(c, str) else c
                for c in (_cell(v, col.kind) for v, col in zip(row, sheet.columns, strict=True))
            ]
        )
    for index, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(index)
        worksheet.column_dimensions[letter].width = column.width
        number_format = {"yuan": YUAN_FORMAT, "time": TIME_FORMAT, "date": DATE_FORMAT}.get(
            column.kind
        )
        if number_format:
            for (cell,) in worksheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
    worksheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
