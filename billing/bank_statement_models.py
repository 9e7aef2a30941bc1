"""Bank statements the operator imports, and their lines. billing/bank_statements.py holds
the rules (matching, the queue); billing/statement_files.py reads the files."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Invoice
from billing.payment_models import Payment
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.states import Transitions


class LineStatus(LabeledEnum):
    MATCHED = "matched", _l("Matched")  # booked on an invoice (or found booked already)
    UNMATCHED = "unmatched", _l("Waiting for a person")  # waits in the queue for a person
    DISMISSED = "dismissed", _l("Dismissed")  # a person decided it is not a buyer's payment
    IGNORED = "ignored", _l("Ignored (debit)")  # a debit: money going out, nothing to match


# Decided once. A person's decision is audited ("bank_line.matched", "bank_line.dismissed");
# a line the import matched by itself is counted in the import's own audit row.
LINE_TRANSITIONS = Transitions(
    LineStatus,
    {
        LineStatus.UNMATCHED: {LineStatus.MATCHED, LineStatus.DISMISSED},
        LineStatus.MATCHED: set(),
        LineStatus.DISMISSED: set(),
        LineStatus.IGNORED: set(),
    },
    subject="bank_statement_line",
    prefix="bank_line",
)


class BankStatement(Base):
    """One upload of a statement file. Importing the same file again makes another row
    whose lines are all duplicates (counted, not stored)."""

    __tablename__ = "bank_statements"
    __table_args__ = (sa.CheckConstraint("duplicate_count >= 0", name="duplicates_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(sa.String(200))
    file_sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    # Lines of the file already imported by an earlier statement (same fingerprint).
    duplicate_count: Mapped[int] = mapped_column(default=0)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    lines: Mapped[list[BankStatementLine]] = relationship(
        back_populates="statement", order_by="BankStatementLine.position"
    )

    def __repr__(self) -> str:
        return f"<BankStatement {self.id} {self.filename!r}>"


class BankStatementLine(Base):
    __tablename__ = "bank_statement_lines"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "status <> 'matched' OR payment_id IS NOT NULL", name="matched_has_payment"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("bank_statements.id"), index=True)
    position: Mapped[int]  # the row number in the file (1 = its first line)
    # SHA-256 of date, account, amount, memo, serial and which repeat of them in the file it
    # is: the same bank line imported twice is refused by this unique key.
    fingerprint: Mapped[str] = mapped_column(sa.String(64), unique=True)
    booked_on: Mapped[date]
    is_credit: Mapped[bool]
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    counterparty_name: Mapped[str] = mapped_column(sa.String(200), default="")
    counterparty_account: Mapped[str] = mapped_column(sa.String(60), default="")
    memo: Mapped[str] = mapped_column(sa.String(500), default="")  # 摘要 and 附言
    bank_serial: Mapped[str] = mapped_column(sa.String(100), default="")  # 交易流水号
    status: Mapped[LineStatus] = mapped_column(
        enum_type(LineStatus, "bank_line_status"), index=True
    )
    transitions = LINE_TRANSITIONS
    # Why an unmatched line waits: unknown_reference, ambiguous, invoice_not_open, refused.
    reason: Mapped[str] = mapped_column(sa.String(30), default="")
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    # What the invoice still owed after this line was booked (< 0: paid too much).
    due_after_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    # Who matched or dismissed it; None when the import matched it.
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(sa.String(500), default="")

    statement: Mapped[BankStatement] = relationship(back_populates="lines")
    invoice: Mapped[Invoice | None] = relationship()
    payment: Mapped[Payment | None] = relationship()

    def __repr__(self) -> str:
        return f"<BankStatementLine {self.id} {self.status.value} {self.amount_fen}>"

    @property
    def is_partial(self) -> bool:
        return self.status is LineStatus.MATCHED and (self.due_after_fen or 0) > 0
