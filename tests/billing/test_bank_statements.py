"""Bank statements the operator imports: credits naming an invoice's transfer reference are
booked on it (partial and over-payments as a recorded transfer), the rest waits in the queue
for a person, debits are ignored, and importing the same file again books nothing twice.
Files as banks export them: GBK or UTF-8 (BOM) CSV with account details above the header,
XLSX with numbers, thousands separators. A file that cannot be read changes nothing."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from sqlalchemy.orm import Session

from billing import bank_statements, ledger
from billing import invoices as invoice_rules
from billing.bank_statement_models import BankStatement, BankStatementLine, LineStatus
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment
from billing.statement_files import StatementFileError, read_statement
from devtools.demo.bank_statements import statement_csv
from marketplace.audit import AuditEvent
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.catalog.factories import operator_actor
from tests.factories import login
from tests.vouchers.factories import contract_between, invoice_for, sme_actor, vendor_actor


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def yuan(fen: int) -> str:
    """As a bank writes it: "1,234.50"."""
    return f"{fen // 100:,}.{fen % 100:02d}"


def two_invoices(session: Session) -> tuple[Actor, Invoice, Invoice]:
    buyer = sme_actor(session, name="恒丰精密制造有限公司")
    contract = contract_between(session, buyer, vendor_actor(session))
    return buyer, invoice_for(session, contract, 150_000), invoice_for(session, contract, 80_000)


def operator_in_english(session: Session) -> Actor:
    """The operator, reading the pages in English (the assertions quote English messages)."""
    operator = operator_actor(session)
    operator.user.locale = "en"
    session.flush()
    return operator


def upload(client: FlaskClient, data: bytes, name: str = "对账单.csv") -> Any:
    return client.post(
        "/billing/console/bank-statements",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def counts(session: Session) -> tuple[int, int, int, int]:
    return tuple(  # type: ignore[return-value]
        session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (BankStatement, BankStatementLine, Payment, AuditEvent)
    )


def lines_by_serial(session: Session) -> dict[str, BankStatementLine]:
    return {line.bank_serial: line for line in session.scalars(sa.select(BankStatementLine))}


def test_a_gbk_statement_books_matches_and_partials_and_queues_the_rest(
    client: FlaskClient, session: Session
) -> None:
    buyer, full, part = two_invoices(session)
    operator = operator_in_english(session)
    login(client, operator.user)
    day = "2026-12-01"
    data = statement_csv(
        [
            (
                day,
                "S1",
                buyer.organization.name,
                "3100158888",
                yuan(150_000),
                "",
                f"货款 {full.transfer_reference}",
            ),
            (
                day,
                "S2",
                buyer.organization.name,
                "3100158888",
                yuan(30_000),
                "",
                f"付 {part.number} 部分",
            ),
            (day, "S3", "上海某公司", "6222001", "2,000.00", "", "MKTINV2099999999"),
            (day, "S4", "中国银行", "", "", "12.50", "手续费"),
        ]
    )
    assert data.decode("gb18030").splitlines()[0].startswith("账号")  # header not on line 1
    response = upload(client, data)
    assert response.status_code == 303
    summary = page(client.get(response.headers["Location"]))
    assert 'data-matched="2"' in summary and 'data-partial-count="1"' in summary
    assert 'data-unmatched="1"' in summary and 'data-duplicates="0"' in summary

    session.expire_all()
    lines = lines_by_serial(session)
    assert lines["S1"].status is LineStatus.MATCHED and lines["S1"].due_after_fen == 0
    assert session.get(Invoice, full.id).status is InvoiceStatus.PAID
    assert lines["S2"].is_partial and lines["S2"].due_after_fen == 50_000
    partly = session.get(Invoice, part.id)
    assert partly.status is InvoiceStatus.OPEN and invoice_rules.amount_due(partly) == 50_000
    assert lines["S3"].status is LineStatus.UNMATCHED
    assert lines["S3"].reason == "unknown_reference"
    assert lines["S4"].status is LineStatus.IGNORED and not lines["S4"].is_credit
    # Booked by the transfer service: the bank's serial is the payment's reference.
    payment = session.get(Payment, lines["S2"].payment_id)
    assert payment.bank_reference == "S2" and payment.amount_fen == 30_000
    assert ledger.unbalanced_transactions(session) == []

    queue = page(client.get("/billing/console/bank-queue"))
    assert f'data-queue-line="{lines["S3"].id}"' in queue and "上海某公司" in queue
    assert f'data-queue-line="{lines["S1"].id}"' not in queue


def test_importing_the_same_statement_twice_books_nothing_twice(
    client: FlaskClient, session: Session
) -> None:
    buyer, full, part = two_invoices(session)
    login(client, operator_in_english(session).user)
    data = statement_csv(
        [
            (
                "2026-12-01",
                "",
                buyer.organization.name,
                "31",
                "1,500.00",
                "",
                full.transfer_reference,
            ),
            ("2026-12-01", "", "某公司", "62", "99.00", "", "无附言"),
            # Two equal transfers on one day without a serial stay two lines.
            (
                "2026-12-02",
                "",
                buyer.organization.name,
                "31",
                "100.00",
                "",
                part.transfer_reference,
            ),
            (
                "2026-12-02",
                "",
                buyer.organization.name,
                "31",
                "100.00",
                "",
                part.transfer_reference,
            ),
        ]
    )
    assert upload(client, data).status_code == 303
    session.expire_all()
    assert invoice_rules.amount_due(session.get(Invoice, part.id)) == 80_000 - 20_000
    (waiting,) = bank_statements.queue(session)
    # A person books the unmatched line by hand; it must not be booked again by a re-import.
    response = client.post(
        f"/billing/console/bank-lines/{waiting.id}/match", data={"invoice": part.number}
    )
    assert response.status_code == 303
    payments_before = session.scalar(sa.select(sa.func.count()).select_from(Payment))

    again = upload(client, data, "对账单(2).csv")
    assert again.status_code == 303
    summary = page(client.get(again.headers["Location"]))
    assert 'data-duplicates="4"' in summary and 'data-matched="0"' in summary
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == payments_before
    assert session.scalar(sa.select(sa.func.count()).select_from(BankStatementLine)) == 4
    assert invoice_rules.amount_due(session.get(Invoice, part.id)) == 80_000 - 20_000 - 9_900
    assert ledger.unbalanced_transactions(session) == []


def test_an_xlsx_statement_with_a_signed_amount_column_parses_and_matches(
    client: FlaskClient, session: Session
) -> None:
    buyer, full, _part = two_invoices(session)
    login(client, operator_in_english(session).user)
    book = Workbook()
    sheet = book.active
    sheet.append(["中国工商银行 账户明细"])
    sheet.append(["账号", "1001 2345 6789"])
    sheet.append([])
    sheet.append(["交易时间", "对方户名", "对方账号", "交易金额(元)", "借贷标志", "附言"])
    sheet.append(
        [
            datetime(2026, 12, 3, 10, 15),
            buyer.organization.name,
            "6222021234567890123",  # banks export account numbers as text
            1500.0,
            "贷",
            f"{full.transfer_reference}",
        ]
    )
    sheet.append(["2026/12/03", "供应商", "", 300.5, "借", "采购"])
    sheet.append(["合计", None, None, 1800.5, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    rows = read_statement(buffer.getvalue())
    assert [(r.booked_on, r.is_credit, r.amount_fen) for r in rows] == [
        (date(2026, 12, 3), True, 150_000),
        (date(2026, 12, 3), False, 30_050),
    ]
    assert rows[0].counterparty_account == "6222021234567890123"
    assert upload(client, buffer.getvalue(), "明细.xlsx").status_code == 303
    session.expire_all()
    assert session.get(Invoice, full.id).status is InvoiceStatus.PAID


def test_a_utf8_bom_csv_with_credit_and_debit_columns_parses() -> None:
    text = (
        "\ufeff客户账号,9558\n\n"
        "记账日期,对方账户名称,对方账户,借方发生额,贷方发生额,摘要,用途\n"
        '20261205,甲公司,123,,"12,345.67",转账,MKTINV2026000001\n'
        "20261205,乙公司,456,88.00,,代发,\n"
    )
    rows = read_statement(text.encode("utf-8"))
    assert [(r.is_credit, r.amount_fen) for r in rows] == [(True, 1_234_567), (False, 8_800)]
    assert rows[0].memo == "转账 MKTINV2026000001" and rows[0].position == 4
    assert bank_statements.references_in(rows[0].memo) == ["INV-2026-000001"]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "Only XLSX and CSV"),
        ("名称,值\n甲,1\n".encode(), "No header row"),
        ("交易日期,对方户名,金额,摘要\n2026-12-01,甲,12x.00,MKT\n".encode(), "Row 2"),
        ("交易日期,对方户名,金额,摘要\n2026-13-45,甲,12.00,MKT\n".encode(), "Row 2"),
        (b"PK\x03\x04not a zip", "Only XLSX and CSV"),
        (b"", "Choose a statement file"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_and_changes_nothing(
    client: FlaskClient, session: Session, data: bytes, words: str
) -> None:
    buyer, full, _part = two_invoices(session)
    login(client, operator_in_english(session).user)
    before = counts(session)
    # A good line before the bad one: nothing of a half-read file is booked.
    if data.startswith("交易日期".encode()):
        good = f"2026-12-01,{buyer.organization.name},1500.00,{full.transfer_reference}\n"
        head, _, rest = data.decode().partition("\n")
        data = f"{head}\n{good}{rest}".encode()
        words = "Row 3"
    response = upload(client, data)
    assert response.status_code == 400
    assert words in page(response)
    session.expire_all()
    assert counts(session) == before
    assert session.get(Invoice, full.id).status is InvoiceStatus.OPEN


def test_the_queue_matches_by_hand_or_dismisses_with_a_memo_once(
    client: FlaskClient, session: Session
) -> None:
    _buyer, full, _part = two_invoices(session)
    operator = operator_in_english(session)
    login(client, operator.user)
    data = statement_csv(
        [
            ("2026-12-01", "Q1", "张三", "62", "1,500.00", "", "货款"),
            ("2026-12-01", "Q2", "张三", "62", "800.00", "", "货款 再付"),
            ("2026-12-01", "Q3", "某个人", "62", "5.00", "", "退回"),
        ]
    )
    upload(client, data)
    lines = lines_by_serial(session)
    # Paid by a person, not the buyer, with no reference: nothing to match it by.
    assert lines["Q1"].status is LineStatus.UNMATCHED
    assert lines["Q1"].reason == "unknown_reference"
    match = f"/billing/console/bank-lines/{lines['Q1'].id}/match"
    unknown = client.post(match, data={"invoice": "INV-2099-000001"})
    assert unknown.status_code == 422 and 'data-field="invoice"' in page(unknown)
    assert client.post(match, data={"invoice": full.transfer_reference}).status_code == 303
    twice = client.post(match, data={"invoice": full.transfer_reference})
    assert twice.status_code == 422 and "matched or dismissed already" in page(twice)
    session.expire_all()
    assert session.get(Invoice, full.id).status is InvoiceStatus.PAID
    # The invoice is paid: the second line cannot be booked on it.
    refused = client.post(
        f"/billing/console/bank-lines/{lines['Q2'].id}/match", data={"invoice": full.number}
    )
    assert refused.status_code == 422

    dismiss = f"/billing/console/bank-lines/{lines['Q3'].id}/dismiss"
    assert client.post(dismiss, data={"note": ""}).status_code == 422
    assert client.post(dismiss, data={"note": "员工报销退回"}).status_code == 303
    session.expire_all()
    line = session.get(BankStatementLine, lines["Q3"].id)
    assert line.status is LineStatus.DISMISSED and line.note == "员工报销退回"
    assert line.decided_by_id == operator.user.id
    actions = set(session.scalars(sa.select(AuditEvent.action)))
    assert {"bank_statement.imported", "bank_line.matched", "bank_line.dismissed"} <= actions
    assert ledger.unbalanced_transactions(session) == []


def test_a_transfer_recorded_by_hand_under_the_serial_is_linked_not_booked_again(
    session: Session,
) -> None:
    from billing.payments import bank_transfers

    buyer, full, _part = two_invoices(session)
    operator = operator_actor(session)
    bank_transfers.record_bank_transfer(
        session, full, amount_fen=150_000, reference="ICBC-77", actor=operator, now=utcnow()
    )
    data = statement_csv(
        [
            (
                "2026-12-01",
                "ICBC-77",
                buyer.organization.name,
                "31",
                "1,500.00",
                "",
                full.transfer_reference,
            )
        ]
    )
    result = bank_statements.import_statement(
        session, data=data, filename="s.csv", actor=operator, now=utcnow()
    )
    (line,) = result.lines
    # The invoice is paid, so the line waits; it books nothing.
    assert line.status is LineStatus.UNMATCHED and line.reason == "invoice_not_open"
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 1


def test_without_a_reference_one_open_invoice_of_the_payer_owing_the_amount_is_taken(
    session: Session,
) -> None:
    buyer, full, part = two_invoices(session)
    operator = operator_actor(session)
    name = buyer.organization.name
    data = statement_csv(
        [
            ("2026-12-01", "N1", name, "31", "800.00", "", "货款"),
            ("2026-12-01", "N2", name, "31", "1,234.00", "", "货款"),
        ]
    )
    result = bank_statements.import_statement(
        session, data=data, filename="s.csv", actor=operator, now=utcnow()
    )
    exact, other = result.lines
    assert exact.status is LineStatus.MATCHED and exact.invoice_id == part.id
    assert other.status is LineStatus.UNMATCHED and other.reason == "unknown_reference"
    # Two open invoices owing the same amount: a person decides.
    twin = invoice_for(session, full.contract, 150_000)
    assert twin.id != full.id
    data = statement_csv([("2026-12-02", "N3", name, "31", "1,500.00", "", "")])
    (line,) = bank_statements.import_statement(
        session, data=data, filename="t.csv", actor=operator, now=utcnow()
    ).lines
    assert line.status is LineStatus.UNMATCHED and line.reason == "ambiguous"


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=10**12), st.booleans())
def test_amounts_with_thousands_separators_are_exact_to_the_fen(fen: int, credit: bool) -> None:
    amount = f"{fen // 100:,}.{fen % 100:02d}"
    columns = f'"{amount}",' if credit else f',"{amount}"'
    text = f"交易日期,对方户名,贷方金额,借方金额\n2026-12-01,甲,{columns}\n"
    (row,) = read_statement(text.encode("gb18030"))
    assert (row.amount_fen, row.is_credit) == (fen, credit)
    assert Decimal(amount.replace(",", "")) * 100 == fen


def test_only_the_operator_imports(session: Session) -> None:
    buyer = sme_actor(session)
    with pytest.raises(Exception) as refused:
        bank_statements.import_statement(
            session, data=statement_csv([]), filename="x.csv", actor=buyer, now=utcnow()
        )
    assert getattr(refused.value, "status", None) == 403
    assert not isinstance(refused.value, StatementFileError)


def test_the_api_imports_a_statement_once_and_refuses_a_bad_file_with_400(
    client: FlaskClient, session: Session
) -> None:
    from tests.factories import create_token

    buyer, full, part = two_invoices(session)
    operator = operator_actor(session)
    headers = {
        "Authorization": f"Bearer {create_token(session, operator.user, operator.organization)}"
    }
    name = buyer.organization.name
    data = statement_csv(
        [
            ("2026-12-01", "A1", name, "31", "1,500.00", "", full.transfer_reference),
            ("2026-12-01", "A2", name, "31", "300.00", "", part.transfer_reference),
            ("2026-12-01", "A3", "某人", "62", "1.00", "", "?"),
        ]
    )

    def post(body: bytes) -> Any:
        return client.post(
            "/api/v1/bank-statements",
            headers=headers,
            data={"file": (io.BytesIO(body), "s.csv")},
            content_type="multipart/form-data",
        )

    first = post(data)
    assert first.status_code == 201, first.json
    answer = first.json
    assert (answer["matched"], answer["matched_fen"], answer["partial"]) == (2, 180_000, 1)
    assert (answer["unmatched"], answer["duplicates"]) == (1, 0)
    assert [line["status"] for line in answer["lines"]] == ["matched", "matched", "unmatched"]
    assert answer["lines"][1]["due_after_fen"] == 50_000
    again = post(data).json
    assert (again["matched"], again["duplicates"], again["lines"]) == (0, 3, [])
    bad = post(b"\x00\x01 not a statement")
    assert bad.status_code == 400 and bad.json["error"]["code"] == "bad_statement"
    assert "file" in bad.json["error"]["fields"]
    assert session.scalar(sa.select(sa.func.count()).select_from(BankStatement)) == 2
