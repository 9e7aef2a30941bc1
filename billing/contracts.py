"""Starting, changing and ending contracts (DESIGN.md section 4).

Subscriptions invoice each period in advance (after the trial, if any); usage contracts
invoice in arrears when the period closes; outcome contracts wait for an agreed baseline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import invoices, notify, webhook_events
from billing.charges import subscription_line
from billing.invoices import LineDraft
from billing.models import Contract, ContractStatus, Invoice
from billing.outcomes import baselines
from billing.periods import period_bounds
from catalog.models import BillingModel, Plan
from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.states import transition


def interval_of(plan: Plan) -> str:
    return plan.interval.value if plan.interval else "month"


def _audit(
    session: Session, action: str, contract: Contract, actor: Actor | None, **data: object
) -> None:
    audit.record(
        session,
        action,
        "contract",
        contract.id,
        user_id=actor.user.id if actor else None,
        org_id=actor.organization.id if actor else None,
        data={"plan_id": contract.plan_id, **data},
    )


def agreement_in_force(plan: Plan) -> int:
    """The version of the service agreement a buyer accepts to start ``plan`` now: the one
    of the listing revision the plan belongs to (an offered plan's is the published one)."""
    return plan.revision.agreement_version


def _check_acceptance(plan: Plan, accepted_version: int | None) -> None:
    in_force = agreement_in_force(plan)
    if accepted_version is None:
        raise DomainError(
            _l(
                "Read the service agreement (version %(version)d) and accept it to start.",
                version=in_force,
            ),
            field="accept_agreement_version",
        )
    if accepted_version != in_force:
        raise Conflict(
            _l(
                "The service agreement has changed: it is now version %(version)d. Read it "
                "and accept that version to start.",
                version=in_force,
            ),
            field="accept_agreement_version",
        )


def start(
    session: Session,
    *,
    actor: Actor,
    plan: Plan,
    now: datetime,
    commission_bp: int,
    agreement_version: int | None,
    spend_cap_fen: int | None = None,
    baseline: Decimal | None = None,
    baseline_note: str = "",
) -> Contract:
    """The buyer starts a plan, accepting its service agreement (``agreement_version`` is
    the version the buyer read and accepted; None when they did not). No payment up front
    unless the plan is a subscription without trial (its first period is invoiced at once)."""
    if actor.org_kind is not OrgKind.SME or not actor.role.can_write:
        raise NotAllowed(_l("Only enterprises (buyers) start solutions."))
    if not plan.is_offered:
        raise DomainError(_l("This plan is not on offer."), field="plan_id")
    _check_acceptance(plan, agreement_version)
    if spend_cap_fen is not None:
        if plan.billing_model is not BillingModel.USAGE:
            raise DomainError(
                _l("A spend cap applies to pay-after-use plans only."), field="spend_cap_fen"
            )
        if spend_cap_fen <= 0:
            raise DomainError(_l("The spend cap must be more than zero."), field="spend_cap_fen")
    live = session.scalar(
        sa.select(Contract.id).where(
            Contract.buyer_id == actor.organization.id,
            Contract.plan_id == plan.id,
            Contract.status.in_(
                [
                    ContractStatus.PENDING,
                    ContractStatus.TRIALING,
                    ContractStatus.ACTIVE,
                    ContractStatus.PAST_DUE,
                ]
            ),
        )
    )
    if live is not None:
        raise Conflict(_l("You already have this plan."), field="plan_id")

    interval = interval_of(plan)
    trial = plan.billing_model is BillingModel.SUBSCRIPTION and plan.trial_days > 0
    anchor = now + timedelta(days=plan.trial_days) if trial else now
    if plan.billing_model is BillingModel.OUTCOME:
        status = ContractStatus.PENDING
        if baseline is None:
            raise DomainError(_l("Propose the baseline you measured."), field="baseline")
    else:
        status = ContractStatus.TRIALING if trial else ContractStatus.ACTIVE
    period_start, period_end = (now, anchor) if trial else period_bounds(anchor, 0, interval)
    contract = Contract(
        buyer_id=actor.organization.id,
        vendor_id=plan.solution.vendor_id,
        solution_id=plan.solution_id,
        plan_id=plan.id,
        status=status,
        anchor_at=anchor,
        current_period_start=period_start,
        current_period_end=period_end,
        trial_end=anchor if trial else None,
        spend_cap_fen=spend_cap_fen,
        created_by_id=actor.user.id,
        agreement_version=agreement_version,
        agreement_revision_id=plan.revision_id,
        agreement_accepted_at=now,
        agreement_accepted_by_id=actor.user.id,
    )
    session.add(contract)
    session.flush()
    _audit(
        session,
        "contract.started",
        contract,
        actor,
        status=status.value,
        agreement_version=agreement_version,
    )
    webhook_events.contract_event(session, contract, "contract.created", now=now, key="created")
    if plan.billing_model is BillingModel.OUTCOME:
        # The buyer's figure is a proposal: it binds only when the vendor accepts it.
        assert baseline is not None  # required above for an outcome plan
        baselines.propose_baseline(
            session, contract, actor=actor, value=baseline, note=baseline_note
        )
    if plan.billing_model is BillingModel.SUBSCRIPTION and not trial:
        bill_subscription_period(session, contract, now=now, commission_bp=commission_bp)
    return contract


def bill_subscription_period(
    session: Session, contract: Contract, *, now: datetime, commission_bp: int
) -> Invoice | None:
    """The in-advance invoice of the contract's current period (once per period)."""
    start_, end = contract.current_period_start, contract.current_period_end
    if invoices.existing(session, contract.id, start_, "renewal") is not None:
        return None
    invoice = invoices.create(
        session,
        contract,
        reason="renewal",
        period_start=start_,
        period_end=end,
        lines=[subscription_line(contract.plan, start_, end)],
        commission_bp=commission_bp,
        now=now,
    )
    notify.invoice_issued(session, invoice)
    invoices.schedule_first_attempts(session, [invoice], now)
    return invoice


def change_plan(
    session: Session,
    contract: Contract,
    new_plan: Plan,
    *,
    actor: Actor,
    now: datetime,
    commission_bp: int,
) -> Invoice | None:
    """Switch subscription plans mid-period: credit the unused days of the old plan and
    charge the rest of the period at the new plan's price, on an immediate invoice. When
    the credit is larger (a downgrade), the invoice's negative total goes to the buyer's
    credit balance with the vendor and pays the next invoices (billing/credits.py)."""
    _require_buyer(contract, actor)
    old_plan = contract.plan
    if not contract.can_change_plan:
        raise Conflict(_l("Only an active contract can change plan."))
    if new_plan.id == old_plan.id:
        raise Conflict(_l("This is your current plan."), field="plan_id")
    if (
        not new_plan.is_offered
        or new_plan.solution_id != contract.solution_id
        or new_plan.billing_model is not BillingModel.SUBSCRIPTION
        or old_plan.billing_model is not BillingModel.SUBSCRIPTION
    ):
        raise DomainError(
            _l("Choose another subscription plan of the same solution."), field="plan_id"
        )
    if interval_of(new_plan) != interval_of(old_plan):
        raise DomainError(
            _l(
                "Monthly and yearly plans cannot be swapped mid-period; cancel at period end instead."
            ),
            field="plan_id",
        )
    switch = contract.proration(new_plan, now)
    contract.plan_id = new_plan.id
    contract.plan = new_plan
    _audit(session, "contract.plan_changed", contract, actor, old_plan_id=old_plan.id)
    webhook_events.contract_event(session, contract, "contract.plan_changed", now=now)
    if contract.status is ContractStatus.TRIALING:
        session.flush()
        return None  # nothing was charged yet; the new price applies from the trial's end
    end = contract.current_period_end
    credit, charge = switch.credit_fen, switch.charge_fen
    lines = [
        LineDraft(
            kind="proration_credit",
            description=str(_l("Unused time on %(plan)s", plan=old_plan.name)),
            quantity=Decimal(1),
            unit_fen=Decimal(-credit),
            amount_fen=-credit,
            vat_rate_bp=old_plan.vat_rate_bp,
            period_start=now,
            period_end=end,
            plan_id=old_plan.id,
        ),
        LineDraft(
            kind="proration_charge",
            description=str(_l("Remaining time on %(plan)s", plan=new_plan.name)),
            quantity=Decimal(1),
            unit_fen=Decimal(charge),
            amount_fen=charge,
            vat_rate_bp=new_plan.vat_rate_bp,
            period_start=now,
            period_end=end,
            plan_id=new_plan.id,
        ),
    ]
    invoice = invoices.create(
        session,
        contract,
        reason="proration",
        period_start=now,
        period_end=end,
        lines=[line for line in lines if line.amount_fen],
        commission_bp=commission_bp,
        now=now,
    )
    notify.invoice_issued(session, invoice)
    return invoice


def cancel(
    session: Session, contract: Contract, *, actor: Actor, at_period_end: bool, now: datetime
) -> None:
    """Cancel now, or at the end of the current period (nothing more is invoiced after it).

    Canceled now, the current period ends at this moment: usage after it is refused, and
    the next billing run closes the period like any other (usage recorded before the
    cancellation is invoiced in arrears, results of its periods are still reported and
    invoiced), then the contract ends. Canceled at the very start of a period, it ends at
    once: there is nothing to close."""
    _require_buyer(contract, actor)
    if not contract.can_cancel:
        raise Conflict(_l("This contract has ended already."))
    audited = {"plan_id": contract.plan_id, "at_period_end": at_period_end}
    if at_period_end:
        contract.cancel_at_period_end = True
        session.flush()
        _audit(session, "contract.canceled", contract, actor, at_period_end=at_period_end)
    elif now <= contract.current_period_start:
        contract.canceled_at = now
        transition(
            contract, ContractStatus.ENDED, actor, now=now, action="contract.canceled", data=audited
        )
    else:
        # A period the run has not closed yet although it is over keeps its end: the run
        # closes it, then the one cut at the cancellation.
        contract.current_period_end = min(contract.current_period_end, now)
        transition(
            contract,
            ContractStatus.CANCELED,
            actor,
            now=now,
            action="contract.canceled",
            data=audited,
        )
    webhook_events.contract_event(session, contract, "contract.canceled", now=now)


def set_spend_cap(
    session: Session, contract: Contract, cap_fen: int | None, *, actor: Actor
) -> None:
    _require_buyer(contract, actor)
    if contract.plan.billing_model is not BillingModel.USAGE:
        raise DomainError(
            _l("A spend cap applies to pay-after-use plans only."), field="spend_cap_fen"
        )
    if cap_fen is not None and cap_fen <= 0:
        raise DomainError(_l("The spend cap must be more than zero."), field="spend_cap_fen")
    contract.spend_cap_fen = cap_fen
    session.flush()
    _audit(session, "contract.spend_cap_set", contract, actor, spend_cap_fen=cap_fen)


def _require_buyer(contract: Contract, actor: Actor) -> None:
    if actor.organization.id != contract.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the buyer changes this contract."))
