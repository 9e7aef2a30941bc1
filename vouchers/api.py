"""Voucher endpoints of the JSON API (DESIGN.md section 6): programs, applications,
vouchers, redemptions (JSON, CSV or XLSX), effectiveness figures, anomalies and
settlements. An officer sees only their own organization's programs (anything else is not
found); an enterprise only its own vouchers."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_babel import gettext as _
from flask_smorest import Blueprint

from catalog.models import VoucherKind
from marketplace import dates
from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind
from marketplace.sizeclass import SizeClass
from vouchers import (
    anomalies,
    applications,
    exports,
    programs,
    redemptions,
    settlements,
    stats,
    wallet,
)
from vouchers.api_schemas import (
    AnomalyArgs,
    AnomalyOut,
    ApplicationIn,
    ApplicationOut,
    ApproveIn,
    MarkPaidIn,
    ProgramIn,
    ProgramListArgs,
    ProgramOut,
    RedemptionArgs,
    RedemptionOut,
    RejectIn,
    SettlementIn,
    SettlementOut,
    StatsOut,
    VoucherOut,
)
from vouchers.evidence import DocumentSpec
from vouchers.evidence_models import DocumentAccepts
from vouchers.models import (
    Anomaly,
    AnomalyStatus,
    Application,
    Program,
    ProgramStatus,
    Settlement,
    Voucher,
)
from vouchers.views.common import content_disposition

blp = Blueprint(
    "vouchers_api",
    __name__,
    url_prefix="/api/v1",
    description="Voucher programs, applications, vouchers and settlements",
)

GOVERNMENT = [OrgKind.GOVERNMENT]
ENTERPRISE = [OrgKind.SME]


def _own_program(program_id: int) -> Program:
    program = db.session.get(Program, program_id)
    if program is None or not program.can_manage(current_actor().organization.id):
        raise ApiError(404, _("No such voucher program."))
    return program


def _own_application(application_id: int) -> Application:
    application = db.session.get(Application, application_id)
    if application is None or not application.program.can_manage(current_actor().organization.id):
        raise ApiError(404, _("No such application."))
    return application


def _own_settlement(settlement_id: int) -> Settlement:
    settlement = db.session.get(Settlement, settlement_id)
    if settlement is None or not settlement.program.can_manage(current_actor().organization.id):
        raise ApiError(404, _("No such settlement."))
    return settlement


# --- programs and applications -------------------------------------------------------------


@blp.get("/voucher-programs")
@blp.arguments(ProgramListArgs, location="query")
@blp.response(200, ProgramOut(many=True))
def list_programs(args: dict[str, Any]) -> list[Program]:
    """Published programs whose application window is open now; no token needed."""
    kind = VoucherKind(args["kind"]) if args.get("kind") else None
    return programs.open_programs(db.session, utcnow(), kind=kind)


@blp.post("/voucher-programs")
@token_required(GOVERNMENT, write=True)
@blp.arguments(ProgramIn)
@blp.response(201, ProgramOut)
@blp.alt_response(409, schema=ErrorSchema)
def create_program(body: dict[str, Any]) -> Program:
    """A program of the token's government organization: a draft, or published at once
    with ``publish``."""
    actor = current_actor()
    terms = programs.ProgramTerms(
        name=body["name"],
        description=body["description"],
        kind=VoucherKind(body["kind"]),
        region_prefix=body["region_prefix"],
        budget_fen=body["budget_fen"],
        ratio_bp=body["ratio_bp"],
        annual_cap_fen=body["annual_cap_fen"],
        invoice_cap_fen=body["invoice_cap_fen"],
        size_classes=[SizeClass(s) for s in body["size_classes"]],
        industries=body["industries"],
        vendor_whitelist=body["vendor_whitelist"],
        opens_at=body["opens_at"] or dates.day_start(body["opens_on"]),
        closes_at=body["closes_at"] or dates.day_end(body["closes_on"]),
        validity_days=body["validity_days"],
        notice_days=body["notice_days"],
        required_documents=[
            DocumentSpec(d["name"], DocumentAccepts(d["accepts"]))
            for d in body["required_documents"]
        ],
    )
    with service_call():
        program = programs.create_program(db.session, actor=actor, terms=terms)
        if body["publish"]:
            # The same request states the budget it publishes: that is its confirmation.
            programs.publish_program(
                db.session, program, actor=actor, now=utcnow(), confirm_fen=body["budget_fen"]
            )
    return program


@blp.post("/voucher-programs/<int:program_id>/applications")
@token_required(ENTERPRISE, write=True)
@blp.arguments(ApplicationIn)
@blp.response(201, ApplicationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def apply(body: dict[str, Any], program_id: int) -> Application:
    """Apply for ``requested_fen``. An enterprise that does not qualify gets 422
    ``not_eligible`` with one entry in ``fields`` per failed rule (region, size_class,
    industry, program_closed, annual_cap, dishonest)."""
    program = db.session.get(Program, program_id)
    if program is None or program.status is ProgramStatus.DRAFT:
        raise ApiError(404, _("No such voucher program."))
    now = utcnow()
    with service_call():
        application = applications.apply(
            db.session,
            program,
            actor=current_actor(),
            requested_fen=body["requested_fen"],
            now=now,
            note=body["note"],
        )
    return application


@blp.post("/voucher-applications/<int:application_id>/approve")
@token_required(GOVERNMENT, write=True)
@blp.arguments(ApproveIn)
@blp.response(200, ApplicationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def approve(body: dict[str, Any], application_id: int) -> Application:
    """Approve for the requested amount or less; the voucher is issued at once, or when
    the program's public notice (公示) ends without an upheld objection. Every document
    of the application is listed in ``checked_documents``; above the confirmation
    threshold ``confirm_fen`` repeats the amount (409 ``confirmation_required``)."""
    application = _own_application(application_id)
    now = utcnow()
    with service_call():
        applications.approve(
            db.session,
            application,
            actor=current_actor(),
            now=now,
            amount_fen=body["approved_fen"],
            checked_documents=body["checked_documents"],
            confirm_fen=body["confirm_fen"],
        )
    db.session.refresh(application)
    return application


@blp.post("/voucher-applications/<int:application_id>/reject")
@token_required(GOVERNMENT, write=True)
@blp.arguments(RejectIn)
@blp.response(200, ApplicationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def reject(body: dict[str, Any], application_id: int) -> Application:
    application = _own_application(application_id)
    now = utcnow()
    with service_call():
        applications.reject(
            db.session, application, actor=current_actor(), reason=body["reason"], now=now
        )
    db.session.refresh(application)
    return application


@blp.get("/vouchers")
@token_required(ENTERPRISE)
@blp.response(200, VoucherOut(many=True))
def list_vouchers() -> list[Voucher]:
    """The enterprise's own vouchers with their balances, usable ones first."""
    return wallet.vouchers_of(db.session, current_actor().organization.id)


