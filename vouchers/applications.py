"""Applications: an enterprise applies for an amount, with the documents the program
requires (vouchers/evidence.py); the program's officer ticks each document as checked and
approves it (possibly for less), which issues the voucher, or puts it on public notice
first when the program has a notice period (vouchers/notice.py), or rejects it with a
reason. An approval above a threshold is confirmed with its amount
(vouchers/confirmations.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind
from marketplace.money import format_fen
from marketplace.states import transition
from vouchers import access, confirmations, eligibility, evidence, notice, programs, wallet
from vouchers.evidence import Upload
from vouchers.models import Application, ApplicationStatus, Program, ProgramStatus, Voucher


def apply(
    session: Session,
    program: Program,
    *,
    actor: Actor,
    requested_fen: int,
    now: datetime,
    note: str = "",
    documents: Mapping[int, Upload] | None = None,
    vendor_id: int | None = None,
    upload_folder: Path | None = None,
) -> Application:
    """The enterprise applies; refused with every failed rule (NotEligible) if it does not
    qualify, and refused (nothing stored) when a required document (``documents``: upload
    by required document id) is missing or not of a type the program takes."""
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
    if vendor_id is not None:
        vendor = session.get(Organization, vendor_id)
        in_pool = not program.vendor_whitelist or vendor_id in program.vendor_whitelist
        if vendor is None or vendor.kind is not OrgKind.VENDOR or not in_pool:
            raise DomainError(
                _l("Choose a vendor of the program's service provider pool."), field="vendor_id"
            )
    checked = evidence.check_uploads(session, program, documents or {})
    application = Application(
        program_id=program.id,
        applicant_org_id=organization.id,
        applicant_user_id=actor.user.id,
        requested_fen=requested_fen,
        note=note.strip(),
        vendor_id=vendor_id,
        status=ApplicationStatus.SUBMITTED,
        created_at=now,
    )
    session.add(application)
    session.flush()
    stored = evidence.store(session, application, checked, now=now, folder=upload_folder)
    access.record(
        session,
        "voucher_application.submitted",
        "voucher_application",
        application.id,
        actor,
        program_id=program.id,
        requested_fen=requested_fen,
        vendor_id=vendor_id,
        documents=[{"name": d.required.name, "file": d.stored_file} for d in stored],
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
    checked_documents: list[int] | None = None,
    confirm_fen: int | None = None,
) -> Voucher | None:
    """Approve for the requested amount or less, and issue the voucher, or, when the
    program has a notice period, put the approval on public notice (None is returned; the
    scheduled job issues the voucher when the notice ends). The amount must fit the
    program's remaining budget and the enterprise's remaining annual cap; every uploaded
    document must be ticked as checked (``checked_documents``: their ids); an amount above
    the threshold needs ``confirm_fen`` equal to it."""
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
    available -= programs.on_notice_fen(session, program)
    if amount > available:
        raise Conflict(
            _l("Only %(amount)s of the budget is left.", amount=format_fen(available)),
            field="amount_fen",
        )
    confirmations.require_for_approval(amount, confirm_fen)
    evidence.tick(session, application, checked_documents, actor=actor, now=now)
    application.approved_fen = amount
    application.decided_by_user_id = actor.user.id
    transition(
        application,
        ApplicationStatus.APPROVED,
        actor,
        now=now,
        data={"approved_fen": amount, "requested_fen": application.requested_fen},
    )
    if program.notice_days:
        notice.put_on_notice(session, program, application, actor=actor, now=now)
        return None
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
    application.decision_reason = reason
    application.decided_by_user_id = actor.user.id
    transition(application, ApplicationStatus.REJECTED, actor, now=now, reason=reason)
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
    transition(application, ApplicationStatus.WITHDRAWN, actor, now=now)
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
