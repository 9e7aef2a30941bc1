"""Voucher endpoints of the JSON API (DESIGN.md section 6): programs, applications,
vouchers, redemptions (JSON, CSV or XLSX), effectiveness figures, anomalies and
settlements. An officer sees only their own organization's programs (anything else is not
found); an enterprise only its own vouchers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Response
from flask_babel import gettext as _
from flask_smorest import Blueprint

from catalog.models import VoucherKind
from marketplace.db import MAX_ROW_ID, db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind
from marketplace.money import MAX_FEN
from marketplace.sizeclass import SizeClass
from vouchers import (
    anomalies,
    applications,
    eligibility,
    exports,
    programs,
    redemptions,
    settlements,
    stats,
    wallet,
)
from vouchers.models import (
    Anomaly,
    AnomalyStatus,
    Application,
    Program,
    ProgramStatus,
    Redemption,
    Settlement,
    Voucher,
)
from vouchers.programs import MAX_VALIDITY_DAYS
from vouchers.views.common import content_disposition

blp = Blueprint(
    "vouchers_api",
    __name__,
    url_prefix="/api/v1",
    description="Voucher programs, applications, vouchers and settlements",
)

GOVERNMENT = [OrgKind.GOVERNMENT]
ENTERPRISE = [OrgKind.SME]
_amount = ma.validate.Range(min=1, max=MAX_FEN)
_row_id = ma.validate.Range(min=1, max=MAX_ROW_ID)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- schemas -------------------------------------------------------------------------------


class ProgramIn(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    kind = ma.fields.String(
        required=True, validate=ma.validate.OneOf([k.value for k in VoucherKind])
    )
    region_prefix = ma.fields.String(
        required=True, metadata={"description": "first 2 to 6 digits of a GB/T 2260 code"}
    )
    budget_fen = ma.fields.Integer(required=True, validate=_amount)
    ratio_bp = ma.fields.Integer(
        required=True,
        validate=ma.validate.Range(min=1, max=10_000),
        metadata={"description": "subsidy ratio in basis points (5000 = 50%)"},
    )
    annual_cap_fen = ma.fields.Integer(
        required=True, validate=_amount, metadata={"description": "per enterprise, calendar year"}
    )
    invoice_cap_fen = ma.fields.Integer(load_default=None, allow_none=True, validate=_amount)
    size_classes = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf([s.value for s in SizeClass])),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    industries = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(max=3)),
        load_default=list,
        metadata={"description": "GB/T 4754 codes or sections; empty: every industry"},
    )
    vendor_whitelist = ma.fields.List(
        ma.fields.Integer(validate=_row_id),
        load_default=list,
        metadata={"description": "vendor organization ids; empty: every verified vendor"},
    )
    opens_at = ma.fields.AwareDateTime(required=True)
    closes_at = ma.fields.AwareDateTime(required=True)
    validity_days = ma.fields.Integer(
        required=True, validate=ma.validate.Range(min=1, max=MAX_VALIDITY_DAYS)
    )
    publish = ma.fields.Boolean(
        load_default=False, metadata={"description": "publish at once instead of a draft"}
    )


class ProgramOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    owner_org_id = ma.fields.Integer(required=True)
    owner_name = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    kind = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    region_prefix = ma.fields.String(required=True)
    budget_fen = ma.fields.Integer(required=True)
    available_fen = ma.fields.Integer(required=True, metadata={"description": "budget left"})
    ratio_bp = ma.fields.Integer(required=True)
    annual_cap_fen = ma.fields.Integer(required=True)
    invoice_cap_fen = ma.fields.Integer(allow_none=True, required=True)
    size_classes = ma.fields.List(ma.fields.String(), required=True)
    industries = ma.fields.List(ma.fields.String(), required=True)
    vendor_whitelist = ma.fields.List(ma.fields.Integer(), required=True)
    opens_at = ma.fields.String(required=True)
    closes_at = ma.fields.String(required=True)
    validity_days = ma.fields.Integer(required=True)
    published_at = ma.fields.String(allow_none=True, required=True)


class ProgramListArgs(ma.Schema):
    kind = ma.fields.String(validate=ma.validate.OneOf([k.value for k in VoucherKind]))


class ApplicationIn(ma.Schema):
    requested_fen = ma.fields.Integer(required=True, validate=_amount)
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class ReasonOut(ma.Schema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)


class EligibilityOut(ma.Schema):
    ok = ma.fields.Boolean(required=True)
    annual_cap_remaining_fen = ma.fields.Integer(required=True)
    reasons = ma.fields.List(ma.fields.Nested(ReasonOut), required=True)


class VoucherOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    code = ma.fields.String(required=True)
    program_id = ma.fields.Integer(required=True)
    program_name = ma.fields.String(required=True)
    holder_org_id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    face_fen = ma.fields.Integer(required=True)
    balance_fen = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    released_fen = ma.fields.Integer(required=True)
    issued_at = ma.fields.String(required=True)
    expires_at = ma.fields.String(required=True)
    usable = ma.fields.Boolean(required=True)


class ApplicationOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    program_id = ma.fields.Integer(required=True)
    applicant_org_id = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    requested_fen = ma.fields.Integer(required=True)
    approved_fen = ma.fields.Integer(allow_none=True, required=True)
    decision_reason = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)
    decided_at = ma.fields.String(allow_none=True, required=True)
    eligibility = ma.fields.Nested(EligibilityOut, required=True)
    voucher = ma.fields.Nested(VoucherOut, allow_none=True, required=True)


class ApproveIn(ma.Schema):
    approved_fen = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=_amount,
        metadata={"description": "the requested amount or less; omit to approve it all"},
    )


class RejectIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class RedemptionArgs(ma.Schema):
    format = ma.fields.String(
        load_default="json",
        validate=ma.validate.OneOf(["json", "csv", "xlsx"]),
        metadata={"description": "csv or xlsx return the export file (Chinese headers, yuan)"},
    )


class RedemptionOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    invoice_id = ma.fields.Integer(required=True)
    contract_id = ma.fields.Integer(allow_none=True, required=True)
    voucher_code = ma.fields.String(required=True)
    buyer_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    amount_fen = ma.fields.Integer(required=True)
    eligible_fen = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)
    reversed_at = ma.fields.String(allow_none=True, required=True)
    reversal_reason = ma.fields.String(required=True)
    settlement_id = ma.fields.Integer(allow_none=True, required=True)


class MonthOut(ma.Schema):
    month = ma.fields.String(required=True)
    issued_fen = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    released_fen = ma.fields.Integer(required=True)
    reserved_total_fen = ma.fields.Integer(required=True)
    redeemed_total_fen = ma.fields.Integer(required=True)
    released_total_fen = ma.fields.Integer(required=True)


class CountOut(ma.Schema):
    code = ma.fields.String(required=True)
    enterprises = ma.fields.Integer(required=True)


class VendorFiguresOut(ma.Schema):
    vendor_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    buyers = ma.fields.Integer(required=True)


class StatsOut(ma.Schema):
    program_id = ma.fields.Integer(required=True)
    budget_fen = ma.fields.Integer(required=True)
    reserved_fen = ma.fields.Integer(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    released_fen = ma.fields.Integer(required=True)
    available_fen = ma.fields.Integer(required=True)
    by_month = ma.fields.List(ma.fields.Nested(MonthOut), required=True)
    enterprises_served = ma.fields.Integer(required=True)
    by_industry = ma.fields.List(ma.fields.Nested(CountOut), required=True)
    by_district = ma.fields.List(ma.fields.Nested(CountOut), required=True)
    top_vendors = ma.fields.List(ma.fields.Nested(VendorFiguresOut), required=True)
    total_spend_fen = ma.fields.Integer(required=True)
    subsidy_fen = ma.fields.Integer(required=True)
    leverage = ma.fields.String(
        allow_none=True, required=True, metadata={"description": "total spend / subsidy"}
    )
    ran_out = ma.fields.Integer(
        required=True,
        metadata={"description": "enterprises whose vouchers all ended 3+ months ago"},
    )
    still_paying = ma.fields.Integer(
        required=True, metadata={"description": "of those, paying 3 months after"}
    )


class AnomalyArgs(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf([s.value for s in AnomalyStatus]))


class AnomalyOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    program_id = ma.fields.Integer(required=True)
    rule = ma.fields.String(required=True)
    rule_label = ma.fields.String(required=True)
    subject_key = ma.fields.String(required=True)
    redemption_id = ma.fields.Integer(allow_none=True, required=True)
    buyer_id = ma.fields.Integer(allow_none=True, required=True)
    vendor_id = ma.fields.Integer(allow_none=True, required=True)
    amount_fen = ma.fields.Integer(required=True)
    details = ma.fields.Dict(required=True)
    status = ma.fields.String(required=True)
    detected_at = ma.fields.String(required=True)
    review_note = ma.fields.String(required=True)
    reviewed_at = ma.fields.String(allow_none=True, required=True)


class SettlementIn(ma.Schema):
    vendor_id = ma.fields.Integer(required=True, validate=_row_id)
    period_start = ma.fields.AwareDateTime(required=True)
    period_end = ma.fields.AwareDateTime(
        required=True, metadata={"description": "exclusive: redemptions before this moment"}
    )


class MarkPaidIn(ma.Schema):
    bank_reference = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))


class SettlementOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    program_id = ma.fields.Integer(required=True)
    vendor_id = ma.fields.Integer(required=True)
    period_start = ma.fields.String(required=True)
    period_end = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    redeemed_fen = ma.fields.Integer(required=True)
    clawback_fen = ma.fields.Integer(required=True)
    total_fen = ma.fields.Integer(required=True)
    bank_reference = ma.fields.String(allow_none=True, required=True)
    created_at = ma.fields.String(required=True)
    approved_at = ma.fields.String(allow_none=True, required=True)
    paid_at = ma.fields.String(allow_none=True, required=True)


# --- presenters ----------------------------------------------------------------------------


def program_dict(program: Program) -> dict[str, Any]:
    return {
        "id": program.id,
        "owner_org_id": program.owner_org_id,
        "owner_name": program.owner.name,
        "name": program.name,
        "description": program.description,
        "kind": program.kind.value,
        "status": program.status.value,
        "region_prefix": program.region_prefix,
        "budget_fen": program.budget_fen,
        "available_fen": programs.figures(db.session, program).available_fen,
        "ratio_bp": program.ratio_bp,
        "annual_cap_fen": program.annual_cap_fen,
        "invoice_cap_fen": program.invoice_cap_fen,
        "size_classes": list(program.size_classes),
        "industries": list(program.industries),
        "vendor_whitelist": list(program.vendor_whitelist),
        "opens_at": program.opens_at.isoformat(),
        "closes_at": program.closes_at.isoformat(),
        "validity_days": program.validity_days,
        "published_at": _iso(program.published_at),
    }


def voucher_dict(voucher: Voucher, now: datetime) -> dict[str, Any]:
    return {
        "id": voucher.id,
        "code": voucher.code,
        "program_id": voucher.program_id,
        "program_name": voucher.program.name,
        "holder_org_id": voucher.holder_org_id,
        "kind": voucher.kind.value,
        "status": voucher.status.value,
        "face_fen": voucher.face_fen,
        "balance_fen": voucher.balance_fen,
        "redeemed_fen": voucher.redeemed_fen,
        "released_fen": voucher.released_fen,
        "issued_at": voucher.issued_at.isoformat(),
        "expires_at": voucher.expires_at.isoformat(),
        "usable": voucher.is_usable(now),
    }


def eligibility_dict(check: eligibility.Eligibility) -> dict[str, Any]:
    return {
        "ok": check.ok,
        "annual_cap_remaining_fen": check.annual_cap_remaining_fen,
        "reasons": [{"code": f.code, "message": str(f.message)} for f in check.failures],
    }


def application_dict(application: Application, now: datetime) -> dict[str, Any]:
    check = eligibility.check(
        db.session, application.program, application.applicant, now, window=False
    )
    voucher = db.session.scalar(sa.select(Voucher).where(Voucher.application_id == application.id))
    return {
        "id": application.id,
        "program_id": application.program_id,
        "applicant_org_id": application.applicant_org_id,
        "status": application.status.value,
        "requested_fen": application.requested_fen,
        "approved_fen": application.approved_fen,
        "decision_reason": application.decision_reason,
        "created_at": application.created_at.isoformat(),
        "decided_at": _iso(application.decided_at),
        "eligibility": eligibility_dict(check),
        "voucher": voucher_dict(voucher, now) if voucher else None,
    }


def redemption_dict(redemption: Redemption) -> dict[str, Any]:
    return {
        "id": redemption.id,
        "invoice_id": redemption.invoice_id,
        "contract_id": redemption.contract_id,
        "voucher_code": redemption.voucher.code,
        "buyer_id": redemption.buyer_id,
        "vendor_id": redemption.vendor_id,
        "amount_fen": redemption.amount_fen,
        "eligible_fen": redemption.eligible_fen,
        "status": redemption.status.value,
        "created_at": redemption.created_at.isoformat(),
        "reversed_at": _iso(redemption.reversed_at),
        "reversal_reason": redemption.reversal_reason,
        "settlement_id": redemption.settlement_id,
    }


def anomaly_dict(anomaly: Anomaly) -> dict[str, Any]:
    return {
        "id": anomaly.id,
        "program_id": anomaly.program_id,
        "rule": anomaly.rule.value,
        "rule_label": anomaly.rule.label,
        "subject_key": anomaly.subject_key,
        "redemption_id": anomaly.redemption_id,
        "buyer_id": anomaly.buyer_id,
        "vendor_id": anomaly.vendor_id,
        "amount_fen": anomaly.amount_fen,
        "details": anomaly.details,
        "status": anomaly.status.value,
        "detected_at": anomaly.detected_at.isoformat(),
        "review_note": anomaly.review_note,
        "reviewed_at": _iso(anomaly.reviewed_at),
    }


def settlement_dict(settlement: Settlement) -> dict[str, Any]:
    return {
        "id": settlement.id,
        "program_id": settlement.program_id,
        "vendor_id": settlement.vendor_id,
        "period_start": settlement.period_start.isoformat(),
        "period_end": settlement.period_end.isoformat(),
        "status": settlement.status.value,
        "redeemed_fen": settlement.redeemed_fen,
        "clawback_fen": settlement.clawback_fen,
        "total_fen": settlement.total_fen,
        "bank_reference": settlement.bank_reference,
        "created_at": settlement.created_at.isoformat(),
        "approved_at": _iso(settlement.approved_at),
        "paid_at": _iso(settlement.paid_at),
    }


# --- loading: another organization's object is not found -----------------------------------


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
def list_programs(args: dict[str, Any]) -> list[dict[str, Any]]:
    """Published programs whose application window is open now; no token needed."""
    kind = VoucherKind(args["kind"]) if args.get("kind") else None
    return [program_dict(p) for p in programs.open_programs(db.session, utcnow(), kind=kind)]


@blp.post("/voucher-programs")
@token_required(GOVERNMENT, write=True)
@blp.arguments(ProgramIn)
@blp.response(201, ProgramOut)
@blp.alt_response(409, schema=ErrorSchema)
def create_program(body: dict[str, Any]) -> dict[str, Any]:
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
        opens_at=body["opens_at"],
        closes_at=body["closes_at"],
        validity_days=body["validity_days"],
    )
    with service_call():
        program = programs.create_program(db.session, actor=actor, terms=terms)
        if body["publish"]:
            programs.publish_program(db.session, program, actor=actor, now=utcnow())
    return program_dict(program)


@blp.post("/voucher-programs/<int:program_id>/applications")
@token_required(ENTERPRISE, write=True)
@blp.arguments(ApplicationIn)
@blp.response(201, ApplicationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def apply(body: dict[str, Any], program_id: int) -> dict[str, Any]:
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
    return application_dict(application, now)


@blp.post("/voucher-applications/<int:application_id>/approve")
@token_required(GOVERNMENT, write=True)
@blp.arguments(ApproveIn)
@blp.response(200, ApplicationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def approve(body: dict[str, Any], application_id: int) -> dict[str, Any]:
    """Approve for the requested amount or less; the voucher is issued at once."""
    application = _own_application(application_id)
    now = utcnow()
    with service_call():
        applications.approve(
            db.session,
            application,
            actor=current_actor(),
            now=now,
            amount_fen=body["approved_fen"],
        )
    db.session.refresh(application)
    return application_dict(application, now)


@blp.post("/voucher-applications/<int:application_id>/reject")
@token_required(GOVERNMENT, write=True)
@blp.arguments(RejectIn)
@blp.response(200, ApplicationOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def reject(body: dict[str, Any], application_id: int) -> dict[str, Any]:
    application = _own_application(application_id)
    now = utcnow()
    with service_call():
        applications.reject(
            db.session, application, actor=current_actor(), reason=body["reason"], now=now
        )
    db.session.refresh(application)
    return application_dict(application, now)


@blp.get("/vouchers")
@token_required(ENTERPRISE)
@blp.response(200, VoucherOut(many=True))
def list_vouchers() -> list[dict[str, Any]]:
    """The enterprise's own vouchers with their balances, usable ones first."""
    now = utcnow()
    return [
        voucher_dict(v, now)
        for v in wallet.vouchers_of(db.session, current_actor().organization.id)
    ]


