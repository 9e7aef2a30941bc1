"""The catalog's scheduled jobs (see marketplace/worker.py)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from catalog import search_log
from marketplace import worker
from marketplace.db import db

PRUNE_EVERY = timedelta(hours=6)


def prune_search_log(app: Flask, _slot: datetime) -> str:
    """Drop search log entries older than SEARCH_LOG_KEEP_DAYS. Without a worker the log
    is still pruned, by one commit in a hundred that writes to it (catalog/indexing.py)."""
    deleted = search_log.prune(db.session, keep_days=app.config["SEARCH_LOG_KEEP_DAYS"])
    db.session.commit()
    return f"{deleted} search log entries pruned"


def install(app: Flask) -> None:
    worker.every(app, "search_log_prune", PRUNE_EVERY, prune_search_log)
