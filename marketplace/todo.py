"""The to-do list at the top of each dashboard: what waits for this organization, each
item a link to where it is done.

The platform does not know billing or vouchers (they import it, not the reverse), so each
package registers, at app creation, a provider per kind of organization with
:func:`provide`; the dashboard asks :func:`items_for`. A provider answers with a few
aggregate queries (counts, sums, the nearest date), never one query per row, and lists only
what is not done yet, so an item disappears when the work is done. Another package (say
fapiao requests for vendors) adds its items by calling ``provide`` from its own install.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import Flask, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace.models import Organization, OrgKind, Verification


@dataclass(frozen=True)
class TodoItem:
    key: str  # stable, for tests and the page's data attribute: "invoices_overdue"
    text: str  # worded in the reader's language: "2 invoices overdue: ¥1,998.00"
    link: str
    urgent: bool = False  # shown in red: overdue, a deadline within days


Provider = Callable[[Session, Organization, datetime], list[TodoItem]]


def _providers(app: Flask) -> dict[OrgKind, list[Provider]]:
    return app.extensions.setdefault("marketplace.todo", {})


def provide(app: Flask, kind: OrgKind, provider: Provider) -> None:
    """Register ``provider`` for organizations of ``kind`` (called from a package's install)."""
    _providers(app).setdefault(kind, []).append(provider)


def items_for(app: Flask, session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    """Every open item for ``org``, urgent ones first, in the providers' order otherwise."""
    items = [
        item
        for provider in _providers(app).get(org.kind, [])
        for item in provider(session, org, now)
    ]
    return sorted(items, key=lambda item: not item.urgent)


def _vendors_to_verify(session: Session, org: Organization, now: datetime) -> list[TodoItem]:
    count = session.scalar(
        sa.select(sa.func.count(Organization.id)).where(
            Organization.kind == OrgKind.VENDOR,
            Organization.verification == Verification.PENDING,
        )
    )
    if not count:
        return []
    return [
        TodoItem(
            "vendors_to_verify",
            _("%(count)d vendor(s) to verify", count=count),
            url_for("console.vendors"),
        )
    ]


def install(app: Flask) -> None:
    provide(app, OrgKind.PLATFORM, _vendors_to_verify)