# --- the officer's books -------------------------------------------------------------------


@blp.get("/voucher-programs/<int:program_id>/redemptions")
@token_required(GOVERNMENT)
@blp.arguments(RedemptionArgs, location="query")
@blp.response(200, RedemptionOut(many=True))
@blp.doc(
    responses={
        "200": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                exports.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            }
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
    return [redemption_dict(r) for r in redemptions.redemptions_in(db.session, program)]


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
def list_anomalies(args: dict[str, Any], program_id: int) -> list[dict[str, Any]]:
    """Cases the anomaly rules found (the console's scan records them), newest first."""
    program = _own_program(program_id)
    status = AnomalyStatus(args["status"]) if args.get("status") else None
    return [anomaly_dict(a) for a in anomalies.anomalies_in(db.session, program, status=status)]


# --- settlements ---------------------------------------------------------------------------


@blp.post("/voucher-programs/<int:program_id>/settlements")
@token_required(GOVERNMENT, write=True)
@blp.arguments(SettlementIn)
@blp.response(201, SettlementOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def create_settlement(body: dict[str, Any], program_id: int) -> dict[str, Any]:
    """A draft batch of the vendor's unsettled redemptions in [period_start, period_end),
    less clawbacks due."""
    program = _own_program(program_id)
    with service_call():
        settlement = settlements.create_settlement(
            db.session,
            program,
            actor=current_actor(),
            vendor_id=body["vendor_id"],
            period_start=body["period_start"],
            period_end=body["period_end"],
            now=utcnow(),
        )
    return settlement_dict(settlement)


@blp.post("/settlements/<int:settlement_id>/approve")
@token_required(GOVERNMENT, write=True)
@blp.response(200, SettlementOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def approve_settlement(settlement_id: int) -> dict[str, Any]:
    settlement = _own_settlement(settlement_id)
    with service_call():
        settlement = settlements.approve_settlement(
            db.session, settlement, actor=current_actor(), now=utcnow()
        )
    return settlement_dict(settlement)


@blp.post("/settlements/<int:settlement_id>/mark-paid")
@token_required(GOVERNMENT, write=True)
@blp.arguments(MarkPaidIn)
@blp.response(200, SettlementOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def mark_paid(body: dict[str, Any], settlement_id: int) -> dict[str, Any]:
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
    return settlement_dict(settlement)
