"""Bank statements matched by themselves, and the queue of what a person must decide.

The operator uploads the bank's statement (billing/statement_files.py reads it). Each line
is stored once: its fingerprint (date, account, amount, memo, bank serial and which repeat
it is) is unique, so importing the same statement twice, or two overlapping ones, books
nothing twice; the repeats are counted as duplicates.

A credit is matched to an invoice by the transfer reference the buyer wrote in the remark
("MKTINV2026000012", or the invoice number). With no reference, a single open invoice of
the paying company (对方户名 = the buyer's name) owing exactly the amount is taken. It is
booked by ``bank_transfers.record_bank_transfer`` - the one owner of a received transfer, which
keeps partial and over-payments as they are and writes the ledger and the audit - under
the bank's serial as the payment's reference. A transfer recorded by hand earlier under that
serial is linked, not booked again. What cannot be matched (no or an unknown reference,
references to several invoices or several candidates, an invoice that is no longer open)
waits as ``unmatched`` until a person matches it to an invoice or dismisses it with a
memo; a line is claimed by a conditional update first, so two people cannot book it twice.
Debits (money paid out) are kept as ``ignored``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import invoices as invoice_rules
from billing.bank_statement_models import BankStatement, BankStatementLine, LineStatus
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from billing.payment_models import Payment, PaymentMethodKind
from billing.payments import bank_transfers
from billing.statement_files import StatementRow, fingerprints, read_statement
from marketplace import audit
from marketplace.db import rows_changed
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind
from marketplace.states import transition

OPEN = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
# "MKTINV2026000012", "MKT INV-2026-000012", "INV-2026-000012" -> ("2026", "000012")
REFERENCE = re.compile(r"(?:MKT[\s_-]*)?INV[\s_-]*(\d{4})[\s_-]*(\d{6,9})(?!\d)")

REASON_LABELS = {
    "unknown_reference": _l("No known invoice reference in the remark"),
    "ambiguous": _l("Could be more than one invoice"),
    "invoice_not_open": _l("The invoice is no longer open"),
    "refused": _l("The transfer could not be booked"),
}


@dataclass
class ImportResult:
    statement: BankStatement
    lines: list[BankStatementLine] = field(default_factory=list)
    duplicates: int = 0


@dataclass(frozen=True)
class Summary:
    matched: int
    matched_fen: int
    partial: int
    overpaid: int
    unmatched: int
    unmatched_fen: int
    dismissed: int
    ignored: int
    duplicates: int


def _require_operator(actor: Actor) -> None:
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator imports bank statements."))


def references_in(memo: str) -> list[str]:
    """Invoice numbers the remark names, in order, each once."""
    text = unicodedata.normalize("NFKC", memo).upper()
    numbers = [f"INV-{year}-{serial}" for year, serial in REFERENCE.findall(text)]
    return list(dict.fromkeys(numbers))


def summarize(statement: BankStatement) -> Summary:
    lines = statement.lines
    matched = [line for line in lines if line.status is LineStatus.MATCHED]
    unmatched = [line for line in lines if line.status is LineStatus.UNMATCHED]
    return Summary(
        matched=len(matched),
        matched_fen=sum(line.amount_fen for line in matched),
        partial=sum(1 for line in matched if line.is_partial),
        overpaid=sum(1 for line in matched if (line.due_after_fen or 0) < 0),
        unmatched=len(unmatched),
        unmatched_fen=sum(line.amount_fen for line in unmatched),
        dismissed=sum(1 for line in lines if line.status is LineStatus.DISMISSED),
        ignored=sum(1 for line in lines if line.status is LineStatus.IGNORED),
        duplicates=statement.duplicate_count,
    )


# --- import ------------------------------------------------------------------------------------


def import_statement(
    session: Session, *, data: bytes, filename: str, actor: Actor, now: datetime
) -> ImportResult:
    """Read the file (refused whole, with nothing stored, when it cannot be read), store its
    new lines and match their credits."""
    _require_operator(actor)
    rows = read_statement(data)
    prints = fingerprints(rows)
    known = _known_fingerprints(session, prints)
    statement = BankStatement(
        filename=(filename or "statement").rsplit("/", 1)[-1][:200],
        file_sha256=hashlib.sha256(data).hexdigest(),
        uploaded_by_id=actor.user.id,
        uploaded_at=now,
    )
    session.add(statement)
    session.flush()
    result = ImportResult(statement)
    for row, fingerprint in zip(rows, prints, strict=True):
        if fingerprint in known:
            result.duplicates += 1
            continue
        line = _store_line(session, statement, row, fingerprint)
        if line is None:  # imported at the same moment by another request
            result.duplicates += 1
            continue
        known.add(fingerprint)
        result.lines.append(line)
        if line.is_credit:
            _match(session, line, actor=actor, now=now)
    statement.duplicate_count = result.duplicates
    session.flush()
    counts = summarize_lines(result.lines)
    audit.record(
        session,
        "bank_statement.imported",
        "bank_statement",
        statement.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"filename": statement.filename, "duplicates": result.duplicates, **counts},
    )
    return result


def summarize_lines(lines: list[BankStatementLine]) -> dict[str, int]:
    return {
        status.value: sum(1 for line in lines if line.status is status) for status in LineStatus
    }


def _known_fingerprints(session: Session, prints: list[str]) -> set[str]:
    known: set[str] = set()
    for start in range(0, len(prints), 500):
        chunk = prints[start : start + 500]
        known.update(
            session.scalars(
                sa.select(BankStatementLine.fingerprint).where(
                    BankStatementLine.fingerprint.in_(chunk)
                )
            )
        )
    return known


def _store_line(
    session: Session, statement: BankStatement, row: StatementRow, fingerprint: str
) -> BankStatementLine | None:
    line = BankStatementLine(
        statement_id=statement.id,
        position=row.position,
        fingerprint=fingerprint,
        booked_on=row.booked_on,
        is_credit=row.is_credit,
        amount_fen=row.amount_fen,
        counterparty_name=row.counterparty_name,
        counterparty_account=row.counterparty_account,
        memo=row.memo,
        bank_serial=row.bank_serial,
        status=LineStatus.UNMATCHED if row.is_credit else LineStatus.IGNORED,
    )
    try:
        with session.begin_nested():
            session.add(line)
            session.flush()
    except IntegrityError:
        return None
    return line


def _match(session: Session, line: BankStatementLine, *, actor: Actor, now: datetime) -> None:
    numbers = references_in(line.memo)
    if numbers:
        found = list(session.scalars(sa.select(Invoice).where(Invoice.number.in_(numbers))))
        if len(found) > 1:
            line.reason = "ambiguous"
            return
        if not found:
            line.reason = "unknown_reference"
            return
        invoice = found[0]
    else:
        candidates = _same_payer_same_amount(session, line)
        if len(candidates) != 1:
            line.reason = "ambiguous" if candidates else "unknown_reference"
            return
        invoice = candidates[0]
    line.invoice_id = invoice.id
    if invoice.status not in OPEN:
        line.reason = "invoice_not_open"
        return
    try:
        _book(session, line, invoice, actor=actor, now=now)
    except DomainError:
        line.reason = "refused"


def _same_payer_same_amount(session: Session, line: BankStatementLine) -> list[Invoice]:
    if not line.counterparty_name:
        return []
    owed = session.scalars(
        sa.select(Invoice)
        .join(Organization, Organization.id == Invoice.buyer_id)
        .where(
            Organization.name == line.counterparty_name,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status.in_(OPEN),
        )
        .order_by(Invoice.id)
        .limit(50)
    )
    return [i for i in owed if invoice_rules.amount_due(i) == line.amount_fen]


def payment_reference(line: BankStatementLine) -> str:
    """The payment's bank reference: the bank's serial, else one made of the fingerprint."""
    return line.bank_serial or f"STMT-{line.fingerprint[:20]}"


def _book(
    session: Session,
    line: BankStatementLine,
    invoice: Invoice,
    *,
    actor: Actor,
    now: datetime,
    audited: dict[str, object] | None = None,
) -> None:
    """Book the line on the invoice through the transfer service, or link the payment
    recorded by hand under the same bank reference. Raises DomainError when refused.
    ``audited``: the audit row's data when a person matched it (None: the import did)."""
    reference = payment_reference(line)
    recorded = session.scalar(
        sa.select(Payment).where(
            Payment.method == PaymentMethodKind.BANK_TRANSFER,
            Payment.bank_reference == reference,
        )
    )
    if recorded is None:
        with session.begin_nested():
            recorded = bank_transfers.record_bank_transfer(
                session,
                invoice,
                amount_fen=line.amount_fen,
                reference=reference,
                actor=actor,
                now=now,
            )
        session.refresh(invoice, ["payments"])
    else:
        invoice = recorded.invoice
    line.reason = ""
    line.invoice_id = invoice.id
    line.payment_id = recorded.id
    line.due_after_fen = invoice_rules.amount_due(invoice)
    transition(
        line, LineStatus.MATCHED, actor, now=now, data=audited, audit_row=audited is not None
    )
    session.flush()


