"""Demo: a bank statement the operator imported. One credit names an open invoice of the
demo buyer and is booked on it; one carries no reference and waits in the queue; a debit
is ignored. (An invoice number the demo does not have stays unmatched, too.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import bank_statements
from billing import invoices as invoice_rules
from billing.bank_statement_models import BankStatement
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from marketplace.dates import CHINA
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from marketplace.models import Organization, Role, User


def statement_csv(rows: list[tuple[str, ...]]) -> bytes:
    """A statement as a Chinese bank exports it: account details first, then the table."""
    lines = [
        "账号:,31050161373600001234,,,,,",
        "户名:,小快轻准解决方案平台,,,,,",
        ",,,,,,",
        "交易日期,交易流水号,对方户名,对方账号,贷方金额,借方金额,摘要",
        *(",".join(f'"{cell}"' for cell in row) for row in rows),
        "合计,,,,,,",
    ]
    return ("\n".join(lines) + "\n").encode("gb18030")


def load(
    session: Session, *, orgs: dict[str, Organization], users: dict[str, User], **_: Any
) -> dict[str, Any]:
    if session.scalar(sa.select(BankStatement.id).limit(1)) is not None:
        return {}
    buyer_org = orgs["sme"]
    invoice = session.scalar(
        sa.select(Invoice)
        .where(
            Invoice.buyer_id == buyer_org.id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status == InvoiceStatus.OPEN,
            Invoice.total_fen > 100,
        )
        .order_by(Invoice.id)
        .limit(1)
    )
    now = utcnow()
    day = (now - timedelta(days=1)).astimezone(CHINA).date().isoformat()
    rows: list[tuple[str, ...]] = [
        (
            day,
            "DEMO-STMT-9001",
            "上海某物业管理有限公司",
            "6222000011112222",
            "3,000.00",
            "",
            "服务费",
        ),
        (day, "DEMO-STMT-9002", "中国工商银行", "", "", "120.00", "银行手续费"),
    ]
    due = invoice_rules.amount_due(invoice) if invoice is not None else 0
    if invoice is not None and due > 1:
        part = due // 2  # a partial payment: the rest stays due
        rows.insert(
            0,
            (
                day,
                "DEMO-STMT-9000",
                buyer_org.name,
                "31001588888800005678",
                f"{part // 100:,}.{part % 100:02d}",
                "",
                f"货款 {invoice.transfer_reference}",
            ),
        )
    operator = Actor(users["operator@demo.local"], orgs["platform"], Role.OWNER)
    bank_statements.import_statement(
        session,
        data=statement_csv(rows),
        filename="对账单-演示.csv",
        actor=operator,
        now=now,
    )
    return {}
