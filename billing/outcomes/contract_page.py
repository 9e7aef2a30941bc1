"""What the contract page shows of a pay-for-results (效果付费) contract: the baseline
proposals, the report rows (the value that counts, the improvement and the charge), the
forms each side may use and the chart. billing/views/contracts.py renders it; the
operator's queue (billing/outcomes/views.py) lists the same report rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask import g
from flask_babel import format_date
from sqlalchemy.orm import Session
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it

from billing.forms import BaselineForm, DisputeForm, OutcomeReportForm
from billing.line_words import kpi_unit_label
from billing.models import Contract, ContractStatus, Invoice
from billing.outcomes import baselines, corrections, invoicing, reporting
from billing.outcomes.chart import for_phone, outcome_chart
from billing.outcomes.models import BaselineProposal, OutcomeReport, ReportStatus
from catalog.models import BillingModel
from catalog.pricing import improvement
from marketplace.db import db, utcnow
from marketplace.i18n import current_language
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind


@dataclass
class ReportRow:
    """One reported period as both sides see it: the value that counts, the improvement
    over the baseline and the charge it causes."""

    report: OutcomeReport
    value: Decimal  # the operator's adjustment, or the reported value
    improvement: Decimal
    charge_fen: int  # the improvement's charge plus the base fee, as invoiced
    invoice: Invoice | None
    correction: Invoice | None

    @property
    def adjusted(self) -> bool:
        return self.value != self.report.measured


def report_row(session: Session, report_: OutcomeReport) -> ReportRow:
    contract = report_.contract
    plan = contract.plan
    value = report_.billable_measured if report_.billable_measured is not None else report_.measured
    direction = plan.direction.value if plan.direction else "increase"
    rejected = report_.status is ReportStatus.REJECTED
    return ReportRow(
        report=report_,
        value=value,
        improvement=improvement(direction, contract.baseline or Decimal(0), value),
        charge_fen=0 if rejected else invoicing.charge_fen(contract, value) + plan.base_fee_fen,
        invoice=session.get(Invoice, report_.invoice_id) if report_.invoice_id else None,
        correction=corrections.correction_of(session, report_),
    )


def _period_key(start: datetime, end: datetime) -> str:
    return f"{start.isoformat()}|{end.isoformat()}"


def period_choices(periods: list[tuple[datetime, datetime]]) -> list[SelectChoice]:
    return [
        SelectChoice(
            _period_key(start, end),
            f"{format_date(start, 'medium')} – {format_date(end, 'medium')}",
        )
        for start, end in periods
    ]


def _is_party_writer(contract: Contract, actor: Actor) -> bool:
    return actor.organization.id in (contract.buyer_id, contract.vendor_id) and actor.role.can_write


def outcome_context(
    contract: Contract,
    *,
    baseline_form: BaselineForm | None = None,
    report_form: OutcomeReportForm | None = None,
) -> dict[str, Any]:
    """What the contract page shows of a pay-for-results contract."""
    if contract.plan.billing_model is not BillingModel.OUTCOME:
        return {}
    actor: Actor = g.actor
    now = utcnow()
    session = db.session
    proposals = list(
        session.scalars(
            sa.select(BaselineProposal)
            .where(BaselineProposal.contract_id == contract.id)
            .order_by(BaselineProposal.id.desc())
        )
    )
    open_proposal = baselines.open_proposal(session, contract)
    pending = contract.status is ContractStatus.PENDING
    party_writer = _is_party_writer(contract, actor)
    unit = kpi_unit_label(contract.plan, current_language() == "en")
    chart = outcome_chart(session, contract, unit=unit)
    reports = list(
        session.scalars(
            sa.select(OutcomeReport)
            .where(OutcomeReport.contract_id == contract.id)
            .order_by(OutcomeReport.period_start.desc(), OutcomeReport.id.desc())
        )
    )
    vendor_writer = (
        actor.organization.id == contract.vendor_id
        and actor.org_kind is OrgKind.VENDOR
        and actor.role.can_write
    )
    periods = reporting.reportable_periods(session, contract, now) if vendor_writer else []
    if report_form is None and periods:
        report_form = OutcomeReportForm(formdata=None)
    if report_form is not None:
        report_form.period.choices = period_choices(periods)
    if baseline_form is None and pending and party_writer:
        baseline_form = BaselineForm(formdata=None)
    return {
        "proposals": proposals,
        "open_proposal": open_proposal,
        "may_accept": pending
        and party_writer
        and open_proposal is not None
        and open_proposal.proposed_by_org_id != actor.organization.id,
        "baseline_form": baseline_form if pending and party_writer else None,
        "report_rows": [report_row(session, r) for r in reports],
        "report_form": report_form if vendor_writer and periods else None,
        "dispute_form": DisputeForm(formdata=None),
        "buyer_decides": actor.organization.id == contract.buyer_id and actor.role.can_write,
        "outcome_chart": chart,
        "outcome_phone_chart": for_phone(chart, unit) if chart else None,
        "now": now,
    }