# --- the queue ---------------------------------------------------------------------------------


def queue(session: Session) -> list[BankStatementLine]:
    return list(
        session.scalars(
            sa.select(BankStatementLine)
            .where(BankStatementLine.status == LineStatus.UNMATCHED)
            .order_by(BankStatementLine.booked_on, BankStatementLine.id)
        )
    )


def find_invoice(session: Session, text: str) -> Invoice | None:
    """The invoice a person named by its number or transfer reference."""
    numbers = references_in(text)
    if len(numbers) != 1:
        return None
    return session.scalar(sa.select(Invoice).where(Invoice.number == numbers[0]))


def _claim(session: Session, line: BankStatementLine, actor: Actor, now: datetime) -> None:
    """Take the line for this person's decision, or Conflict when someone decided it first
    (the line keeps its status until the decision moves it)."""
    claimed = rows_changed(
        session,
        sa.update(BankStatementLine)
        .where(
            BankStatementLine.id == line.id,
            BankStatementLine.status == LineStatus.UNMATCHED,
            BankStatementLine.decided_at.is_(None),
        )
        .values(decided_by_id=actor.user.id, decided_at=now)
        .execution_options(synchronize_session=False),
    )
    if not claimed:
        session.refresh(line)
        raise Conflict(_l("This line was matched or dismissed already."))
    session.refresh(line)


