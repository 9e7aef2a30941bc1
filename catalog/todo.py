"""The catalog's items on the dashboards' to-do lists (see marketplace/todo.py): listings to
review for the operator; inquiries waiting for the vendor's answer, and answers the buyer
has not read."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import Flask, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from catalog import inquiries
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


def vendor_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    count = inquiries.waiting_for_vendor(session, org.id)
    if not count:
        return []
    return [
        TodoItem(
            "inquiries_waiting",
            _("%(count)d inquiry(s) waiting for an answer", count=count),
            url_for("inquiries.inbox", status="open"),
        )
    ]


def sme_items(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    count = inquiries.unread_answers(session, org.id)
    if not count:
        return []
    return [
        TodoItem(
            "inquiry_answers",
            _("%(count)d answer(s) from vendors to read", count=count),
            url_for("inquiries.buyer_threads"),
        )
    ]


def install(app: Flask) -> None:
    todo.provide(app, OrgKind.PLATFORM, operator_items)
    todo.provide(app, OrgKind.VENDOR, vendor_items)
    todo.provide(app, OrgKind.SME, sme_items)
