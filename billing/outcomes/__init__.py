"""Outcome-based billing (效果付费, DESIGN.md section 4): the baseline both sides agree,
results the vendor reports with evidence, the buyer's confirmation or dispute within the
verification window (silence confirms at its end), and the operator's resolution. Only
confirmed results are invoiced, with the plan's formula (catalog/pricing.py).

A result is reported for exactly one of the contract's billing periods (months counted
from the moment the baseline was agreed, billing/periods.py), once that period has ended,
and only once: the page's form and the API both go through :func:`report`, and a partial
unique index holds the rule against concurrent reports. The plan's cap is per period, so
one report per period is what keeps a vendor from charging the cap several times a month.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import invoices, ledger, notify, webhook_events
from billing.invoices import InvoiceDraft, LineDraft
from billing.models import (
    Contract,
    ContractStatus,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceStatus,
)
from billing.outcome_models import BaselineProposal, OutcomeReport, ProposalStatus, ReportStatus
from billing.periods import period_bounds, period_index
from catalog.limits import MAX_LINE_FEN
from catalog.models import BillingModel, Plan
from catalog.pricing import OutcomeCharge, improvement, outcome_breakdown
from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.money import BASIS_POINTS_PER_UNIT, format_fen

MAX_VALUE = Decimal(10) ** 15
# How many ended, unreported periods the vendor's form offers (newest first).
MAX_PERIOD_CHOICES = 24


def _audit(
    session: Session,
    action: str,
    subject: str,
    subject_id: int,
    actor: Actor | None,
    **data: object,
) -> None:
    audit.record(
        session,
        action,
        subject,
        subject_id,
        user_id=actor.user.id if actor else None,
        org_id=actor.organization.id if actor else None,
        data={
            key: str(value) if isinstance(value, Decimal) else value for key, value in data.items()
        },
    )


def _with_unit(value: Decimal, contract: Contract, *, english: bool = False) -> str:
    plan = contract.plan
    unit = (plan.kpi_unit_en if english and plan.kpi_unit_en else plan.kpi_unit) or ""
    return f"{value.normalize():,f} {unit}".strip()


def _check_value(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value < 0 or value > MAX_VALUE:
        raise DomainError(_l("Enter a measured value of zero or more."), field=field)
    return value


# --- baseline -----------------------------------------------------------------------------


def open_proposal(session: Session, contract: Contract) -> BaselineProposal | None:
    return session.scalar(
        sa.select(BaselineProposal).where(
            BaselineProposal.contract_id == contract.id,
            BaselineProposal.status == ProposalStatus.OPEN,
        )
    )


def propose_baseline(
    session: Session, contract: Contract, *, actor: Actor, value: Decimal, note: str
) -> BaselineProposal:
    """Either side proposes (or counter-proposes) the baseline of a pending contract."""
    if (
        actor.organization.id not in (contract.buyer_id, contract.vendor_id)
        or not actor.role.can_write
    ):
        raise NotAllowed(_l("Only the buyer and the vendor agree the baseline."))
    if contract.status is not ContractStatus.PENDING:
        raise Conflict(_l("The baseline is agreed already; it cannot change."))
    current = open_proposal(session, contract)
    if current is not None:
        current.status = ProposalStatus.SUPERSEDED
    proposal = BaselineProposal(
        contract_id=contract.id,
        proposed_by_org_id=actor.organization.id,
        proposed_by_user_id=actor.user.id,
        value=_check_value(value, "baseline"),
        note=note.strip(),
    )
    session.add(proposal)
    session.flush()
    other = contract.vendor_id if actor.organization.id == contract.buyer_id else contract.buyer_id
    notify.send(
        session,
        other,
        "baseline_proposed",
        f"baseline:{proposal.id}:proposed",
        link=f"/billing/contracts/{contract.id}",
        value=_with_unit(proposal.value, contract),
        value_en=_with_unit(proposal.value, contract, english=True),
        **notify.solution_params(contract),
    )
    _audit(
        session,
        "baseline.proposed",
        "contract",
        contract.id,
        actor,
        value=proposal.value,
        note=proposal.note,
    )
    return proposal


def accept_baseline(
    session: Session, contract: Contract, *, actor: Actor, now: datetime
) -> Contract:
    """The other side accepts the open proposal: the baseline binds and the contract
    starts; its periods count from this moment."""
    if (
        actor.organization.id not in (contract.buyer_id, contract.vendor_id)
        or not actor.role.can_write
    ):
        raise NotAllowed(_l("Only the buyer and the vendor agree the baseline."))
    if contract.status is not ContractStatus.PENDING:
        raise Conflict(_l("The baseline is agreed already; it cannot change."))
    proposal = open_proposal(session, contract)
    if proposal is None:
        raise Conflict(_l("No baseline has been proposed yet."))
    if proposal.proposed_by_org_id == actor.organization.id:
        raise Conflict(_l("The other side must accept your proposal."))
    proposal.status = ProposalStatus.ACCEPTED
    proposal.decided_at = now
    contract.baseline = proposal.value
    contract.baseline_note = proposal.note
    contract.baseline_agreed_at = now
    contract.status = ContractStatus.ACTIVE
    contract.anchor_at = now
    contract.current_period_start, contract.current_period_end = period_bounds(now, 0)
    session.flush()
    webhook_events.contract_event(session, contract, "contract.activated", now=now, key="activated")
    for org_id in (contract.buyer_id, contract.vendor_id):
        notify.send(
            session,
            org_id,
            "baseline_agreed",
            f"contract:{contract.id}:baseline_agreed",
            link=f"/billing/contracts/{contract.id}",
            value=_with_unit(proposal.value, contract),
            value_en=_with_unit(proposal.value, contract, english=True),
            **notify.solution_params(contract),
        )
    _audit(session, "baseline.agreed", "contract", contract.id, actor, value=contract.baseline)
    return contract


# --- reports ------------------------------------------------------------------------------

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
    if charge_fen(contract, _check_value(measured, "measured")) > MAX_LINE_FEN:
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
        measured=_check_value(measured, "measured"),
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
        measured=_with_unit(result.measured, contract),
        measured_en=_with_unit(result.measured, contract, english=True),
    )
    _audit(
        session, "outcome.reported", "outcome_report", result.id, actor, measured=result.measured
    )
    return result


def _require_buyer(report_: OutcomeReport, actor: Actor) -> None:
    if actor.organization.id != report_.contract.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the contract's buyer confirms or disputes results."))


def _within_window(report_: OutcomeReport, now: datetime) -> None:
    if report_.status is not ReportStatus.SUBMITTED:
        raise Conflict(_l("This result has been decided already."))
    if now > report_.confirm_by:
        raise Conflict(_l("The verification window has closed; silence confirmed the result."))


def confirm(
    session: Session, report_: OutcomeReport, *, actor: Actor, now: datetime
) -> OutcomeReport:
    _require_buyer(report_, actor)
    _within_window(report_, now)
    _count(report_, "buyer", now, report_.measured)
    session.flush()
    webhook_events.outcome_event(session, report_, "outcome_report.confirmed", now=now)
    _audit(session, "outcome.confirmed", "outcome_report", report_.id, actor)
    return report_


def dispute(
    session: Session, report_: OutcomeReport, *, actor: Actor, reason: str, now: datetime
) -> OutcomeReport:
    _require_buyer(report_, actor)
    _within_window(report_, now)
    if not reason.strip():
        raise DomainError(_l("Say what is wrong with the result."), field="reason")
    report_.status = ReportStatus.DISPUTED
    report_.dispute_reason = reason.strip()
    session.flush()
    webhook_events.outcome_event(session, report_, "outcome_report.disputed", now=now)
    notify.send(
        session,
        report_.contract.vendor_id,
        "outcome_disputed",
        f"outcome:{report_.id}:disputed",
        link=f"/billing/contracts/{report_.contract_id}",
        measured=_with_unit(report_.measured, report_.contract),
        measured_en=_with_unit(report_.measured, report_.contract, english=True),
        reason=report_.dispute_reason,
    )
    _audit(
        session,
        "outcome.disputed",
        "outcome_report",
        report_.id,
        actor,
        reason=report_.dispute_reason,
    )
    return report_


def resolve(
    session: Session,
    report_: OutcomeReport,
    *,
    actor: Actor,
    decision: str,
    note: str,
    now: datetime,
    adjusted: Decimal | None = None,
) -> OutcomeReport:
    """The operator settles a dispute: accept the result, adjust the measured value, or
    reject it; the note is shown to both sides."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator resolves disputes."))
    if report_.status is not ReportStatus.DISPUTED:
        raise Conflict(_l("Only a disputed result is resolved."))
    if not note.strip():
        raise DomainError(_l("Explain the decision to both sides."), field="note")
    if decision == "accept":
        _count(report_, "operator", now, report_.measured)
    elif decision == "adjust":
        if adjusted is None:
            raise DomainError(_l("Enter the corrected measured value."), field="adjusted")
        _count(report_, "operator", now, _check_value(adjusted, "adjusted"))
    elif decision == "reject":
        report_.status = ReportStatus.REJECTED
    else:
        raise DomainError(_l("Choose accept, adjust or reject."), field="decision")
    report_.resolution_note = note.strip()
    report_.resolved_by_id = actor.user.id
    session.flush()
    webhook_events.outcome_event(session, report_, "outcome_report.resolved", now=now)
    for org_id in (report_.contract.buyer_id, report_.contract.vendor_id):
        notify.send(
            session,
            org_id,
            "outcome_resolved",
            f"outcome:{report_.id}:resolved",
            link=f"/billing/contracts/{report_.contract_id}",
            note=report_.resolution_note,
        )
    _audit(
        session,
        f"outcome.resolved.{decision}",
        "outcome_report",
        report_.id,
        actor,
        note=report_.resolution_note,
        billable=report_.billable_measured,
    )
    return report_


