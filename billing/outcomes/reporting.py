"""The vendor reports a result: the measured KPI of one of the contract's billing periods
(months counted from the moment the baseline was agreed, billing/periods.py), once that
period has ended, and only once: the page's form and the API both go through
:func:`report`, and a partial unique index holds the rule against concurrent reports. The
plan's cap is per period, so one report per period is what keeps a vendor from charging the
cap several times a month."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import notify
from billing.models import Contract, ContractStatus
from billing.outcomes.common import check_value, record_audit, with_unit
from billing.outcomes.invoicing import charge_fen
from billing.outcomes.models import OutcomeReport, ReportStatus
from billing.periods import period_bounds, period_index
from catalog.limits import MAX_LINE_FEN
from catalog.models import BillingModel
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.money import format_fen

# How many ended, unreported periods the vendor's form offers (newest first).
MAX_PERIOD_CHOICES = 24

Period = tuple[datetime, datetime]


def _reports_of_period(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    """Reports that count for [start, end): every one that overlaps it, except rejected
    ones (a rejected result's period may be reported again)."""
    return sa.and_(
        OutcomeReport.status != ReportStatus.REJECTED,
        OutcomeReport.period_start < end,
        OutcomeReport.period_end > start,
    )


def reportable_periods(
    session: Session, contract: Contract, now: datetime, *, limit: int = MAX_PERIOD_CHOICES
) -> list[Period]:
    """The contract's ended billing periods that have no report yet (a rejected one may be
    reported again), newest first: what the vendor's form offers and the API accepts."""
    if contract.anchor_at is None or contract.baseline is None or now <= contract.anchor_at:
        return []
    taken = session.execute(
        sa.select(OutcomeReport.period_start, OutcomeReport.period_end).where(
            OutcomeReport.contract_id == contract.id,
            OutcomeReport.status != ReportStatus.REJECTED,
        )
    ).all()
    periods = []
    for index in range(period_index(contract.anchor_at, now), -1, -1):
        start, end = period_bounds(contract.anchor_at, index)
        if end > now or any(s < end and e > start for s, e in taken):
            continue
        periods.append((start, end))
        if len(periods) == limit:
            break
    return periods


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def billing_period(
    session: Session,
    contract: Contract,
    period_start: datetime,
    period_end: datetime,
    now: datetime,
) -> Period:
    """The billing period a report may be for: ``period_start`` and ``period_end`` are
    exactly one of the contract's periods, it has ended, and it has no report yet (other
    than rejected ones). Anything else is refused naming the field and the period
    expected."""
    anchor = contract.anchor_at
    if period_end <= period_start:
        raise DomainError(_l("The period must end after it starts."), field="period_end")
    first_start, first_end = period_bounds(anchor, 0)
    if period_start < anchor:
        raise DomainError(
            _l(
                "The period starts before the baseline was agreed; the first billing period "
                "is %(start)s to %(end)s.",
                start=_iso(first_start),
                end=_iso(first_end),
            ),
            field="period_start",
        )
    if period_start >= now:  # (and a date years ahead cannot be counted in months)
        _current_start, current_end = period_bounds(anchor, period_index(anchor, now))
        raise DomainError(
            _l(
                "Report a period once it has ended: this one ends at %(end)s.",
                end=_iso(current_end),
            ),
            field="period_end",
        )
    start, end = period_bounds(anchor, period_index(anchor, period_start))
    if period_start != start:
        raise DomainError(
            _l(
                "Report one whole billing period of the contract; the period around this "
                "start is %(start)s to %(end)s.",
                start=_iso(start),
                end=_iso(end),
            ),
            field="period_start",
        )
    if period_end != end:
        raise DomainError(
            _l(
                "A report covers one whole billing period: this one ends at %(end)s.",
                end=_iso(end),
            ),
            field="period_end",
        )
    if end > now:
        raise DomainError(
            _l("Report a period once it has ended: this one ends at %(end)s.", end=_iso(end)),
            field="period_end",
        )
    existing = session.scalar(
        sa.select(OutcomeReport)
        .where(OutcomeReport.contract_id == contract.id, _reports_of_period(start, end))
        .limit(1)
    )
    if existing is not None:
        if existing.invoice_id is not None:
            raise Conflict(_l("That period has been invoiced already."), field="period_start")
        raise Conflict(_l("A report for this period exists already."), field="period_start")
    return start, end


def report(
    session: Session,
    contract: Contract,
    *,
    actor: Actor,
    period_start: datetime,
    period_end: datetime,
    measured: Decimal,
    now: datetime,
    evidence_url: str = "",
    note: str = "",
) -> OutcomeReport:
    """The vendor reports the measured KPI for one of the contract's billing periods that
    has ended (see :func:`billing_period`)."""
    if (
        actor.organization.id != contract.vendor_id
        or actor.org_kind is not OrgKind.VENDOR
        or not actor.role.can_write
    ):
        raise NotAllowed(_l("Only the contract's vendor reports results."))
    if contract.plan.billing_model is not BillingModel.OUTCOME:
        raise DomainError(_l("This contract is not paid for results."), field="contract_id")
    if contract.baseline is None or contract.status not in (
        ContractStatus.ACTIVE,
        ContractStatus.PAST_DUE,
        ContractStatus.CANCELED,  # the periods before a cancellation are still paid for
        ContractStatus.ENDED,
    ):
        raise Conflict(_l("Results can be reported once the baseline is agreed."))
    ended_at = contract.canceled_at or contract.ended_at
    if contract.status in (ContractStatus.CANCELED, ContractStatus.ENDED) and (
        ended_at is None or period_start >= ended_at
    ):
        raise DomainError(
            _l("The contract had ended before this period started."), field="period_start"
        )
    period_start, period_end = billing_period(session, contract, period_start, period_end, now)
    if charge_fen(contract, check_value(measured, "measured")) > MAX_LINE_FEN:
        # A figure no invoice line may hold (catalog/limits.py): refused where it enters.
        raise DomainError(
            _l(
                "This result would cost more than one period can be billed (at most %(max)s).",
                max=format_fen(MAX_LINE_FEN),
            ),
            field="measured",
        )
    if evidence_url and not evidence_url.startswith(("https://", "http://")):
        raise DomainError(_l("Evidence links start with https://."), field="evidence_url")
    result = OutcomeReport(
        contract_id=contract.id,
        period_start=period_start,
        period_end=period_end,
        measured=check_value(measured, "measured"),
        evidence_url=evidence_url.strip()[:500],
        note=note.strip(),
        submitted_by_id=actor.user.id,
        submitted_at=now,
        confirm_by=now + timedelta(days=contract.plan.verification_days),
    )
    try:
        with session.begin_nested():
            session.add(result)
            session.flush()
    except sa.exc.IntegrityError:
        # Another request reported the same period a moment ago (the partial unique index).
        raise Conflict(
            _l("A report for this period exists already."), field="period_start"
        ) from None
    notify.send(
        session,
        contract.buyer_id,
        "outcome_reported",
        f"outcome:{result.id}:reported",
        link=f"/billing/contracts/{contract.id}",
        kpi=contract.plan.kpi_name or "",
        kpi_en=contract.plan.kpi_name_en or "",
        measured=with_unit(result.measured, contract),
        measured_en=with_unit(result.measured, contract, english=True),
    )
    record_audit(
        session, "outcome.reported", "outcome_report", result.id, actor, measured=result.measured
    )
    return result