# --- the officer's books -------------------------------------------------------------------


@blp.get("/voucher-programs/<int:program_id>/redemptions")
@token_required(GOVERNMENT)
@blp.arguments(RedemptionArgs, location="query")
@blp.response(200, RedemptionOut(many=True))
@blp.doc(
    responses={
        "200": {
            "description": "JSON by default (format=json); the export file for csv or xlsx",
            "content": {
                # Given whole here: this mapping replaces the one @blp.response would write.
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/RedemptionOut"},
                    }
                },
                "text/csv": {"schema": {"type": "string"}},
                exports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
)
@blp.alt_response(404, schema=ErrorSchema)
def list_redemptions(args: dict[str, Any], program_id: int) -> Any:
    """The program's redemptions, newest first; ``format=csv`` or ``xlsx`` returns the
    export file instead (Chinese headers, amounts in yuan)."""
    program = _own_program(program_id)
    if args["format"] in ("csv", "xlsx"):
        sheet = exports.redemptions_sheet(db.session, program)
        xlsx = args["format"] == "xlsx"
        body = exports.to_xlsx(sheet) if xlsx else exports.to_csv(sheet)
        response = Response(
            body, content_type=exports.XLSX_MEDIA_TYPE if xlsx else exports.CSV_MEDIA_TYPE
        )
        response.headers["Content-Disposition"] = content_disposition(
            sheet.title, args["format"], f"redemptions-{program.id}"
        )
        return response
    return redemptions.redemptions_in(db.session, program)


@blp.get("/voucher-programs/<int:program_id>/stats")
@token_required(GOVERNMENT)
@blp.response(200, StatsOut)
@blp.alt_response(404, schema=ErrorSchema)
def program_stats(program_id: int) -> dict[str, Any]:
    """Effectiveness figures (使用效能): the budget, month by month, enterprises served by
    industry and district, top vendors, leverage and enterprises still paying."""
    program = _own_program(program_id)
    session = db.session
    figures = programs.figures(session, program)
    served = stats.enterprises_served(session, program)
    leverage = stats.leverage(session, program)
    retention = stats.still_paying(session, program, now=utcnow())
    return {
        "program_id": program.id,
        "budget_fen": figures.budget_fen,
        "reserved_fen": figures.reserved_fen,
        "redeemed_fen": figures.redeemed_fen,
        "released_fen": figures.released_fen,
        "available_fen": figures.available_fen,
        "by_month": stats.budget_by_month(session, program),
        "enterprises_served": served.enterprises,
        "by_industry": [{"code": c, "enterprises": n} for c, n in served.by_industry],
        "by_district": [{"code": c, "enterprises": n} for c, n in served.by_district],
        "top_vendors": stats.top_vendors(session, program),
        "total_spend_fen": leverage.total_spend_fen,
        "subsidy_fen": leverage.subsidy_fen,
        "leverage": None if leverage.ratio is None else str(leverage.ratio),
        "ran_out": retention.ran_out,
        "still_paying": retention.still_paying,
    }


@blp.get("/voucher-programs/<int:program_id>/anomalies")
@token_required(GOVERNMENT)
@blp.arguments(AnomalyArgs, location="query")
@blp.response(200, AnomalyOut(many=True))
@blp.alt_response(404, schema=ErrorSchema)
def list_anomalies(args: dict[str, Any], program_id: int) -> list[Anomaly]:
    """Cases the anomaly rules found (the console's scan records them), newest first."""
    program = _own_program(program_id)
    status = AnomalyStatus(args["status"]) if args.get("status") else None
    return anomalies.anomalies_in(db.session, program, status=status)


# --- settlements ---------------------------------------------------------------------------


@blp.post("/voucher-programs/<int:program_id>/settlements")
@token_required(GOVERNMENT, write=True)
@blp.arguments(SettlementIn)
@blp.response(201, SettlementOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def create_settlement(body: dict[str, Any], program_id: int) -> Settlement:
    """A draft batch of the vendor's unsettled redemptions in [period_start, period_end),
    less clawbacks due."""
    program = _own_program(program_id)
    with service_call():
        settlement = settlements.create_settlement(
            db.session,
            program,
            actor=current_actor(),
            vendor_id=body["vendor_id"],
            period_start=body["period_start"] or dates.day_start(body["first_day"]),
            period_end=body["period_end"] or dates.day_end(body["last_day"]),
            now=utcnow(),
        )
    return settlement


@blp.post("/settlements/<int:settlement_id>/approve")
@token_required(GOVERNMENT, write=True)
@blp.response(200, SettlementOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def approve_settlement(settlement_id: int) -> Settlement:
    settlement = _own_settlement(settlement_id)
    with service_call():
        settlement = settlements.approve_settlement(
            db.session, settlement, actor=current_actor(), now=utcnow()
        )
    return settlement


@blp.post("/settlements/<int:settlement_id>/mark-paid")
@token_required(GOVERNMENT, write=True)
@blp.arguments(MarkPaidIn)
@blp.response(200, SettlementOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def mark_paid(body: dict[str, Any], settlement_id: int) -> Settlement:
    """Record the bank payment of an approved batch."""
    settlement = _own_settlement(settlement_id)
    with service_call():
        settlement = settlements.mark_paid(
            db.session,
            settlement,
            actor=current_actor(),
            bank_reference=body["bank_reference"],
            now=utcnow(),
        )
    return settlement