def _count(report_: OutcomeReport, how: str, now: datetime, value: Decimal) -> None:
    report_.status = ReportStatus.CONFIRMED
    report_.confirmed_how = how
    report_.confirmed_at = now
    report_.billable_measured = value


def auto_confirm(session: Session, *, now: datetime) -> int:
    """Silence confirms: results the buyer neither confirmed nor disputed in the window."""
    due = list(
        session.scalars(
            sa.select(OutcomeReport).where(
                OutcomeReport.status == ReportStatus.SUBMITTED, OutcomeReport.confirm_by <= now
            )
        )
    )
    for report_ in due:
        _count(report_, "silence", report_.confirm_by, report_.measured)
        _audit(session, "outcome.confirmed_by_silence", "outcome_report", report_.id, None)
    session.flush()
    for report_ in due:
        webhook_events.outcome_event(session, report_, "outcome_report.confirmed", now=now)
    return len(due)


# --- invoicing ------------------------------------------------------------------------------


def breakdown(contract: Contract, measured: Decimal) -> OutcomeCharge:
    """The plan's formula for one billing period's measured value (base fee included)."""
    plan = contract.plan
    return outcome_breakdown(
        direction=plan.direction.value if plan.direction else "increase",
        baseline=contract.baseline or Decimal(0),
        measured=measured,
        price_per_unit_fen=plan.price_per_unit_fen,
        share_bp=plan.share_bp,
        value_per_unit_fen=plan.value_per_unit_fen,
        cap_fen=plan.cap_fen,
        base_fee_fen=plan.base_fee_fen,
    )