def match_by_hand(
    session: Session,
    line: BankStatementLine,
    invoice: Invoice | None,
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
) -> BankStatementLine:
    """A person matches a waiting line to an invoice; it is booked like any transfer."""
    _require_operator(actor)
    if line.status is not LineStatus.UNMATCHED:
        raise Conflict(_l("This line was matched or dismissed already."))
    if invoice is None:
        raise DomainError(_l("No invoice with this number or transfer reference."), field="invoice")
    if invoice.status not in OPEN:
        raise Conflict(_l("This invoice is not open for payment."), field="invoice")
    _claim(session, line, actor, now)
    line.note = (note or "").strip()[:500]
    audited = {"invoice_id": invoice.id, "amount_fen": line.amount_fen, "note": line.note}
    _book(session, line, invoice, actor=actor, now=now, audited=audited)
    return line


def dismiss(
    session: Session, line: BankStatementLine, *, actor: Actor, now: datetime, note: str
) -> BankStatementLine:
    """A person decides a waiting line is not a buyer's payment (say so in the memo)."""
    _require_operator(actor)
    note = note.strip()
    if not note:
        raise DomainError(_l("Say why the line is dismissed."), field="note")
    _claim(session, line, actor, now)
    line.note = note[:500]
    transition(
        line,
        LineStatus.DISMISSED,
        actor,
        now=now,
        data={"amount_fen": line.amount_fen, "note": line.note},
    )
    return line
