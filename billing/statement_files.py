"""Reading a bank statement file as Chinese banks export it, before anything is stored.

Accepted: XLSX (the first sheet that has a header row) and CSV in UTF-8 (with or without a
BOM) or GBK/GB18030. Banks put the account's details above the table, so the header row is
the first of the first 30 rows naming a date column and an amount column (交易日期 and 金额,
or 贷方金额/借方金额). Columns are found by their names (synonyms below), in any order.
A credit is money received: a positive 贷方金额, or a positive 金额 (or one whose 借贷 column
says 贷); a debit (money paid out) is kept only to be listed as ignored. Amounts may carry
thousands separators ("1,234.50") and are read with ``Decimal``, never through a float.
Rows with no date (blank rows, 合计 footers) are skipped; any other row that cannot be read
refuses the whole file with the row's number, so nothing of a half-read file is booked.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from marketplace.errors import DomainError
from marketplace.money import MAX_FEN, MoneyParseError, parse_yuan

MAX_BYTES = 5 * 1024 * 1024
MAX_LINES = 5000
HEADER_SEARCH_ROWS = 30

# Column names as banks write them (compared after removing spaces and a "(元)" suffix).
COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("交易日期", "交易时间", "记账日期", "入账日期", "交易日", "日期"),
    "name": ("对方户名", "对方账户名称", "对方账户名", "对方名称", "对方单位", "收/付方名称"),
    "account": ("对方账号", "对方账户", "对方账户账号", "收/付方账号"),
    "amount": ("金额", "交易金额", "发生额"),
    "credit": ("贷方金额", "贷方发生额", "收入金额", "收入"),
    "debit": ("借方金额", "借方发生额", "支出金额", "支出"),
    "direction": ("借贷方向", "借贷标志", "借贷", "收支方向"),
    "memo": ("摘要", "附言", "用途", "备注", "交易附言", "交易摘要"),
    "serial": ("交易流水号", "银行流水号", "流水号", "交易序号", "凭证号"),
}
FOOTER = re.compile(r"^(本页)?(合计|总计|小计)")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")


class StatementFileError(DomainError):
    """The file cannot be read as a statement; nothing was imported."""

    status = 400
    code = "bad_statement"

    def __init__(self, message: Any) -> None:
        super().__init__(message, field="file")


@dataclass(frozen=True)
class StatementRow:
    position: int  # row number in the file, 1-based
    booked_on: date
    is_credit: bool
    amount_fen: int  # > 0 either way
    counterparty_name: str
    counterparty_account: str
    memo: str
    bank_serial: str

    def key(self) -> str:
        """What identifies this bank line, whichever file it comes in."""
        memo = re.sub(r"\s+", "", self.memo)
        parts = [
            self.booked_on.isoformat(),
            self.counterparty_account.replace(" ", ""),
            "C" if self.is_credit else "D",
            str(self.amount_fen),
            memo,
            self.bank_serial,
        ]
        return "|".join(parts)


def fingerprints(rows: list[StatementRow]) -> list[str]:
    """One fingerprint per row: its key plus which repeat of that key in the file it is, so
    two equal transfers on one day stay two lines and a re-import finds both again."""
    seen: dict[str, int] = {}
    result = []
    for row in rows:
        key = row.key()
        seen[key] = seen.get(key, 0) + 1
        result.append(hashlib.sha256(f"{key}#{seen[key]}".encode()).hexdigest())
    return result


def read_statement(data: bytes) -> list[StatementRow]:
    """The file's lines, credits and debits, or StatementFileError saying what is wrong."""
    if not data:
        raise StatementFileError(_l("Choose a statement file."))
    if len(data) > MAX_BYTES:
        raise StatementFileError(_l("The statement file is larger than 5 MB."))
    table = _xlsx_rows(data) if data.startswith(b"PK\x03\x04") else _csv_rows(data)
    rows = _read_table(table)
    if len(rows) > MAX_LINES:
        raise StatementFileError(
            _l("A statement may have at most %(count)d lines.", count=MAX_LINES)
        )
    return rows


def _csv_rows(data: bytes) -> list[list[Any]]:
    if b"\x00" in data:
        raise StatementFileError(_l("Only XLSX and CSV statement files are accepted."))
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise StatementFileError(_l("The CSV file is neither UTF-8 nor GBK text."))
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as error:
        raise StatementFileError(
            _l("The CSV file cannot be read: %(error)s", error=str(error))
        ) from None


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise StatementFileError(_l("Only XLSX and CSV statement files are accepted.")) from None
    try:
        for sheet in workbook.worksheets:
            rows = [list(row) for row in sheet.iter_rows(values_only=True)]
            if _header_index(rows) is not None:
                return rows
            if len(rows) > MAX_LINES + HEADER_SEARCH_ROWS:
                break
        return []
    finally:
        workbook.close()