def charge_fen(contract: Contract, measured: Decimal) -> int:
    """The improvement's charge for one billing period, capped, before the base fee."""
    return breakdown(contract, measured).charged_fen


def unit_fen(plan: Plan) -> Decimal:
    """The price per unit of improvement an invoice line shows: the plan's price, or the
    share of the value per unit (to the six places a line's unit price keeps; the amount
    is computed from the exact figures, not from this)."""
    if plan.price_per_unit_fen is not None:
        return plan.price_per_unit_fen
    if plan.value_per_unit_fen is None or plan.share_bp is None:
        return Decimal(0)
    share = plan.value_per_unit_fen * plan.share_bp / BASIS_POINTS_PER_UNIT
    return share.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize()


def _charge_details(charge: OutcomeCharge, plan: Plan) -> dict[str, object]:
    """How a line's amount was reached, for the invoice's readers and the API."""
    details: dict[str, object] = {"exact_fen": _plain(charge.exact_fen)}
    if plan.price_per_unit_fen is not None:
        details["price_per_unit_fen"] = _plain(plan.price_per_unit_fen)
    else:
        details["value_per_unit_fen"] = _plain(plan.value_per_unit_fen or Decimal(0))
        details["share_bp"] = plan.share_bp
    if charge.capped:
        details["cap_fen"] = charge.cap_fen
    return details


