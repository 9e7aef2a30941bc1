"""The buyer accepts delivery (验收) of a contract: once, by a writing member of the buyer
organization, on a contract that has started (not one awaiting its baseline). Voucher
programs may require it before they settle a redemption (vouchers/settlement_conditions.py
reads it)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.delivery_models import DeliveryAcceptance
from billing.models import Contract, ContractStatus
from marketplace import audit
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor

MAX_NOTE = 500


def acceptance_of(session: Session, contract: Contract) -> DeliveryAcceptance | None:
    return session.scalar(
        sa.select(DeliveryAcceptance).where(DeliveryAcceptance.contract_id == contract.id)
    )


def can_accept(session: Session, contract: Contract, actor: Actor) -> bool:
    return (
        actor.organization.id == contract.buyer_id
        and actor.role.can_write
        and contract.status is not ContractStatus.PENDING
        and acceptance_of(session, contract) is None
    )


def accept_delivery(
    session: Session, contract: Contract, *, actor: Actor, note: str = "", now: datetime
) -> DeliveryAcceptance:
    if actor.organization.id != contract.buyer_id or not actor.role.can_write:
        raise NotAllowed(_l("Only the buyer accepts delivery."))
    if contract.status is ContractStatus.PENDING:
        raise Conflict(_l("Delivery is accepted once the contract has started."))
    if acceptance_of(session, contract) is not None:
        raise Conflict(_l("Delivery of this contract is accepted already."))
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise DomainError(_l("At most %(n)s characters.", n=MAX_NOTE), field="note")
    acceptance = DeliveryAcceptance(
        contract_id=contract.id, accepted_by_user_id=actor.user.id, accepted_at=now, note=note
    )
    session.add(acceptance)
    session.flush()
    audit.record(
        session,
        "contract.delivery_accepted",
        "contract",
        contract.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"note": note},
    )
    return acceptance
