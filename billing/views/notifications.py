"""In-app notifications: the list, worded in the reader's language, and "mark all read"."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from billing.forms import ActionForm
from billing.models import Notification
from billing.notify import message
from billing.views.common import PER_PAGE, bp, page_number, unread_notifications
from marketplace.auth import org_required
from marketplace.db import db, utcnow


def safe_link(link: str) -> str:
    """Stored links are paths on this site; anything else is not shown as a link."""
    return link if link.startswith("/") and not link.startswith("//") else ""


@bp.get("/notifications")
@org_required()
def notifications() -> str:
    org_id = g.actor.organization.id
    page = page_number(request.args.get("page"))
    query = sa.select(Notification).where(Notification.organization_id == org_id)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    )
    items = [
        {
            "text": message(n),
            "link": safe_link(n.link),
            "created_at": n.created_at,
            "unread": n.read_at is None,
            "kind": n.kind,
        }
        for n in rows
    ]
    return render_template(
        "billing/notifications.html",
        items=items,
        form=ActionForm(),
        page=page,
        pages=max((total + PER_PAGE - 1) // PER_PAGE, 1),
        any_unread=any(i["unread"] for i in items) or bool(unread_notifications()),
    )


@bp.post("/notifications/read")
@org_required(write=True)
def mark_notifications_read() -> ResponseReturnValue:
    form = ActionForm()
    if form.validate_on_submit():
        db.session.execute(
            sa.update(Notification)
            .where(
                Notification.organization_id == g.actor.organization.id,
                Notification.read_at.is_(None),
            )
            .values(read_at=utcnow())
        )
        flash(_("All notifications are marked as read."), "info")
    return redirect(url_for("billing.notifications"))
