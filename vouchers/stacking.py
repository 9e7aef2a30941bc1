"""Several programs on one invoice (叠加): a city's and a district's voucher may both pay
one invoice when their officers allow it.

A program's stacking rule lists the programs it may share an invoice with and a combined
cap in basis points. Redemption (vouchers/redemptions.py) asks two things of every
program involved on the invoice (those that already paid on it and the one about to):

- each program with a rule must list every other program involved, else the new voucher
  is refused (``not_stackable``);
- for each program P with a rule, the subsidies of all programs on the invoice together
  stay within P's combined cap x P's eligible amount on the invoice (the sum of the
  eligible amounts of P's redemptions there, or, for the program about to pay, what it
  finds eligible now), so the strictest cap of the programs involved wins.

A program without a rule stacks with any program and adds no combined cap (as before
rules existed). Rules are read under the invoice's row lock that redemption holds, so two
payments racing on one invoice see each other's subsidies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.money import apply_basis_points
from vouchers import access
from vouchers.models import Program, Redemption, RedemptionStatus
from vouchers.rules_models import StackingRule

MAX_PARTNERS = 20


def rule_of(session: Session, program: Program) -> StackingRule | None:
    return session.get(StackingRule, program.id)


def rules_for(session: Session, program_ids: Iterable[int]) -> dict[int, StackingRule]:
    ids = set(program_ids)
    if not ids:
        return {}
    return {
        rule.program_id: rule
        for rule in session.scalars(sa.select(StackingRule).where(StackingRule.program_id.in_(ids)))
    }


def refusal(
    rules: dict[int, StackingRule], involved: Iterable[int], newcomer: int
) -> tuple[int, int] | None:
    """The first pair (program, other) where ``program``'s rule does not allow ``other``
    on the same invoice as the ``newcomer``, or None when all allow each other."""
    others = [p for p in dict.fromkeys(involved) if p != newcomer]
    for program_id in others:
        rule = rules.get(program_id)
        if rule is not None and not rule.allows(newcomer):
            return program_id, newcomer
    rule = rules.get(newcomer)
    if rule is not None:
        for program_id in others:
            if not rule.allows(program_id):
                return newcomer, program_id
    return None


def combined_room(
    rules: dict[int, StackingRule],
    eligible_by_program: dict[int, int],
    paid_on_invoice: int,
) -> int | None:
    """What all programs together may still pay on the invoice under the strictest
    combined cap of the programs involved; None when no program involved has a cap."""
    rooms = [
        apply_basis_points(eligible_by_program.get(program_id, 0), rule.combined_cap_bp)
        - paid_on_invoice
        for program_id, rule in rules.items()
        if program_id in eligible_by_program
    ]
    return max(0, min(rooms)) if rooms else None


def set_rule(
    session: Session,
    program: Program,
    *,
    actor: Actor,
    partner_program_ids: Sequence[int],
    combined_cap_bp: int | None,
    now: datetime,
) -> StackingRule | None:
    """Set (or, with no partners and no cap, remove) the program's stacking rule. Partners
    are other programs that exist; the cap is 1..10000 basis points. It applies to
    redemptions from now on."""
    access.require_manager(program, actor)
    partners = list(dict.fromkeys(int(p) for p in partner_program_ids if int(p) != program.id))
    if len(partners) > MAX_PARTNERS:
        raise DomainError(
            _l("At most %(n)s programs may stack with one program.", n=MAX_PARTNERS),
            field="partner_program_ids",
        )
    if partners:
        known = set(session.scalars(sa.select(Program.id).where(Program.id.in_(partners))))
        if missing := [p for p in partners if p not in known]:
            raise DomainError(
                _l("No program has the number %(id)s.", id=missing[0]),
                field="partner_program_ids",
            )
    rule = rule_of(session, program)
    before = (
        {"partners": rule.partner_program_ids, "combined_cap_bp": rule.combined_cap_bp}
        if rule
        else None
    )
    if combined_cap_bp is None and not partners:
        if rule is not None:
            session.delete(rule)
            session.flush()
            access.record(
                session,
                "voucher_program.stacking_removed",
                "voucher_program",
                program.id,
                actor,
                before=before,
            )
        return None
    if combined_cap_bp is None or not 0 < combined_cap_bp <= 10_000:
        raise DomainError(
            _l("The combined cap is a share of the eligible amount above 0% and at most 100%."),
            field="combined_cap_bp",
        )
    if combined_cap_bp < program.ratio_bp:
        raise DomainError(
            _l("The combined cap cannot be below the program's own ratio."),
            field="combined_cap_bp",
        )
    if rule is None:
        rule = StackingRule(program_id=program.id)
        session.add(rule)
    rule.partner_program_ids = partners
    rule.combined_cap_bp = combined_cap_bp
    rule.updated_by_user_id = actor.user.id
    rule.updated_at = now
    session.flush()
    access.record(
        session,
        "voucher_program.stacking_set",
        "voucher_program",
        program.id,
        actor,
        before=before,
        partners=partners,
        combined_cap_bp=combined_cap_bp,
    )
    return rule


def stacked_programs(session: Session, invoice_ids: Iterable[int]) -> dict[int, list[Program]]:
    """Per invoice, the programs whose vouchers pay it now (active redemptions), in the
    order they first paid; for the invoice page and the officer's redemption list."""
    ids = set(invoice_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Redemption.invoice_id, Program)
        .join(Program, Program.id == Redemption.program_id)
        .where(Redemption.invoice_id.in_(ids), Redemption.status == RedemptionStatus.ACTIVE)
        .order_by(Redemption.id)
    ).all()
    found: dict[int, dict[int, Program]] = {}
    for invoice_id, program in rows:
        found.setdefault(invoice_id, {}).setdefault(program.id, program)
    return {invoice_id: list(programs.values()) for invoice_id, programs in found.items()}
