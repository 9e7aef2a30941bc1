"""Billing factories: a buyer starting a plan of a published solution."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from billing import contracts
from billing.models import Contract
from catalog.models import Plan
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from tests.catalog.factories import SUBSCRIPTION, USAGE, publish_solution, vendor_actor
from tests.factories import actor_for, create_org, create_user

COMMISSION_BP = 1000
T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def buyer_actor(session: Session, **org: Any) -> Actor:
    owner = create_user(session)
    buyer = create_org(session, OrgKind.SME, owner=owner, **org)
    return actor_for(session, owner, buyer)


def offered_plan(session: Session, terms: dict[str, Any], vendor: Actor | None = None) -> Plan:
    solution = publish_solution(session, vendor or vendor_actor(session), plans=[terms])
    return solution.published.plans[0]


def start_contract(
    session: Session,
    terms: dict[str, Any] | None = None,
    *,
    buyer: Actor | None = None,
    plan: Plan | None = None,
    now: datetime = T0,
    **options: Any,
) -> Contract:
    plan = plan or offered_plan(session, terms or USAGE)
    return contracts.start(
        session,
        actor=buyer or buyer_actor(session),
        plan=plan,
        agreement_version=contracts.agreement_in_force(plan),
        now=now,
        commission_bp=COMMISSION_BP,
        **options,
    )


def usage_terms(**overrides: Any) -> dict[str, Any]:
    return {**USAGE, **overrides}


def subscription_terms(**overrides: Any) -> dict[str, Any]:
    return {**SUBSCRIPTION, **overrides}


def event(
    contract: Contract,
    event_id: str,
    quantity: str | int = 1,
    *,
    at: datetime | None = None,
    meter: str | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "contract_id": contract.id,
        "meter": meter or contract.plan.meter,
        "quantity": quantity if isinstance(quantity, int) else str(Decimal(quantity)),
        "occurred_at": (at or T0).isoformat(),
    }
