"""The voucher package's scheduled jobs: the anomaly scan of every program, so officers find
the cases waiting for them without pressing the scan button; and the end of public notices
(公示): the voucher of every approval whose notice period ended without an upheld or open
objection is issued."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from marketplace import worker
from marketplace.db import db, utcnow
from vouchers import anomalies, notice
from vouchers.models import Program, ProgramStatus
from vouchers.notice_models import Notice

log = logging.getLogger(__name__)

SCAN_EVERY = timedelta(hours=1)
NOTICES_EVERY = timedelta(minutes=15)


def scan_programs(app: Flask, _slot: datetime) -> str:
    """Scan every published or closed program, each in its own transaction (one program's
    failure does not undo the others' findings)."""
    program_ids = list(
        db.session.scalars(
            sa.select(Program.id).where(Program.status != ProgramStatus.DRAFT).order_by(Program.id)
        )
    )
    db.session.rollback()
    found = failed = 0
    for program_id in program_ids:
        try:
            program = db.session.get(Program, program_id)
            assert program is not None
            found += len(anomalies.scan(db.session, program, now=utcnow()))
            db.session.commit()
        except Exception:
            db.session.rollback()
            failed += 1
            log.exception("anomaly scan of program %s failed", program_id)
    result = f"{len(program_ids)} program(s) scanned, {found} new case(s)"
    if failed:
        raise RuntimeError(f"{result}; {failed} program(s) failed")
    return result


def issue_after_notices(app: Flask, slot: datetime) -> str:
    """Issue the vouchers whose notice ended cleanly by the slot's start, each in its own
    transaction. Notices end at a China midnight, which is a slot boundary, so nothing
    waits longer than one slot; and a run for a given time issues as of that time."""
    now = slot
    due = notice.due_notice_ids(db.session, now)
    db.session.rollback()
    issued = failed = 0
    for notice_id in due:
        try:
            found = db.session.get(Notice, notice_id)
            assert found is not None
            if notice.issue_after_notice(db.session, found, now=now) is not None:
                issued += 1
            db.session.commit()
        except Exception:
            db.session.rollback()
            failed += 1
            log.exception("issuing after the notice %s failed", notice_id)
    result = f"{issued} voucher(s) issued after public notice"
    if failed:
        raise RuntimeError(f"{result}; {failed} notice(s) failed")
    return result


def install(app: Flask) -> None:
    worker.every(app, "anomaly_scan", SCAN_EVERY, scan_programs)
    worker.every(app, "notice_issue", NOTICES_EVERY, issue_after_notices)
