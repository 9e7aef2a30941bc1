"""The platform's outbox handlers and scheduled jobs (see marketplace/outbox.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from marketplace import checkpoints, mail, outbox, webhooks, worker
from marketplace.db import db, utcnow
from marketplace.errors import DomainError

CHECKPOINT_EVERY = timedelta(hours=1)


def sign_checkpoint(app: Flask, _slot: datetime) -> str:
    """Sign the audit chain's head (skipped where no signing key may be used)."""
    try:
        setup, _made = checkpoints.signing_setup(app)
    except DomainError as error:
        return f"skipped: {error.message}"
    checkpoint = checkpoints.create(db.session, setup, now=utcnow())
    db.session.commit()
    checkpoints.write_missing_files(db.session, setup)
    if checkpoint is None:
        return "no new audit rows"
    return f"checkpoint {checkpoint.sequence}: {checkpoint.row_count} rows"


def install(app: Flask) -> None:
    outbox.register(app, mail.KIND, mail.deliver)
    webhooks.install(app)
    worker.every(app, "audit_checkpoint", CHECKPOINT_EVERY, sign_checkpoint)
