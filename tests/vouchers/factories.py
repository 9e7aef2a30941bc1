"""Voucher factories: an officer's published program, an enterprise granted a voucher,
invoices between a buyer and a vendor, and the line facts billing hands to redemption."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from billing import invoices
from billing.invoices import LineDraft
from billing.models import Contract, Invoice
from catalog.models import VoucherKind
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.sizeclass import SizeClass
from tests.billing.factories import COMMISSION_BP, T0, start_contract, subscription_terms
from tests.catalog.factories import publish_solution
from tests.catalog.factories import vendor_actor as catalog_vendor_actor
from tests.factories import actor_for, create_org, create_user
from vouchers import applications, programs
from vouchers.models import Program, Voucher
from vouchers.redemptions import EligibleLine

_n = itertools.count(1)
_periods = itertools.count(1)


def _distinct_person() -> dict[str, Any]:
    """The shared factories give every organization the same legal representative, which
    would make every vendor a related party of every buyer."""
    return {"legal_representative": f"法人{next(_n)}"}


def officer_actor(session: Session, **org: Any) -> Actor:
    owner = create_user(session)
    government = create_org(
        session, OrgKind.GOVERNMENT, owner=owner, **{**_distinct_person(), **org}
    )
    return actor_for(session, owner, government)


def sme_actor(session: Session, **org: Any) -> Actor:
    owner = create_user(session)
    sme = create_org(session, OrgKind.SME, owner=owner, **{**_distinct_person(), **org})
    return actor_for(session, owner, sme)


def vendor_actor(session: Session, **org: Any) -> Actor:
    return catalog_vendor_actor(session, **{**_distinct_person(), **org})


def terms(**overrides: Any) -> programs.ProgramTerms:
    fields: dict[str, Any] = {
        "name": "浦东新区上云券",
        "kind": VoucherKind.CLOUD,
        "region_prefix": "310115",
        "budget_fen": 1_000_000,
        "ratio_bp": 5000,
        "annual_cap_fen": 300_000,
        "size_classes": [SizeClass.MEDIUM, SizeClass.SMALL, SizeClass.MICRO],
        "opens_at": T0 - timedelta(days=1),
        "closes_at": T0 + timedelta(days=60),
        "validity_days": 90,
    }
    fields.update(overrides)
    return programs.ProgramTerms(**fields)


def create_program(
    session: Session, officer: Actor | None = None, *, publish: bool = True, **overrides: Any
) -> Program:
    officer = officer or officer_actor(session)
    program = programs.create_program(session, actor=officer, terms=terms(**overrides))
    if publish:
        programs.publish_program(
            session,
            program,
            actor=officer,
            now=T0 - timedelta(days=1),
            confirm_fen=program.budget_fen,
        )
    return program


def officer_of(session: Session, program: Program) -> Actor:
    """An officer of the program's owner (a new member of that organization)."""
    from marketplace.models import Role
    from tests.factories import add_member

    user = add_member(session, program.owner, Role.ADMIN)
    return actor_for(session, user, program.owner)


def grant(
    session: Session,
    program: Program,
    sme: Actor,
    amount_fen: int,
    *,
    officer: Actor | None = None,
    now: Any = T0,
) -> Voucher:
    """Apply and approve: the enterprise holds a voucher of ``amount_fen``."""
    application = applications.apply(session, program, actor=sme, requested_fen=amount_fen, now=now)
    return applications.approve(
        session, application, actor=officer or officer_of(session, program), now=now
    )


def contract_between(
    session: Session, buyer: Actor, vendor: Actor, *, voucher_kinds: tuple[str, ...] = ("cloud",)
) -> Contract:
    """A subscription in its trial, so no invoice is issued until the test makes one."""
    solution = publish_solution(
        session,
        vendor,
        voucher_kinds=list(voucher_kinds),
        plans=[subscription_terms(trial_days=14)],
    )
    return start_contract(session, plan=solution.published.plans[0], buyer=buyer)


def invoice_for(session: Session, contract: Contract, amount_fen: int) -> Invoice:
    """An open invoice of one line on ``contract`` (each one for a period of its own)."""
    start = T0 + timedelta(days=next(_periods))
    end = start + timedelta(days=1)
    line = LineDraft(
        kind="subscription",
        description="测试",
        quantity=Decimal(1),
        unit_fen=Decimal(amount_fen),
        amount_fen=amount_fen,
        vat_rate_bp=600,
        period_start=start,
        period_end=end,
        plan_id=contract.plan_id,
    )
    return invoices.create(
        session,
        contract,
        reason="test",
        period_start=start,
        period_end=end,
        lines=[line],
        commission_bp=COMMISSION_BP,
        now=T0,
    )


def lines_of(invoice: Invoice) -> list[EligibleLine]:
    """The line facts billing hands over: what the line's solution accepts."""
    kinds = invoice.contract.solution.published.voucher_kinds
    return [
        EligibleLine(
            line_id=line.id,
            solution_id=invoice.contract.solution_id,
            vendor_id=invoice.vendor_id,
            amount_fen=line.amount_fen,
            voucher_kinds=list(kinds),
        )
        for line in invoice.lines
    ]


def line(
    vendor_id: int, amount_fen: int, *, kinds: tuple[str, ...] = ("cloud",), **more: Any
) -> EligibleLine:
    return EligibleLine(
        solution_id=more.pop("solution_id", 1),
        vendor_id=vendor_id,
        amount_fen=amount_fen,
        voucher_kinds=list(kinds),
        **more,
    )
