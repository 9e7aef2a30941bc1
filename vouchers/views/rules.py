"""A program's rules page for its officers: which programs it stacks with and the
combined cap, the conditions before a redemption is settled, and its co-funders; and the
co-funded programs page of a government that pays part of another's program (read only:
its share in figures and settlements)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import Organization
from vouchers import cofunding, programs, settlement_conditions, settlements, stacking
from vouchers.forms import ActionForm
from vouchers.models import Program, Redemption, RedemptionStatus
from vouchers.rules_forms import ConditionsForm, FundersForm, StackingForm
from vouchers.views.common import OFFICER, bp, load_program, refusal_status, show_refusal


def _partner_choices(program: Program) -> list[tuple[int, str]]:
    others = db.session.scalars(
        sa.select(Program)
        .where(Program.id != program.id, Program.kind == program.kind)
        .order_by(Program.id)
    )
    return [(p.id, f"#{p.id} {p.name} · {p.owner.name}") for p in others]


def _forms(program: Program) -> dict[str, Any]:
    rule = stacking.rule_of(db.session, program)
    stack = StackingForm(formdata=None)
    stack.partner_program_ids.choices = _partner_choices(program)
    if rule is not None:
        stack.partner_program_ids.data = list(rule.partner_program_ids)
        stack.combined_cap.data = rule.combined_cap_bp
    condition = settlement_conditions.condition_of(db.session, program)
    conditions = ConditionsForm(formdata=None)
    if condition is not None:
        conditions.require_fapiao.data = condition.require_fapiao
        conditions.require_acceptance.data = condition.require_acceptance
        conditions.min_days_used.data = condition.min_days_used
    funders = FundersForm(formdata=None)
    rows = cofunding.funders_of(db.session, program)
    funders.funders.data = ", ".join(f"{f.organization_id}:{f.weight}" for f in rows)
    return {"stacking_form": stack, "conditions_form": conditions, "funders_form": funders}


def render_rules(program: Program, status: int = 200, **forms: Any) -> ResponseReturnValue:
    rule = stacking.rule_of(db.session, program)
    partners = (
        {
            p.id: p
            for p in db.session.scalars(
                sa.select(Program).where(Program.id.in_(rule.partner_program_ids))
            )
        }
        if rule
        else {}
    )
    return render_template(
        "vouchers/console/rules.html",
        program=program,
        tab="rules",
        figures=programs.figures(db.session, program),
        action_form=ActionForm(formdata=None),
        may_write=g.actor.role.can_write,
        now=utcnow(),
        rule=rule,
        partners=partners,
        condition=settlement_conditions.condition_of(db.session, program),
        funder_figures=cofunding.figures(db.session, program),
        **{**_forms(program), **forms},
    ), status


@bp.get("/programs/<int:program_id>/rules")
@org_required(OFFICER)
def program_rules(program_id: int) -> ResponseReturnValue:
    return render_rules(load_program(program_id))


def _act(program: Program, form_name: str, form: Any, action: Any) -> ResponseReturnValue:
    try:
        with db.session.begin_nested():
            action()
    except DomainError as error:
        show_refusal(form, error)
        return render_rules(program, refusal_status(error), **{form_name: form})
    flash(_("The program's rules are saved."), "success")
    return redirect(url_for("vouchers.program_rules", program_id=program.id))


@bp.post("/programs/<int:program_id>/rules/stacking")
@org_required(OFFICER, write=True)
def save_stacking(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    form = StackingForm()
    form.partner_program_ids.choices = _partner_choices(program)
    if not form.validate_on_submit():
        return render_rules(program, 422, stacking_form=form)
    return _act(
        program,
        "stacking_form",
        form,
        lambda: stacking.set_rule(
            db.session,
            program,
            actor=g.actor,
            partner_program_ids=form.partner_program_ids.data or [],
            combined_cap_bp=form.combined_cap.data,
            now=utcnow(),
        ),
    )


@bp.post("/programs/<int:program_id>/rules/conditions")
@org_required(OFFICER, write=True)
def save_conditions(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    form = ConditionsForm()
    if not form.validate_on_submit():
        return render_rules(program, 422, conditions_form=form)
    return _act(
        program,
        "conditions_form",
        form,
        lambda: settlement_conditions.set_conditions(
            db.session,
            program,
            actor=g.actor,
            require_fapiao=form.require_fapiao.data,
            require_acceptance=form.require_acceptance.data,
            min_days_used=form.min_days_used.data,
            now=utcnow(),
        ),
    )


def parse_funders(text: str) -> list[tuple[int, int]]:
    """ "12:1, 15:1" -> [(12, 1), (15, 1)]; DomainError on anything else."""
    pairs = []
    for part in (p.strip() for p in text.replace("，", ",").split(",")):
        if not part:
            continue
        org, sep, weight = part.replace("：", ":").partition(":")
        if not sep or not org.strip().isdigit() or not weight.strip().isdigit():
            raise DomainError(_("Write each funder as number:share, e.g. 12:1."), field="funders")
        pairs.append((int(org), int(weight)))
    return pairs


@bp.post("/programs/<int:program_id>/rules/funders")
@org_required(OFFICER, write=True)
def save_funders(program_id: int) -> ResponseReturnValue:
    program = load_program(program_id)
    form = FundersForm()
    if not form.validate_on_submit():
        return render_rules(program, 422, funders_form=form)
    return _act(
        program,
        "funders_form",
        form,
        lambda: cofunding.set_funders(
            db.session, program, actor=g.actor, funders=parse_funders(form.funders.data or "")
        ),
    )


# --- a co-funder's view -----------------------------------------------------------------------


@bp.get("/cofunded")
@org_required(OFFICER)
def cofunded_programs() -> ResponseReturnValue:
    org_id = g.actor.organization.id
    rows = []
    for program in cofunding.cofunded_programs(db.session, org_id):
        mine = next(
            (f for f in cofunding.figures(db.session, program) if f.organization.id == org_id),
            None,
        )
        batches = [
            (s, cofunding.settlement_shares(db.session, s).get(org_id, 0))
            for s in settlements.settlements_in(db.session, program)
        ]
        rows.append((program, mine, batches))
    return render_template("vouchers/cofunded.html", rows=rows)


# --- what the settlements and redemptions tabs (and billing's invoice page) show ----------


@bp.app_template_global()
def settlement_waiting(program: Program) -> list[tuple[Any, list[str]]]:
    """The program's unsettled redemptions that do not meet its conditions, with why."""
    return [
        (r, [settlement_conditions.reason_label(code) for code in why])
        for r, why in settlement_conditions.waiting(db.session, program, now=utcnow())
    ]


