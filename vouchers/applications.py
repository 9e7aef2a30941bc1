"""Applications: an enterprise applies for an amount, the program's officer approves it
(possibly for less), which issues the voucher, or rejects it with a reason."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.money import format_fen
from vouchers import access, eligibility, programs, wallet
from vouchers.models import Application, ApplicationStatus, Program, ProgramStatus, Voucher


def apply(
    session: Session,
    program: Program,
    *,
    actor: Actor,
    requested_fen: int,
    now: datetime,
    note: str = "",
) -> Application:
    """The enterprise applies; refused with every failed rule (NotEligible) if it does not
    qualify."""
    access.require_enterprise(actor)
    organization = actor.organization
    check = eligibility.check(session, program, organization, now)
    if not check.ok:
        raise eligibility.NotEligible(check)
    if isinstance(requested_fen, bool) or not isinstance(requested_fen, int) or requested_fen <= 0:
        raise DomainError(_l("Ask for an amount of more than zero."), field="requested_fen")
    if requested_fen > check.annual_cap_remaining_fen:
        raise DomainError(
            _l(
                "You can ask for at most %(amount)s this year.",
                amount=format_fen(check.annual_cap_remaining_fen),
            ),
            field="requested_fen",
        )
    pending = session.scalar(
        sa.select(Application.id).where(
            Application.program_id == program.id,
            Application.applicant_org_id == organization.id,
            Application.status == ApplicationStatus.SUBMITTED,
        )
    )
    if pending is not None:
        raise Conflict(_l("Your earlier application to this program is still being reviewed."))
    application = Application(
        program_id=program.id,
        applicant_org_id=organization.id,
        applicant_user_id=actor.user.id,
        requested_fen=requested_fen,
        note=note.strip(),
        status=ApplicationStatus.SUBMITTED,
        created_at=now,
    )
    session.add(application)
    session.flush()
    access.record(
        session,
        "voucher_application.submitted",
        "voucher_application",
        application.id,
        actor,
        program_id=program.id,
        requested_fen=requested_fen,
    )
    return application


def _locked(session: Session, application: Application) -> tuple[Program, Application]:
    """Lock the program (approvals of one program queue on it), then reload the
    application as it is now."""
    program = programs.lock_program(session, application.program)
    current = session.scalars(
        sa.select(Application)
        .where(Application.id == application.id)
        .execution_options(populate_existing=True)
    ).one()
    return program, current


def approve(
    session: Session,
    application: Application,
    *,
    actor: Actor,
    now: datetime,
    amount_fen: int | None = None,
) -> Voucher:
    """Approve for the requested amount or less, and issue the voucher. The amount must fit
    the program's remaining budget and the enterprise's remaining annual cap."""
    access.require_manager(application.program, actor)
    program, application = _locked(session, application)
    if application.status is not ApplicationStatus.SUBMITTED:
        raise Conflict(_l("This application has been decided already."))
    if program.status is not ProgramStatus.PUBLISHED:
        raise Conflict(_l("The program is not published; nothing can be approved."))
    amount = application.requested_fen if amount_fen is None else amount_fen
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise DomainError(_l("Approve an amount of more than zero."), field="amount_fen")
    if amount > application.requested_fen:
        raise DomainError(_l("You can approve the requested amount or less."), field="amount_fen")
    check = eligibility.check(session, program, application.applicant, now, window=False)
    blocking = [f for f in check.failures if f.code != "annual_cap"]
    if blocking:
        raise eligibility.NotEligible(
            eligibility.Eligibility(tuple(blocking), check.annual_cap_remaining_fen)
        )
    if amount > check.annual_cap_remaining_fen:
        raise DomainError(
            _l(
                "The enterprise can receive at most %(amount)s more this year.",
                amount=format_fen(check.annual_cap_remaining_fen),
            ),
            field="amount_fen",
        )
    available = programs.figures(session, program).available_fen
    if amount > available:
        raise Conflict(
            _l("Only %(amount)s of the budget is left.", amount=format_fen(available)),
            field="amount_fen",
        )
    application.status = ApplicationStatus.APPROVED
    application.approved_fen = amount
    application.decided_by_user_id = actor.user.id
    application.decided_at = now
    session.flush()
    access.record(
        session,
        "voucher_application.approved",
        "voucher_application",
        application.id,
        actor,
        approved_fen=amount,
        requested_fen=application.requested_fen,
    )
    return wallet.issue(session, program, application, actor=actor, now=now)


def reject(
    session: Session, application: Application, *, actor: Actor, reason: str, now: datetime
) -> Application:
    access.require_manager(application.program, actor)
    reason = reason.strip()
    if not reason:
        raise DomainError(
            _l("Tell the enterprise why the application is rejected."), field="reason"
        )
    _program, application = _locked(session, application)
    if application.status is not ApplicationStatus.SUBMITTED:
        raise Conflict(_l("This application has been decided already."))
    application.status = ApplicationStatus.REJECTED
    application.decision_reason = reason
    application.decided_by_user_id = actor.user.id
    application.decided_at = now
    session.flush()
    access.record(
        session,
        "voucher_application.rejected",
        "voucher_application",
        application.id,
        actor,
        reason=reason,
    )
    return application


def withdraw(
    session: Session, application: Application, *, actor: Actor, now: datetime
) -> Application:
    access.require_enterprise(actor)
    if application.applicant_org_id != actor.organization.id:
        raise NotAllowed(_l("This is another organization's application."))
    _program, application = _locked(session, application)
    if application.status is not ApplicationStatus.SUBMITTED:
        raise Conflict(_l("This application has been decided already."))
    application.status = ApplicationStatus.WITHDRAWN
    application.decided_at = now
    session.flush()
    access.record(
        session, "voucher_application.withdrawn", "voucher_application", application.id, actor
    )
    return application


def applications_for(
    session: Session, program: Program, *, status: ApplicationStatus | None = None
) -> list[Application]:
    """The officer's review queue (oldest first)."""
    query = sa.select(Application).where(Application.program_id == program.id)
    if status is not None:
        query = query.where(Application.status == status)
    return list(session.scalars(query.order_by(Application.created_at, Application.id)))


def applications_of(session: Session, organization_id: int) -> list[Application]:
    """An enterprise's own applications, newest first."""
    return list(
        session.scalars(
            sa.select(Application)
            .where(Application.applicant_org_id == organization_id)
            .order_by(Application.created_at.desc(), Application.id.desc())
        )
    )
