"""The operator's bank statements: upload one and see what it matched; the queue of lines a
person must match to an invoice or dismiss. The rules live in billing/bank_statements.py."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy.orm import selectinload
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional

from billing import bank_statements
from billing.bank_statement_models import BankStatement, BankStatementLine, LineStatus
from billing.statement_files import MAX_BYTES
from billing.views.common import OPERATOR, bp
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.money import format_fen
from marketplace.views.accounts import show_error

RECENT = 30


class StatementUploadForm(FlaskForm):
    file = FileField(_l("Statement file (XLSX or CSV)"))


class MatchLineForm(FlaskForm):
    invoice = StringField(
        _l("Invoice number or transfer reference"),
        validators=[DataRequired(_l("Enter the invoice number.")), Length(max=100)],
    )
    note = StringField(_l("Memo (optional)"), validators=[Optional(), Length(max=500)])


class DismissLineForm(FlaskForm):
    note = StringField(
        _l("Why it is not a buyer's payment"),
        validators=[DataRequired(_l("Say why the line is dismissed.")), Length(max=500)],
    )


def _statements() -> list[BankStatement]:
    return list(
        db.session.scalars(
            sa.select(BankStatement)
            .options(selectinload(BankStatement.lines))
            .order_by(BankStatement.id.desc())
            .limit(RECENT)
        )
    )


def _waiting() -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(BankStatementLine)
            .where(BankStatementLine.status == LineStatus.UNMATCHED)
        )
        or 0
    )


def render_statements(form: StatementUploadForm | None = None, status: int = 200):
    return render_template(
        "billing/console/bank_statements.html",
        form=form or StatementUploadForm(formdata=None),
        statements=_statements(),
        summarize=bank_statements.summarize,
        waiting=_waiting(),
        can_write=g.actor.role.can_write,
    ), status


@bp.get("/console/bank-statements")
@org_required(OPERATOR)
def bank_statements_page() -> ResponseReturnValue:
    return render_statements()


@bp.post("/console/bank-statements")
@org_required(OPERATOR, write=True)
def import_bank_statement() -> ResponseReturnValue:
    form = StatementUploadForm()
    if not form.validate_on_submit():
        return render_statements(form, 400)
    upload = request.files.get("file")
    data = upload.stream.read(MAX_BYTES + 1) if upload else b""
    try:
        with db.session.begin_nested():
            result = bank_statements.import_statement(
                db.session,
                data=data,
                filename=(upload.filename or "") if upload else "",
                actor=g.actor,
                now=utcnow(),
            )
    except DomainError as error:
        show_error(form, error)
        return render_statements(form, error.status)
    summary = bank_statements.summarize(result.statement)
    flash(
        _(
            "Imported: %(matched)d matched (%(amount)s), %(partial)d partial, %(unmatched)d "
            "waiting for a person, %(duplicates)d duplicates skipped.",
            matched=summary.matched,
            amount=format_fen(summary.matched_fen),
            partial=summary.partial,
            unmatched=summary.unmatched,
            duplicates=summary.duplicates,
        ),
        "success",
    )
    return redirect(url_for("billing.bank_statement", statement_id=result.statement.id)), 303


@bp.get("/console/bank-statements/<int:statement_id>")
@org_required(OPERATOR)
def bank_statement(statement_id: int) -> ResponseReturnValue:
    statement = db.session.get(BankStatement, statement_id)
    if statement is None:
        abort(404)
    return render_template(
        "billing/console/bank_statement.html",
        statement=statement,
        summary=bank_statements.summarize(statement),
        reasons=bank_statements.REASON_LABELS,
    )


def render_queue(
    *,
    line_id: int | None = None,
    match_form: MatchLineForm | None = None,
    dismiss_form: DismissLineForm | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    lines = bank_statements.queue(db.session)
    form = match_form or dismiss_form
    # A refusal about a line no longer waiting is said above the queue.
    problem = (
        " ".join(form.form_errors + [e for f in form for e in f.errors])
        if form is not None and line_id not in {line.id for line in lines}
        else ""
    )
    return render_template(
        "billing/console/bank_queue.html",
        lines=lines,
        problem=problem,
        reasons=bank_statements.REASON_LABELS,
        failed_line=line_id,
        match_form=match_form,
        dismiss_form=dismiss_form,
        blank_match=MatchLineForm(formdata=None),
        blank_dismiss=DismissLineForm(formdata=None),
        can_write=g.actor.role.can_write,
    ), status


@bp.get("/console/bank-queue")
@org_required(OPERATOR)
def bank_queue() -> ResponseReturnValue:
    return render_queue()


def _line(line_id: int) -> BankStatementLine:
    line = db.session.get(BankStatementLine, line_id)
    if line is None:
        abort(404)
    return line


@bp.post("/console/bank-lines/<int:line_id>/match")
@org_required(OPERATOR, write=True)
def match_bank_line(line_id: int) -> ResponseReturnValue:
    line = _line(line_id)
    form = MatchLineForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                invoice = bank_statements.find_invoice(db.session, form.invoice.data or "")
                bank_statements.match_by_hand(
                    db.session,
                    line,
                    invoice,
                    actor=g.actor,
                    now=utcnow(),
                    note=form.note.data or "",
                )
        except DomainError as error:
            show_error(form, error)
        else:
            flash(
                _(
                    "%(amount)s booked on invoice %(number)s.",
                    amount=format_fen(line.amount_fen),
                    number=line.invoice.number if line.invoice else "",
                ),
                "success",
            )
            return redirect(url_for("billing.bank_queue")), 303
    return render_queue(line_id=line.id, match_form=form, status=422)


@bp.post("/console/bank-lines/<int:line_id>/dismiss")
@org_required(OPERATOR, write=True)
def dismiss_bank_line(line_id: int) -> ResponseReturnValue:
    line = _line(line_id)
    form = DismissLineForm()
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                bank_statements.dismiss(
                    db.session, line, actor=g.actor, now=utcnow(), note=form.note.data or ""
                )
        except DomainError as error:
            show_error(form, error)
        else:
            flash(_("Line dismissed."), "info")
            return redirect(url_for("billing.bank_queue")), 303
    return render_queue(line_id=line.id, dismiss_form=form, status=422)
