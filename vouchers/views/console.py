"""A program's console for its officers, one tab per noun: applications (with the
eligibility check shown), vouchers, redemptions, settlements, anomalies and the
effectiveness dashboard (使用效能). Actions post to their own URL and come back to the tab;
a form that does not validate, or that a rule refuses, re-renders the tab with the
message next to the row it concerns (the actions are in decisions.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask import Response, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # new in WTForms 3.3; types-WTForms 3.2 lacks it

from marketplace import dates
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from vouchers import (
    anomalies,
    applications,
    confirmations,
    eligibility,
    evidence,
    exports,
    notice,
    programs,
    redemptions,
    settlements,
    wallet,
)
from vouchers.forms import (
    ActionForm,
    ApproveForm,
    MarkPaidForm,
    RejectForm,
    ReviewForm,
    RevokeForm,
    SettlementForm,
)
from vouchers.models import (
    AnomalyStatus,
    ApplicationStatus,
    Program,
    Redemption,
)
from vouchers.views import effect as effect_views
from vouchers.views.common import (
    OFFICER,
    bp,
    content_disposition,
    load_program,
    organizations_by_id,
)

TABS = ("applications", "vouchers", "redemptions", "settlements", "anomalies", "effect")
# Billing's invoice numbers, read by name: vouchers never imports billing.
_invoices = sa.table("invoices", sa.column("id"), sa.column("number"))


def render_tab(
    program: Program, tab: str, status: int = 200, **context: Any
) -> ResponseReturnValue:
    """One tab of the console, under the program's header and budget figures."""
    tab_context: Callable[[Program], dict[str, Any]] = _TAB_CONTEXT[tab]
    values = {**tab_context(program), **context}
    return render_template(
        f"vouchers/console/{tab}.html",
        program=program,
        tab=tab,
        figures=programs.figures(db.session, program),
        on_notice_fen=programs.on_notice_fen(db.session, program),
        action_form=ActionForm(formdata=None),
        may_write=g.actor.role.can_write,
        now=utcnow(),
        **values,
    ), status


def _applications(program: Program) -> dict[str, Any]:
    rows = applications.applications_for(db.session, program)
    # Awaiting review first (oldest first, as they queue), then the decided, newest first.
    waiting = [a for a in rows if a.status is ApplicationStatus.SUBMITTED]
    decided = sorted(
        (a for a in rows if a.status is not ApplicationStatus.SUBMITTED),
        key=lambda a: (a.decided_at or a.created_at, a.id),
        reverse=True,
    )
    now = utcnow()
    checks = {
        a.id: eligibility.check(db.session, program, a.applicant, now, window=False)
        for a in waiting
    }
    return {
        "waiting": waiting,
        "decided": decided,
        "checks": checks,
        # The officer's checklist beside the eligibility result.
        "documents": {a.id: evidence.documents_of(db.session, a.id) for a in waiting},
        "notices": {n.application_id: n for n in notice.notices_in(db.session, program)},
        "threshold_fen": confirmations.approval_threshold_fen(),
        "vendor_names": {
            o.id: o.name
            for o in organizations_by_id({a.vendor_id for a in waiting if a.vendor_id}).values()
        },
        "approve_form": ApproveForm(formdata=None),
        "reject_form": RejectForm(formdata=None),
        "failed": {},
    }


def _vouchers(program: Program) -> dict[str, Any]:
    return {
        "vouchers": wallet.vouchers_in(db.session, program),
        "revoke_form": RevokeForm(formdata=None),
        "failed": {},
    }


def _invoice_numbers(rows: list[Redemption]) -> dict[int, str]:
    ids = {r.invoice_id for r in rows}
    if not ids:
        return {}
    return dict(
        db.session.execute(
            sa.select(_invoices.c.id, _invoices.c.number).where(_invoices.c.id.in_(ids))
        ).all()
    )


def _redemptions(program: Program) -> dict[str, Any]:
    rows = redemptions.redemptions_in(db.session, program)
    return {
        "redemptions": rows,
        "orgs": organizations_by_id({r.buyer_id for r in rows} | {r.vendor_id for r in rows}),
        "invoice_numbers": _invoice_numbers(rows),
    }


