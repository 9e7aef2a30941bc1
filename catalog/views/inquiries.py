"""咨询服务商 pages: the buyer asks on a solution page and follows its threads under its
account; the vendor answers and closes them in its console inbox.

Load (a thread not of the acting organization's side is 404) -> authorize (the
decorators: organization kind, a role that writes) -> act (catalog/inquiries.py, in a
savepoint, so a refusal leaves the database as it was).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from catalog import inquiries, services
from catalog.inquiry_models import BODY_MAX, SUBJECT_MAX, Inquiry, InquiryStatus, Side
from catalog.views.storefront import localized
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.extensions import limiter
from marketplace.models import OrgKind

bp = Blueprint("inquiries", __name__)
bp.context_processor(lambda: {"localized": localized})

buyer_reads = org_required([OrgKind.SME])
buyer_writes = org_required([OrgKind.SME], write=True)
vendor_reads = org_required([OrgKind.VENDOR])
vendor_writes = org_required([OrgKind.VENDOR], write=True)
LIMITS = {"subject": SUBJECT_MAX, "body": BODY_MAX}


def _thread(inquiry_id: int, side: Side) -> Inquiry:
    found = inquiries.visible(db.session, inquiry_id, g.actor.organization.id, side)
    if found is None:
        abort(404)
    return found


def _refusal(error: DomainError) -> dict[str, str]:
    return {error.field or "form": str(error.message)}


# --- the buyer -------------------------------------------------------------------------


@bp.route("/solutions/<slug>/ask", methods=["GET", "POST"])
@limiter.limit("30 per hour", methods=["POST"])
@buyer_reads
def ask(slug: str) -> ResponseReturnValue:
    solution = services.public_solution(db.session, slug)
    if solution is None or solution.published is None:
        abort(404)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        if not g.actor.role.can_write:
            abort(403)
        try:
            with db.session.begin_nested():
                created = inquiries.ask(
                    db.session,
                    solution,
                    actor=g.actor,
                    subject=request.form.get("subject", ""),
                    body=request.form.get("body", ""),
                    now=utcnow(),
                )
        except DomainError as refused:
            errors, status = _refusal(refused), refused.status
        else:
            flash(_("Your question was sent to the vendor."), "success")
            return redirect(url_for(".buyer_thread", inquiry_id=created.id), 303)
    earlier = inquiries.threads(
        db.session, g.actor.organization.id, Side.BUYER, solution_id=solution.id
    )
    return render_template(
        "catalog/inquiries/ask.html",
        solution=solution,
        revision=solution.published,
        earlier=earlier,
        errors=errors,
        values=request.form,
        limits=LIMITS,
    ), status


@bp.get("/account/inquiries")
@buyer_reads
def buyer_threads() -> str:
    return render_template(
        "catalog/inquiries/buyer_list.html",
        threads=inquiries.threads(db.session, g.actor.organization.id, Side.BUYER),
    )


@bp.get("/account/inquiries/<int:inquiry_id>")
@buyer_reads
def buyer_thread(inquiry_id: int) -> str:
    return _render_thread(_thread(inquiry_id, Side.BUYER), Side.BUYER)


@bp.post("/account/inquiries/<int:inquiry_id>/messages")
@buyer_writes
def buyer_reply(inquiry_id: int) -> ResponseReturnValue:
    return _reply(_thread(inquiry_id, Side.BUYER), Side.BUYER)


# --- the vendor ------------------------------------------------------------------------


@bp.get("/vendor/inquiries")
@vendor_reads
def inbox() -> str:
    raw = request.args.get("status", "")
    status = InquiryStatus(raw) if raw in InquiryStatus._value2member_map_ else None
    org_id = g.actor.organization.id
    return render_template(
        "catalog/inquiries/inbox.html",
        threads=inquiries.threads(db.session, org_id, Side.VENDOR, status=status),
        status=status,
        counts=inquiries.counts_by_status(db.session, org_id),
        statuses=list(InquiryStatus),
    )


@bp.get("/vendor/inquiries/<int:inquiry_id>")
@vendor_reads
def vendor_thread(inquiry_id: int) -> str:
    return _render_thread(_thread(inquiry_id, Side.VENDOR), Side.VENDOR)


@bp.post("/vendor/inquiries/<int:inquiry_id>/messages")
@vendor_writes
def vendor_reply(inquiry_id: int) -> ResponseReturnValue:
    return _reply(_thread(inquiry_id, Side.VENDOR), Side.VENDOR)


@bp.post("/vendor/inquiries/<int:inquiry_id>/close")
@vendor_writes
def close(inquiry_id: int) -> ResponseReturnValue:
    inquiry = _thread(inquiry_id, Side.VENDOR)
    try:
        with db.session.begin_nested():
            inquiries.close(db.session, inquiry, actor=g.actor, now=utcnow())
    except DomainError as refused:
        flash(str(refused.message), "danger")
    else:
        flash(_("The thread is closed."), "success")
    return redirect(url_for(".vendor_thread", inquiry_id=inquiry.id), 303)


# --- both ------------------------------------------------------------------------------


def _render_thread(inquiry: Inquiry, side: Side, errors: dict[str, str] | None = None) -> str:
    inquiries.mark_read(db.session, inquiry, side, now=utcnow())
    return render_template(
        "catalog/inquiries/thread.html",
        inquiry=inquiry,
        side=side.value,
        errors=errors or {},
        values=request.form,
        limits=LIMITS,
    )


def _reply(inquiry: Inquiry, side: Side) -> ResponseReturnValue:
    try:
        with db.session.begin_nested():
            inquiries.reply(
                db.session, inquiry, actor=g.actor, body=request.form.get("body", ""), now=utcnow()
            )
    except DomainError as refused:
        db.session.refresh(inquiry)
        return _render_thread(inquiry, side, _refusal(refused)), refused.status
    flash(_("Your message was sent."), "success")
    endpoint = ".buyer_thread" if side is Side.BUYER else ".vendor_thread"
    return redirect(url_for(endpoint, inquiry_id=inquiry.id, _anchor="latest"), 303)
