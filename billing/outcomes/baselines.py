"""The baseline of an outcome-billed contract: either side proposes (or counter-proposes)
it while the contract is pending; when the other side accepts, it binds and the contract
starts (its billing periods count from that moment)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import notify, webhook_events
from billing.models import Contract, ContractStatus
from billing.outcomes.common import check_value, record_audit, with_unit
from billing.outcomes.models import BaselineProposal, ProposalStatus
from billing.periods import period_bounds
from marketplace.errors import Conflict, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.states import transition


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
        transition(current, ProposalStatus.SUPERSEDED, actor)
    proposal = BaselineProposal(
        contract_id=contract.id,
        proposed_by_org_id=actor.organization.id,
        proposed_by_user_id=actor.user.id,
        value=check_value(value, "baseline"),
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
        value=with_unit(proposal.value, contract),
        value_en=with_unit(proposal.value, contract, english=True),
        **notify.solution_params(contract),
    )
    record_audit(
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
    transition(proposal, ProposalStatus.ACCEPTED, actor, now=now)
    contract.baseline = proposal.value
    contract.baseline_note = proposal.note
    contract.baseline_agreed_at = now
    contract.anchor_at = now
    contract.current_period_start, contract.current_period_end = period_bounds(now, 0)
    transition(
        contract,
        ContractStatus.ACTIVE,
        actor,
        now=now,
        action="baseline.agreed",
        data={"value": contract.baseline},
    )
    webhook_events.contract_event(session, contract, "contract.activated", now=now, key="activated")
    for org_id in (contract.buyer_id, contract.vendor_id):
        notify.send(
            session,
            org_id,
            "baseline_agreed",
            f"contract:{contract.id}:baseline_agreed",
            link=f"/billing/contracts/{contract.id}",
            value=with_unit(proposal.value, contract),
            value_en=with_unit(proposal.value, contract, english=True),
            **notify.solution_params(contract),
        )
    return contract
