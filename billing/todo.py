"""Billing's items on the dashboards' to-do lists (see marketplace/todo.py): each a count
or a sum from one aggregate query, linked to the page where it is done."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import InstrumentedAttribute, Session, selectinload

from billing import invoices as invoice_rules
from billing import overdue
from billing.error_models import BillingError
from billing.fapiao_models import Fapiao, FapiaoStatus
from billing.models import Contract, ContractStatus, Invoice, InvoiceKind
from billing.outcomes.models import OutcomeReport, ReportStatus
from catalog.models import BillingModel, Plan
from marketplace import todo
from marketplace.dates import first_day
from marketplace.models import Organization, OrgKind
from marketplace.money import format_fen
from marketplace.todo import TodoItem

TRIAL_ENDING_DAYS = 7


def _owed(session: Session, column: InstrumentedAttribute[int], org_id: int) -> list[Invoice]:
    """The organization's invoices still owed, with what amount_due reads (three queries)."""
    return list(
        session.scalars(
            sa.select(Invoice)
            .where(
                column == org_id,
                Invoice.kind == InvoiceKind.INVOICE,
                Invoice.status.in_(overdue.OWED),
            )
            .options(selectinload(Invoice.payments), selectinload(Invoice.corrections))
        )
    )


def _count(session: Session, query: sa.Select) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0


def sme_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    items = []
    owed = [(i, invoice_rules.amount_due(i)) for i in _owed(session, Invoice.buyer_id, org.id)]
    owed = [(i, due) for i, due in owed if due > 0]
    late = [(i, due) for i, due in owed if overdue.overdue_days(i, now)]
    if late:
        items.append(
            TodoItem(
                "invoices_overdue",
                _(
                    "%(count)d invoice(s) overdue: %(amount)s",
                    count=len(late),
                    amount=format_fen(sum(due for _i, due in late)),
                ),
                url_for("billing.invoices", status="open"),
                urgent=True,
            )
        )
    if len(owed) > len(late):
        on_time = [(i, due) for i, due in owed if not overdue.overdue_days(i, now)]
        items.append(
            TodoItem(
                "invoices_due",
                _(
                    "%(count)d invoice(s) to pay: %(amount)s",
                    count=len(on_time),
                    amount=format_fen(sum(due for _i, due in on_time)),
                ),
                url_for("billing.invoices", status="open"),
            )
        )
    count, deadline = session.execute(
        sa.select(sa.func.count(OutcomeReport.id), sa.func.min(OutcomeReport.confirm_by))
        .join(Contract, Contract.id == OutcomeReport.contract_id)
        .where(Contract.buyer_id == org.id, OutcomeReport.status == ReportStatus.SUBMITTED)
    ).one()
    if count:
        items.append(
            TodoItem(
                "results_to_confirm",
                _(
                    "%(count)d result(s) to confirm, the first by %(date)s",
                    count=count,
                    date=first_day(deadline).isoformat(),
                ),
                url_for("billing.contracts"),
                urgent=deadline - now < timedelta(days=2),
            )
        )
    count, first_end = session.execute(
        sa.select(sa.func.count(Contract.id), sa.func.min(Contract.trial_end)).where(
            Contract.buyer_id == org.id,
            Contract.status == ContractStatus.TRIALING,
            Contract.trial_end < now + timedelta(days=TRIAL_ENDING_DAYS),
        )
    ).one()
    if count and first_end is not None:
        items.append(
            TodoItem(
                "trials_ending",
                _(
                    "%(count)d trial(s) ending, the first on %(date)s",
                    count=count,
                    date=first_day(first_end).isoformat(),
                ),
                url_for("billing.contracts"),
            )
        )
    pending = _count(
        session,
        sa.select(Contract.id).where(
            Contract.buyer_id == org.id, Contract.status == ContractStatus.PENDING
        ),
    )
    if pending:
        items.append(
            TodoItem(
                "baselines_to_agree",
                _("%(count)d baseline(s) to agree", count=pending),
                url_for("billing.contracts"),
            )
        )
    return items


def vendor_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    items = []
    pending = _count(
        session,
        sa.select(Contract.id).where(
            Contract.vendor_id == org.id, Contract.status == ContractStatus.PENDING
        ),
    )
    if pending:
        items.append(
            TodoItem(
                "baselines_to_confirm",
                _("%(count)d baseline(s) to confirm", count=pending),
                url_for("billing.contracts"),
            )
        )
    count, next_end = session.execute(
        sa.select(sa.func.count(Contract.id), sa.func.min(Contract.current_period_end))
        .join(Plan, Plan.id == Contract.plan_id)
        .where(
            Contract.vendor_id == org.id,
            Contract.status == ContractStatus.ACTIVE,
            Plan.billing_model == BillingModel.OUTCOME,
        )
    ).one()
    if count:
        items.append(
            TodoItem(
                "outcome_reports_due",
                _(
                    "%(count)d outcome contract(s) to report on, the next by %(date)s",
                    count=count,
                    date=first_day(next_end).isoformat(),
                ),
                url_for("billing.contracts"),
            )
        )
    count, total = session.execute(
        sa.select(
            sa.func.count(Invoice.id), sa.func.coalesce(sa.func.sum(Invoice.total_fen), 0)
        ).where(
            Invoice.vendor_id == org.id,
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status.in_(overdue.OWED),
            Invoice.total_fen > 0,
        )
    ).one()
    requested = session.scalar(
        sa.select(sa.func.count(Fapiao.id)).where(
            Fapiao.vendor_id == org.id, Fapiao.status == FapiaoStatus.REQUESTED
        )
    )
    if requested:
        items.append(
            TodoItem(
                "fapiao_requests",
                _("%(count)d fapiao request(s) to fulfil", count=requested),
                url_for("billing.fapiao_requests"),
            )
        )
    if count:
        items.append(
            TodoItem(
                "invoices_unpaid",
                _(
                    "%(count)d invoice(s) unpaid: %(amount)s",
                    count=count,
                    amount=format_fen(int(total)),
                ),
                url_for("billing.invoices", status="open"),
            )
        )
    return items


def operator_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    items = []
    disputes = _count(
        session, sa.select(OutcomeReport.id).where(OutcomeReport.status == ReportStatus.DISPUTED)
    )
    if disputes:
        items.append(
            TodoItem(
                "disputes",
                _("%(count)d disputed result(s) to decide", count=disputes),
                url_for("billing.outcome_queue"),
                urgent=True,
            )
        )
    errors = _count(session, sa.select(BillingError.id).where(BillingError.resolved_at.is_(None)))
    if errors:
        items.append(
            TodoItem(
                "billing_errors",
                _("%(count)d billing error(s) open", count=errors),
                url_for("billing.billing_errors"),
                urgent=True,
            )
        )
    awaiting = _count(
        session,
        sa.select(Invoice.id).where(
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status.in_(overdue.OWED),
            Invoice.total_fen > Invoice.voucher_fen + Invoice.credit_applied_fen,
        ),
    )
    if awaiting:
        items.append(
            TodoItem(
                "transfers_to_match",
                _("%(count)d open invoice(s) to match with bank transfers", count=awaiting),
                url_for("billing.console"),
            )
        )
    return items


def install(app: Flask) -> None:
    todo.provide(app, OrgKind.SME, sme_items)
    todo.provide(app, OrgKind.VENDOR, vendor_items)
    todo.provide(app, OrgKind.PLATFORM, operator_items)
