"""The voucher package's scheduled job: the anomaly scan of every program, so officers find
the cases waiting for them without pressing the scan button."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from marketplace import worker
from marketplace.db import db, utcnow
from vouchers import anomalies
from vouchers.models import Program, ProgramStatus

log = logging.getLogger(__name__)

SCAN_EVERY = timedelta(hours=1)


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


def install(app: Flask) -> None:
    worker.every(app, "anomaly_scan", SCAN_EVERY, scan_programs)