def _name(cell: Any) -> str:
    text = unicodedata.normalize("NFKC", str(cell or ""))
    text = re.sub(r"\s+", "", text)
    return re.sub(r"[(（][^)）]*[)）]$", "", text)  # "金额(元)", "贷方金额（人民币）"


def _columns(header: list[Any]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    names = [_name(cell) for cell in header]
    for field, synonyms in COLUMNS.items():
        for synonym in synonyms:  # the most specific name first
            hits = [i for i, name in enumerate(names) if name == synonym]
            if hits:
                if field == "memo":
                    found.setdefault(field, []).extend(i for i in hits if i not in found[field])
                    continue
                found[field] = hits[:1]
                break
    return found


def _header_index(table: list[list[Any]]) -> int | None:
    for index, row in enumerate(table[:HEADER_SEARCH_ROWS]):
        columns = _columns(row)
        if "date" in columns and ("amount" in columns or "credit" in columns):
            return index
    return None


def _read_table(table: list[list[Any]]) -> list[StatementRow]:
    header_at = _header_index(table)
    if header_at is None:
        raise StatementFileError(
            _l(
                "No header row found: the statement needs a 交易日期 column and a 金额 "
                "(or 贷方金额/借方金额) column within its first 30 rows."
            )
        )
    columns = _columns(table[header_at])
    rows = []
    for offset, cells in enumerate(table[header_at + 1 :], start=header_at + 2):
        row = _read_row(cells, columns, offset)
        if row is not None:
            rows.append(row)
    return rows


def _cell(cells: list[Any], columns: dict[str, list[int]], field: str) -> Any:
    indexes = columns.get(field, [])
    if not indexes:
        return None
    return cells[indexes[0]] if indexes[0] < len(cells) else None


def _text(value: Any, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # an account number XLSX made a number
        value = int(value)
    return re.sub(r"\s+", " ", str(value)).strip()[:limit]


def _read_row(cells: list[Any], columns: dict[str, list[int]], number: int) -> StatementRow | None:
    if not any(_text(cell, 50) for cell in cells):
        return None
    first = next(_text(cell, 50) for cell in cells if _text(cell, 50))
    raw_date = _cell(cells, columns, "date")
    if FOOTER.match(first) or not _text(raw_date, 50):
        return None
    booked_on = _date(raw_date, number)
    is_credit, amount_fen = _amount(cells, columns, number)
    if amount_fen == 0:
        return None  # a zero line (an interest notice, a balance row) moves no money
    memo = " ".join(
        _text(cells[i], 250) for i in columns.get("memo", []) if i < len(cells) and cells[i]
    )
    return StatementRow(
        position=number,
        booked_on=booked_on,
        is_credit=is_credit,
        amount_fen=amount_fen,
        counterparty_name=_text(_cell(cells, columns, "name"), 200),
        counterparty_account=_text(_cell(cells, columns, "account"), 60),
        memo=memo[:500],
        bank_serial=_text(_cell(cells, columns, "serial"), 100),
    )


def _date(value: Any, number: int) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = unicodedata.normalize("NFKC", str(value)).strip()
    day = re.split(r"[\sT]", text)[0]
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(day, pattern).date()
        except ValueError:
            continue
    raise StatementFileError(
        _l("Row %(row)d: %(value)s is not a date.", row=number, value=text[:40])
    )


def _fen(value: Any, number: int) -> int | None:
    """Signed fen of an amount cell; None when the cell is empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise StatementFileError(_l("Row %(row)d: the amount is not a number.", row=number))
    if isinstance(value, int | float):
        # XLSX numbers come as floats; their shortest repr ("1234.5") is the typed decimal.
        try:
            value = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except InvalidOperation:
            raise StatementFileError(
                _l("Row %(row)d: the amount is not a number.", row=number)
            ) from None
        text = format(value, "f")
    else:
        text = str(value).strip()
    if not text or text in ("-", "--"):
        return None
    try:
        return parse_yuan(text, allow_negative=True, max_fen=MAX_FEN).fen
    except MoneyParseError:
        raise StatementFileError(
            _l("Row %(row)d: %(value)s is not an amount in yuan.", row=number, value=text[:40])
        ) from None


def _amount(cells: list[Any], columns: dict[str, list[int]], number: int) -> tuple[bool, int]:
    """(is credit, fen > 0) of the row."""
    if "credit" in columns or "debit" in columns:
        credit = _fen(_cell(cells, columns, "credit"), number) or 0
        debit = _fen(_cell(cells, columns, "debit"), number) or 0
        if credit and debit:
            raise StatementFileError(
                _l("Row %(row)d has both a credit and a debit amount.", row=number)
            )
        if credit:
            return credit > 0, abs(credit)
        return debit < 0, abs(debit)
    fen = _fen(_cell(cells, columns, "amount"), number) or 0
    direction = _text(_cell(cells, columns, "direction"), 10)
    if direction.startswith(("贷", "收", "C", "c")):
        return True, abs(fen)
    if direction.startswith(("借", "支", "付", "D", "d")):
        return False, abs(fen)
    return fen > 0, abs(fen)