def lines_for(report_: OutcomeReport) -> list[LineDraft]:
    contract = report_.contract
    plan = contract.plan
    measured = (
        report_.billable_measured if report_.billable_measured is not None else report_.measured
    )
    charge = breakdown(contract, measured)
    lines = [
        LineDraft(
            kind="outcome",
            description=str(_l("%(kpi)s improvement", kpi=plan.kpi_name or "")),
            quantity=charge.improvement,
            unit_fen=unit_fen(plan),
            amount_fen=charge.charged_fen,
            vat_rate_bp=plan.vat_rate_bp,
            period_start=report_.period_start,
            period_end=report_.period_end,
            plan_id=plan.id,
            details={
                "baseline": format((contract.baseline or Decimal(0)).normalize(), "f"),
                "measured": format(measured.normalize(), "f"),
                "improvement": format(charge.improvement.normalize(), "f"),
                "report_id": report_.id,
                "kpi_unit": plan.kpi_unit or "",
                **_charge_details(charge, plan),
            },
        )
    ]
    if plan.base_fee_fen:
        lines.append(
            LineDraft(
                kind="base_fee",
                description=str(_l("%(plan)s base fee", plan=plan.name)),
                quantity=Decimal(1),
                unit_fen=Decimal(plan.base_fee_fen),
                amount_fen=plan.base_fee_fen,
                vat_rate_bp=plan.vat_rate_bp,
                period_start=report_.period_start,
                period_end=report_.period_end,
                plan_id=plan.id,
            )
        )
    return lines


def invoice_confirmed(
    session: Session, *, now: datetime, commission_bp: int, report_ids: list[int] | None = None
) -> list[Invoice]:
    """Invoice every confirmed result not invoiced yet (once each: the invoice is unique
    per contract, period start and reason), or only those of ``report_ids``."""
    query = sa.select(OutcomeReport).where(
        OutcomeReport.status == ReportStatus.CONFIRMED, OutcomeReport.invoice_id.is_(None)
    )
    if report_ids is not None:
        query = query.where(OutcomeReport.id.in_(report_ids))
    pending = list(session.scalars(query.order_by(OutcomeReport.id)))
    if not pending:
        return []
    drafts = [
        InvoiceDraft(r.contract, "outcome", r.period_start, r.period_end, lines_for(r))
        for r in pending
    ]
    created = invoices.create_many(session, drafts, commission_bp=commission_bp, now=now)
    for report_, invoice in zip(pending, created, strict=True):
        report_.invoice_id = invoice.id
    session.flush()
    notify.invoices_issued(session, created)
    return created


# --- corrections after invoicing ----------------------------------------------------------

CORRECTION = "correction"  # the invoice reason of credit notes and supplementary invoices


def correction_of(session: Session, report_: OutcomeReport) -> Invoice | None:
    """The credit note (or supplementary invoice) that corrected the report's invoice."""
    if report_.invoice_id is None:
        return None
    return session.scalar(
        sa.select(Invoice).where(
            Invoice.corrects_invoice_id == report_.invoice_id,
            Invoice.reason == CORRECTION,
            Invoice.status != InvoiceStatus.VOID,
        )
    )


