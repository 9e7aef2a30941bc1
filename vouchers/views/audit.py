"""The officer's audit log: the chain's verdict (from the latest signed checkpoint on, or
every row on request), then the government's own rows in words, filtered by kind of event,
person, object and China days, a page at a time, and the filtered rows as CSV or XLSX.

Filters come from the query string; one that cannot be read (a date that is not one, a
year outside 2000-2100, a first day after the last) answers 400 with the reason beside the
field, never a 500 and never rows filtered by a guess."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Response, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from marketplace import dates
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.views import audit as audit_views
from vouchers import audit_trail, audit_words, exports
from vouchers.audit_trail import SYSTEM, TrailFilter
from vouchers.views.common import OFFICER, bp, content_disposition

PER_PAGE = 50
EXPORT_LIMIT = 20_000
_KEY = re.compile(r"[a-z][a-z0-9_]{0,48}(\.[a-z0-9_]{1,48})?")


@dataclass
class FilterInput:
    """The filter as typed (to show back in the form) and what it means."""

    values: dict[str, str]
    trail: TrailFilter = field(default_factory=TrailFilter)
    errors: dict[str, str] = field(default_factory=dict)
    notice: str | None = None

    @property
    def args(self) -> dict[str, str]:
        """The filled fields, for links to other pages and to the export."""
        return {name: value for name, value in self.values.items() if value}


def _day(text: str, errors: dict[str, str], name: str) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = _("Enter a date as YYYY-MM-DD.")
        return None
    if not dates.day_in_range(day):
        errors[name] = str(dates.OUT_OF_RANGE_DAY)
        return None
    return day


def read_filter(args: MultiDict[str, str]) -> FilterInput:
    """The query string as a TrailFilter, or the reasons it is not one."""
    names = ("kind", "person", "type", "ref", "from", "to")
    values = {name: args.get(name, "").strip()[:100] for name in names}
    errors: dict[str, str] = {}
    notice = None
    action = values["kind"] or None
    if action and not _KEY.fullmatch(action):
        errors["kind"] = _("Choose a kind of event from the list.")
    person: int | None = None
    if values["person"] == "system":
        person = SYSTEM
    elif values["person"]:
        if values["person"].isdigit() and len(values["person"]) <= 18:
            person = int(values["person"])
        else:
            errors["person"] = _("Choose a person from the list.")
    subject_type = values["type"] or None
    subject_id = None
    if subject_type and not _KEY.fullmatch(subject_type):
        errors["type"] = _("Choose a kind of object from the list.")
    elif values["ref"] and not subject_type:
        errors["type"] = _("Choose what kind of object the number or name belongs to.")
    elif subject_type and values["ref"]:
        subject_id = audit_trail.subject_by_reference(db.session, subject_type, values["ref"])
        if subject_id is None:
            subject_id = "-"  # matches no row
            notice = _("Nothing of that kind is called “%(ref)s”.", ref=values["ref"])
    since = _day(values["from"], errors, "from")
    until = _day(values["to"], errors, "to")
    if since and until and since > until:
        errors["to"] = _("The last day is before the first day.")
    if errors:
        return FilterInput(values, errors=errors)
    trail = TrailFilter(action, person, subject_type, subject_id, since, until)
    return FilterInput(values, trail, notice=notice)


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), 100_000)
    except ValueError:
        return 1


def _choices(org_id: int) -> dict[str, Any]:
    session = db.session
    kinds = audit_trail.kinds(session, org_id)
    people = audit_words.person_names(session, audit_trail.people(session, org_id))
    return {
        "kind_choices": sorted(
            ((k, audit_words.event_name(k)) for k in kinds), key=lambda item: item[1]
        ),
        "person_choices": sorted(
            (("system" if i == SYSTEM else str(i), name) for i, name in people.items()),
            key=lambda item: (item[0] != "system", item[1]),
        ),
        "type_choices": [
            (t, audit_words.subject_name(t)) for t in audit_trail.subject_types(session, org_id)
        ],
    }


@bp.get("/audit")
@org_required(OFFICER)
def audit_chain() -> ResponseReturnValue:
    """Is the hash chain intact (against its signed checkpoints), and what happened in this
    government's own programs: never another government's rows."""
    org_id = g.actor.organization.id
    found = read_filter(request.args)
    context: dict[str, Any] = {
        "audit_panel": audit_views.panel(full=request.args.get("verify") == "all"),
        "filter": found,
        **_choices(org_id),
    }
    if found.errors:
        return render_template("vouchers/audit.html", lines=None, **context), 400
    total = audit_trail.count(db.session, org_id, found.trail)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = min(_page_number(request.args.get("page")), pages)
    events = audit_trail.events(
        db.session, org_id, found.trail, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return render_template(
        "vouchers/audit.html",
        lines=audit_words.describe(db.session, events),
        total=total,
        page=page,
        pages=pages,
        export_limit=EXPORT_LIMIT,
        **context,
    )


@bp.get("/audit/export.<any(csv, xlsx):fmt>")
@org_required(OFFICER)
def audit_export(fmt: str) -> ResponseReturnValue:
    """The filtered rows, newest first (at most EXPORT_LIMIT), in Chinese like every
    export."""
    org_id = g.actor.organization.id
    found = read_filter(request.args)
    if found.errors:
        context = {"audit_panel": audit_views.panel(), "filter": found, **_choices(org_id)}
        return render_template("vouchers/audit.html", lines=None, **context), 400
    events = audit_trail.events(db.session, org_id, found.trail, limit=EXPORT_LIMIT)
    with force_locale("zh_CN"):
        sheet = exports.audit_sheet(audit_words.describe(db.session, events), "审计日志")
    if fmt == "xlsx":
        body, media_type = exports.to_xlsx(sheet), exports.XLSX_MEDIA_TYPE
    else:
        body, media_type = exports.to_csv(sheet), exports.CSV_MEDIA_TYPE
    response = Response(body, content_type=media_type)
    response.headers["Content-Disposition"] = content_disposition(sheet.title, fmt, "audit-log")
    response.headers["Cache-Control"] = "no-store"
    return response