def _vendor_choices(program: Program) -> list[SelectChoice]:
    """Vendors with redemptions in the program: the ones a batch can be made for."""
    ids = set(
        db.session.scalars(
            sa.select(Redemption.vendor_id).where(Redemption.program_id == program.id).distinct()
        )
    )
    orgs = organizations_by_id(ids)
    return [SelectChoice(org.id, org.name) for org in sorted(orgs.values(), key=lambda o: o.name)]


def settlement_form(program: Program, form: SettlementForm | None = None) -> SettlementForm:
    if form is None:
        form = SettlementForm(formdata=None)
        today = dates.first_day(utcnow())  # China's today
        form.period_start.data = (today - timedelta(days=31)).replace(day=1)
        form.period_end.data = today
    form.vendor_id.choices = _vendor_choices(program)
    return form


def _settlements(program: Program) -> dict[str, Any]:
    rows = settlements.settlements_in(db.session, program)
    return {
        "settlements": rows,
        "settlement_form": settlement_form(program),
        "paid_form": MarkPaidForm(formdata=None),
        "failed": {},
    }


def _anomalies(program: Program) -> dict[str, Any]:
    rows = anomalies.anomalies_in(db.session, program)
    ids = {a.buyer_id for a in rows if a.buyer_id} | {a.vendor_id for a in rows if a.vendor_id}
    return {
        "anomalies": rows,
        "orgs": organizations_by_id(ids),
        "review_form": ReviewForm(formdata=None),
        "open_count": sum(1 for a in rows if a.status is AnomalyStatus.OPEN),
        "failed": {},
    }


def _effect(program: Program) -> dict[str, Any]:
    return effect_views.context(program)


_TAB_CONTEXT: dict[str, Callable[[Program], dict[str, Any]]] = {
    "applications": _applications,
    "vouchers": _vouchers,
    "redemptions": _redemptions,
    "settlements": _settlements,
    "anomalies": _anomalies,
    "effect": _effect,
}


def back(program_id: int, tab: str) -> ResponseReturnValue:
    endpoint = "vouchers.program_console" if tab == "applications" else f"vouchers.program_{tab}"
    return redirect(url_for(endpoint, program_id=program_id))


# --- the tabs --------------------------------------------------------------------------------


@bp.get("/programs/<int:program_id>")
@org_required(OFFICER)
def program_console(program_id: int) -> ResponseReturnValue:
    return render_tab(load_program(program_id), "applications")


@bp.get("/programs/<int:program_id>/vouchers")
@org_required(OFFICER)
def program_vouchers(program_id: int) -> ResponseReturnValue:
    return render_tab(load_program(program_id), "vouchers")


@bp.get("/programs/<int:program_id>/redemptions")
@org_required(OFFICER)
def program_redemptions(program_id: int) -> ResponseReturnValue:
    return render_tab(load_program(program_id), "redemptions")


@bp.get("/programs/<int:program_id>/settlements")
@org_required(OFFICER)
def program_settlements(program_id: int) -> ResponseReturnValue:
    return render_tab(load_program(program_id), "settlements")


@bp.get("/programs/<int:program_id>/anomalies")
@org_required(OFFICER)
def program_anomalies(program_id: int) -> ResponseReturnValue:
    return render_tab(load_program(program_id), "anomalies")


@bp.get("/programs/<int:program_id>/effect")
@org_required(OFFICER)
def program_effect(program_id: int) -> ResponseReturnValue:
    return render_tab(load_program(program_id), "effect")


# --- exports ---------------------------------------------------------------------------------

_SHEETS = {
    "redemptions": exports.redemptions_sheet,
    "settlements": exports.settlements_sheet,
    "anomalies": exports.anomalies_sheet,
}


def export_response(program: Program, what: str, fmt: str) -> Response:
    sheet = _SHEETS[what](db.session, program)
    if fmt == "xlsx":
        body, media_type = exports.to_xlsx(sheet), exports.XLSX_MEDIA_TYPE
    else:
        body, media_type = exports.to_csv(sheet), exports.CSV_MEDIA_TYPE
    response = Response(body, content_type=media_type)
    response.headers["Content-Disposition"] = content_disposition(
        sheet.title, fmt, f"{what}-{program.id}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get(
    "/programs/<int:program_id>/export/"
    "<any(redemptions, settlements, anomalies):what>.<any(csv, xlsx):fmt>"
)
@org_required(OFFICER)
def export(program_id: int, what: str, fmt: str) -> ResponseReturnValue:
    return export_response(load_program(program_id), what, fmt)