def correct(
    session: Session,
    report_: OutcomeReport,
    *,
    actor: Actor,
    corrected: Decimal,
    note: str,
    now: datetime,
) -> Invoice:
    """The operator corrects an invoiced result found wrong. The invoice stays as issued;
    a credit note takes off exactly the difference the corrected value makes (or, when the
    result was under-reported, a supplementary invoice adds it). The commission moves by
    the difference between the two commissions, so after both documents the ledger holds
    what an invoice of the right amount would have booked."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator corrects invoiced results."))
    if report_.invoice_id is None or report_.status is not ReportStatus.CONFIRMED:
        raise Conflict(_l("Only an invoiced result is corrected with a credit note."))
    original = session.get(Invoice, report_.invoice_id)
    assert original is not None
    if original.status is InvoiceStatus.VOID:
        raise Conflict(_l("The invoice of this result was voided; nothing is left to correct."))
    earlier = session.scalar(
        sa.select(Invoice).where(
            Invoice.corrects_invoice_id == original.id, Invoice.reason == CORRECTION
        )
    )
    if earlier is not None:
        # Once, even when that correction was voided: a period has one invoice per reason.
        if earlier.status is InvoiceStatus.VOID:
            raise Conflict(
                _l("The correction of this result was voided; a result is corrected once.")
            )
        raise Conflict(_l("This result has been corrected already."))
    if not note.strip():
        raise DomainError(_l("Explain the correction to both sides."), field="note")
    corrected = _check_value(corrected, "corrected")
    contract = report_.contract
    plan = contract.plan
    direction = plan.direction.value if plan.direction else "increase"
    baseline = contract.baseline or Decimal(0)
    # The corrected charge replaces what the live documents charge for this period (the
    # original's outcome line; a correction voided since no longer counts), so the period
    # never costs more than its cap however often it is corrected.
    outcome_lines = [item for item in original.lines if item.kind == "outcome"]
    outcome_total = sum(item.amount_fen for item in outcome_lines)
    was = _invoiced_measured(outcome_lines, report_)
    charge = breakdown(contract, corrected)
    difference = charge.charged_fen - outcome_total
    if difference == 0:
        raise DomainError(
            _l("The corrected value does not change the charge; no credit note is needed."),
            field="corrected",
        )
    gained_was = improvement(direction, baseline, was)
    gained = charge.improvement
    line = LineDraft(
        kind="outcome_correction",
        description=str(
            _l(
                "Correction of %(kpi)s improvement (invoice %(number)s)",
                kpi=plan.kpi_name or "",
                number=original.number,
            )
        ),
        quantity=gained - gained_was,
        unit_fen=unit_fen(plan),
        amount_fen=difference,
        vat_rate_bp=plan.vat_rate_bp,
        period_start=report_.period_start,
        period_end=report_.period_end,
        plan_id=plan.id,
        details={
            "baseline": _plain(baseline),
            "measured_was": _plain(was),
            "measured": _plain(corrected),
            "improvement_was": _plain(gained_was),
            "improvement": _plain(gained),
            "report_id": report_.id,
            "kpi_unit": plan.kpi_unit or "",
            "note": note.strip(),
            **_charge_details(charge, plan),
        },
    )
    _, commission_was = ledger.split_commission(outcome_total, original.commission_bp)
    _, commission_now = ledger.split_commission(outcome_total + difference, original.commission_bp)
    note_ = invoices.create_many(
        session,
        [
            invoices.InvoiceDraft(
                contract,
                CORRECTION,
                report_.period_start,
                report_.period_end,
                [line],
                kind=InvoiceKind.CREDIT_NOTE if difference < 0 else InvoiceKind.INVOICE,
                corrects=original,
                commission_fen=commission_now - commission_was,
            )
        ],
        commission_bp=original.commission_bp,
        now=now,
    )[0]
    session.expire(original, ["corrections"])
    if (
        note_.kind is InvoiceKind.CREDIT_NOTE
        and original.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        and invoices.amount_due(original) <= 0
    ):
        invoices.transition(
            session,
            original,
            InvoiceStatus.PAID,
            note=f"settled by credit note {note_.number}",
            now=now,
        )
    report_.billable_measured = corrected
    session.flush()
    notify.send(
        session,
        contract.buyer_id,
        "outcome_corrected",
        f"outcome:{report_.id}:corrected",
        link=f"/billing/invoices/{note_.id}",
        number=note_.number,
        amount=format_fen(abs(difference)),
    )
    _audit(
        session,
        "outcome.corrected",
        "outcome_report",
        report_.id,
        actor,
        measured_was=was,
        measured=corrected,
        invoice=original.number,
        correction=note_.number,
        amount_fen=difference,
        note=note.strip(),
    )
    return note_


def _invoiced_measured(outcome_lines: list[InvoiceLine], report_: OutcomeReport) -> Decimal:
    """The measured value the original invoice charged (its line says so); the report's
    billable value for lines issued before lines recorded it."""
    for line in outcome_lines:
        if "measured" in line.details:
            return Decimal(line.details["measured"])
    return report_.billable_measured if report_.billable_measured is not None else report_.measured


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
