"""公示 (public notice): when a program has a notice period, an approval does not issue the
voucher at once. The approved application is listed on a public page (enterprise, amount,
vendor) from the approval until the end of the N-th working day after it (China time;
Saturdays and Sundays are skipped, public holidays are not known). Anyone signed in may
object; an officer of the program upholds the objection, which cancels the issue (the
application ends rejected with the officer's note), or dismisses it.

The scheduled job (vouchers/jobs.py) issues the voucher of every notice whose period has
ended with no objection upheld and none still open. While on notice, the approved amount
counts against the program's budget and the enterprise's annual cap, so what is issued
later always fits."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import dates
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from marketplace.states import transition
from vouchers import access, programs, wallet
from vouchers.models import Application, ApplicationStatus, Program, Voucher
from vouchers.notice_models import Notice, NoticeStatus, Objection, ObjectionStatus

MAX_NOTICE_DAYS = 30
SATURDAY = 5


def add_working_days(day: date, count: int) -> date:
    """The ``count``-th working day (Monday to Friday) after ``day``."""
    current = day
    remaining = count
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < SATURDAY:
            remaining -= 1
    return current


def notice_end(approved_at: datetime, working_days: int) -> datetime:
    """When a notice that starts at ``approved_at`` ends (exclusive): the end of its last
    working day in China. The day of approval itself does not count."""
    return dates.day_end(add_working_days(dates.first_day(approved_at), working_days))


def put_on_notice(
    session: Session, program: Program, application: Application, *, actor: Actor, now: datetime
) -> Notice:
    """List an approved application publicly (called by applications.approve)."""
    assert application.approved_fen is not None
    notice = Notice(
        program_id=program.id,
        application_id=application.id,
        applicant_org_id=application.applicant_org_id,
        amount_fen=application.approved_fen,
        starts_at=now,
        ends_at=notice_end(now, program.notice_days),
        status=NoticeStatus.IN_NOTICE,
        created_at=now,
    )
    session.add(notice)
    session.flush()
    access.record(
        session,
        "voucher_notice.started",
        "voucher_notice",
        notice.id,
        actor,
        application_id=application.id,
        program_id=program.id,
        amount_fen=notice.amount_fen,
        ends_at=notice.ends_at.isoformat(),
    )
    return notice


def pending_fen(
    session: Session,
    program_id: int,
    *,
    organization_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> int:
    """Approved amounts still on notice: promised, not yet issued."""
    query = sa.select(sa.func.coalesce(sa.func.sum(Notice.amount_fen), 0)).where(
        Notice.program_id == program_id, Notice.status == NoticeStatus.IN_NOTICE
    )
    if organization_id is not None:
        query = query.where(Notice.applicant_org_id == organization_id)
    if since is not None:
        query = query.where(Notice.starts_at >= since)
    if until is not None:
        query = query.where(Notice.starts_at < until)
    return int(session.scalar(query) or 0)


def notice_of(session: Session, application_id: int) -> Notice | None:
    return session.scalar(sa.select(Notice).where(Notice.application_id == application_id))


# --- objections -----------------------------------------------------------------------------


def object_to(
    session: Session, notice: Notice, *, actor: Actor, contact: str, reason: str, now: datetime
) -> Objection:
    """Anyone signed in objects to a listed approval while its notice runs."""
    contact, reason = contact.strip(), reason.strip()
    if not contact or len(contact) > 200:
        raise DomainError(
            _l("Give a phone number or e-mail address the officer can reach you at."),
            field="contact",
        )
    if not reason or len(reason) > 2000:
        raise DomainError(_l("Say what is wrong with this approval."), field="reason")
    if not notice.can_object(now):
        raise Conflict(_l("The notice period of this approval has ended."))
    objection = Objection(
        notice_id=notice.id,
        user_id=actor.user.id,
        contact=contact,
        reason=reason,
        status=ObjectionStatus.OPEN,
        created_at=now,
    )
    session.add(objection)
    session.flush()
    access.record(
        session,
        "voucher_objection.filed",
        "voucher_objection",
        objection.id,
        actor,
        notice_id=notice.id,
        application_id=notice.application_id,
    )
    return objection


def _locked_notice(session: Session, notice: Notice) -> tuple[Program, Notice]:
    program = programs.lock_program(session, notice.program)
    current = session.scalars(
        sa.select(Notice).where(Notice.id == notice.id).execution_options(populate_existing=True)
    ).one()
    return program, current


def decide_objection(
    session: Session,
    objection: Objection,
    *,
    actor: Actor,
    uphold: bool,
    note: str,
    now: datetime,
) -> Objection:
    """Uphold (the voucher is not issued; the application ends rejected) or dismiss."""
    access.require_manager(objection.notice.program, actor)
    note = note.strip()
    if not note:
        raise DomainError(_l("Write down what you found."), field="note")
    _program, notice = _locked_notice(session, objection.notice)
    if objection.status is not ObjectionStatus.OPEN:
        raise Conflict(_l("This objection has been decided already."))
    if uphold and notice.status is not NoticeStatus.IN_NOTICE:
        raise Conflict(_l("The voucher has been issued already; revoke it instead."))
    objection.decided_by_user_id = actor.user.id
    objection.decision_note = note
    if uphold:
        application = notice.application
        application.decision_reason = str(
            _l("An objection during the public notice was upheld: %(note)s", note=note)
        )
        application.decided_by_user_id = actor.user.id
        # the upheld objection and the cancelled notice are the record of it
        transition(application, ApplicationStatus.REJECTED, actor, now=now, audit_row=False)
    transition(
        objection,
        ObjectionStatus.UPHELD if uphold else ObjectionStatus.DISMISSED,
        actor,
        now=now,
        data={"notice_id": notice.id, "application_id": notice.application_id, "note": note},
    )
    if uphold:
        transition(
            notice,
            NoticeStatus.CANCELLED,
            actor,
            now=now,
            data={"application_id": notice.application_id, "amount_fen": notice.amount_fen},
        )
    return objection


def open_objections(session: Session, notice_id: int) -> int:
    return int(
        session.scalar(
            sa.select(sa.func.count(Objection.id)).where(
                Objection.notice_id == notice_id, Objection.status == ObjectionStatus.OPEN
            )
        )
        or 0
    )


# --- issuing --------------------------------------------------------------------------------


def due_notice_ids(session: Session, now: datetime) -> list[int]:
    """Notices whose period has ended with no objection still open."""
    has_open = (
        sa.select(Objection.id)
        .where(Objection.notice_id == Notice.id, Objection.status == ObjectionStatus.OPEN)
        .exists()
    )
    return list(
        session.scalars(
            sa.select(Notice.id)
            .where(Notice.status == NoticeStatus.IN_NOTICE, Notice.ends_at <= now, ~has_open)
            .order_by(Notice.ends_at, Notice.id)
        )
    )


def issue_after_notice(session: Session, notice: Notice, *, now: datetime) -> Voucher | None:
    """Issue the voucher of a notice that ended cleanly (the scheduled job's step); None
    when it is not due (still running, an objection open, cancelled or issued already)."""
    program, notice = _locked_notice(session, notice)
    if notice.status is not NoticeStatus.IN_NOTICE or now < notice.ends_at:
        return None
    if open_objections(session, notice.id):
        return None
    voucher = wallet.issue(session, program, notice.application, actor=None, now=now)
    notice.voucher_id = voucher.id
    transition(
        notice,
        NoticeStatus.ISSUED,
        None,
        now=now,
        action="voucher_notice.ended",
        data={"application_id": notice.application_id, "voucher_id": voucher.id},
    )
    return voucher


# --- what the pages show --------------------------------------------------------------------


def public_notices(session: Session, *, now: datetime, recent_days: int = 30) -> list[Notice]:
    """Notices running now, then those closed in the last ``recent_days`` (newest first)."""
    return list(
        session.scalars(
            sa.select(Notice)
            .where(
                sa.or_(
                    Notice.status == NoticeStatus.IN_NOTICE,
                    Notice.closed_at >= now - timedelta(days=recent_days),
                )
            )
            .order_by((Notice.status == NoticeStatus.IN_NOTICE).desc(), Notice.starts_at.desc())
        )
    )


def notices_in(session: Session, program: Program) -> list[Notice]:
    return list(
        session.scalars(
            sa.select(Notice)
            .where(Notice.program_id == program.id)
            .order_by(Notice.starts_at.desc(), Notice.id.desc())
        )
    )


def objections_in(session: Session, program: Program) -> list[Objection]:
    """The program's objections: open ones first (oldest first), then the decided."""
    return list(
        session.scalars(
            sa.select(Objection)
            .join(Notice)
            .where(Notice.program_id == program.id)
            .order_by((Objection.status == ObjectionStatus.OPEN).desc(), Objection.created_at)
        )
    )
