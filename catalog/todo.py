"""The catalog's items on the operator's to-do list (see marketplace/todo.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Flask, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from catalog.models import RevisionStatus, SolutionRevision
from marketplace import todo
from marketplace.models import Organization, OrgKind
from marketplace.todo import TodoItem


def operator_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    count = session.scalar(
        sa.select(sa.func.count(SolutionRevision.id)).where(
            SolutionRevision.status == RevisionStatus.SUBMITTED
        )
    )
    if not count:
        return []
    return [
        TodoItem(
            "listings_to_review",
            _("%(count)d listing(s) to review", count=count),
            url_for("review.queue"),
        )
    ]


def install(app: Flask) -> None:
    todo.provide(app, OrgKind.PLATFORM, operator_items)