@bp.app_template_global()
def settlement_holdbacks(settlement_ids: list[int]) -> dict[int, list[tuple[int, list[str]]]]:
    """Per batch, the redemptions it held back and why, as recorded when it was drafted."""
    return {
        sid: [
            (h.redemption_id, [settlement_conditions.reason_label(c) for c in h.reasons])
            for h in rows
        ]
        for sid, rows in settlement_conditions.holdbacks_of(db.session, settlement_ids).items()
    }


@bp.app_template_global()
def settlement_funder_shares(settlement: Any) -> list[tuple[str, int]]:
    """A co-funded program's batch split by funder (empty for a single funder)."""
    if not cofunding.funders_of(db.session, settlement.program):
        return []
    shares = cofunding.settlement_shares(db.session, settlement)
    names = dict(
        db.session.execute(
            sa.select(Organization.id, Organization.name).where(Organization.id.in_(shares))
        ).all()
    )
    return [(names.get(org_id, str(org_id)), amount) for org_id, amount in shares.items()]


@bp.app_template_global()
def stacked_programs(invoice_ids: list[int]) -> dict[int, list[Program]]:
    """Per invoice, the programs whose vouchers pay it (several when stacked)."""
    return stacking.stacked_programs(db.session, invoice_ids)


@bp.app_template_global()
def invoice_voucher_programs(invoice_id: int) -> list[tuple[str, int]]:
    """The programs paying one invoice and what each paid, in the order they paid."""
    rows = db.session.execute(
        sa.select(Program.name, sa.func.sum(Redemption.amount_fen))
        .join(Program, Program.id == Redemption.program_id)
        .where(Redemption.invoice_id == invoice_id, Redemption.status == RedemptionStatus.ACTIVE)
        .group_by(Program.id, Program.name)
        .order_by(sa.func.min(Redemption.id))
    ).all()
    return [(name, int(amount)) for name, amount in rows]
