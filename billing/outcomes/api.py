"""Outcome-billing endpoints of the JSON API (DESIGN.md section 6)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint
from flask_smorest.fields import Upload

from billing.api.schemas import ContractOut
from billing.models import Contract
from billing.outcomes import baselines, evidence, invoicing, reporting, verification
from billing.outcomes.models import OutcomeReport, ReportStatus
from catalog.pricing import improvement
from marketplace.api_fields import (
    DecimalText,
    DerivedDecimalText,
    DerivedInteger,
    DerivedString,
    state,
)
from marketplace.db import db, utcnow
from marketplace.errors import Conflict
from marketplace.jsonapi import (
    ApiError,
    ErrorSchema,
    current_actor,
    row_id,
    service_call,
    token_required,
)
from marketplace.models import OrgKind
from marketplace.uploads import upload_folder

blp = Blueprint("outcome_api", __name__, url_prefix="/api/v1", description="Pay for results")


class ReportIn(ma.Schema):
    contract_id = row_id(required=True)
    period_start = ma.fields.AwareDateTime(
        required=True,
        metadata={"description": "start of one of the contract's billing periods, exactly"},
    )
    period_end = ma.fields.AwareDateTime(
        required=True, metadata={"description": "end of that billing period, exactly"}
    )
    measured = ma.fields.Decimal(required=True, places=6, as_string=True)
    evidence_url = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class DisputeIn(ma.Schema):
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class ResolveIn(ma.Schema):
    decision = ma.fields.String(
        required=True, validate=ma.validate.OneOf(["accept", "adjust", "reject"])
    )
    note = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))
    adjusted_measured = ma.fields.Decimal(places=6, as_string=True, allow_none=True)


def _billable(report_: OutcomeReport) -> Decimal:
    """The measured value the report is billed on (the operator's adjustment, if any)."""
    if report_.billable_measured is not None:
        return report_.billable_measured
    return report_.measured


def _improvement(report_: OutcomeReport) -> Decimal:
    contract = report_.contract
    direction = contract.plan.direction.value if contract.plan.direction else "increase"
    assert contract.baseline is not None  # a contract takes reports once its baseline is agreed
    return improvement(direction, contract.baseline, _billable(report_))


def _evidence_file(report_: OutcomeReport) -> str | None:
    if not report_.evidence_file:
        return None
    return f"/billing/outcome-reports/{report_.id}/evidence"


class ReportOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    contract_id = ma.fields.Integer(required=True)
    period_start = ma.fields.AwareDateTime(required=True)
    period_end = ma.fields.AwareDateTime(required=True)
    measured = DecimalText(required=True)
    baseline = DecimalText(attribute="contract.baseline", required=True)
    improvement = DerivedDecimalText(_improvement, required=True)
    charge_fen = DerivedInteger(
        lambda report_: invoicing.charge_fen(report_.contract, _billable(report_)),
        required=True,
        metadata={"description": "before the base fee"},
    )
    status = state(ReportStatus, required=True)
    confirm_by = ma.fields.AwareDateTime(required=True)
    confirmed_how = ma.fields.String(allow_none=True, required=True)
    dispute_reason = ma.fields.String(required=True)
    resolution_note = ma.fields.String(required=True)
    billable_measured = DecimalText(allow_none=True, required=True)
    invoice_id = ma.fields.Integer(allow_none=True, required=True)
    evidence_url = ma.fields.String(required=True)
    evidence_file = DerivedString(
        _evidence_file,
        allow_none=True,
        required=True,
        metadata={"description": "download path of the uploaded evidence file, if any"},
    )


class EvidenceIn(ma.Schema):
    file = Upload(required=True, metadata={"description": "PDF, PNG, JPEG, CSV or XLSX, <= 10 MB"})


def _contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None or not contract.can_view(current_actor().organization.id):
        raise ApiError(404, _("No such contract."))
    return contract


def _report(report_id: int) -> OutcomeReport:
    report_ = db.session.get(OutcomeReport, report_id)
    actor = current_actor()
    if report_ is None or not (
        report_.contract.can_view(actor.organization.id) or actor.org_kind is OrgKind.PLATFORM
    ):
        raise ApiError(404, _("No such result report."))
    return report_


@blp.post("/contracts/<int:contract_id>/confirm-baseline")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(200, ContractOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def confirm_baseline(contract_id: int) -> Contract:
    """The vendor accepts the buyer's proposed baseline: the contract becomes active."""
    contract = _contract(contract_id)
    with service_call():
        baselines.accept_baseline(db.session, contract, actor=current_actor(), now=utcnow())
    return contract


@blp.post("/outcome-reports")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(ReportIn)
@blp.response(201, ReportOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def create_report(body: dict[str, Any]) -> OutcomeReport:
    """Report the measured KPI of one of the contract's billing periods once it has ended.

    Billing periods are months counted from the moment the baseline was agreed (the first
    is the confirm-baseline answer's ``current_period_start`` to ``current_period_end``).
    Any other span answers 422 naming ``period_start`` or ``period_end`` and the period
    expected; a period reported already answers 409 (a rejected report's period may be
    reported again). The plan's cap applies to each billing period once."""
    contract = _contract(body["contract_id"])
    with service_call():
        created = reporting.report(
            db.session,
            contract,
            actor=current_actor(),
            period_start=body["period_start"],
            period_end=body["period_end"],
            measured=body["measured"],
            now=utcnow(),
            evidence_url=body["evidence_url"],
            note=body["note"],
        )
    return created


@blp.post("/outcome-reports/<int:report_id>/confirm")
@token_required([OrgKind.SME], write=True)
@blp.response(200, ReportOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def confirm_report(report_id: int) -> OutcomeReport:
    report_ = _report(report_id)
    with service_call():
        verification.confirm(db.session, report_, actor=current_actor(), now=utcnow())
    return report_


@blp.post("/outcome-reports/<int:report_id>/dispute")
@token_required([OrgKind.SME], write=True)
@blp.arguments(DisputeIn)
@blp.response(200, ReportOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def dispute_report(body: dict[str, Any], report_id: int) -> OutcomeReport:
    report_ = _report(report_id)
    with service_call():
        verification.dispute(
            db.session, report_, actor=current_actor(), reason=body["reason"], now=utcnow()
        )
    return report_


@blp.post("/outcome-reports/<int:report_id>/resolve")
@token_required([OrgKind.PLATFORM], write=True)
@blp.arguments(ResolveIn)
@blp.response(200, ReportOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def resolve_report(body: dict[str, Any], report_id: int) -> OutcomeReport:
    report_ = _report(report_id)
    with service_call():
        verification.resolve(
            db.session,
            report_,
            actor=current_actor(),
            decision=body["decision"],
            note=body["note"],
            now=utcnow(),
            adjusted=body.get("adjusted_measured"),
        )
    return report_


@blp.post("/outcome-reports/<int:report_id>/evidence")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(EvidenceIn, location="files")
@blp.response(200, ReportOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def upload_evidence(files: dict[str, Any], report_id: int) -> OutcomeReport:
    """Attach an evidence file (multipart field ``file``) to a result still awaiting the
    buyer: the type is recognised by content; only the contract's parties and the
    operator can download it."""
    report_ = _report(report_id)
    upload = files["file"]
    with service_call():
        if report_.status is not ReportStatus.SUBMITTED:
            raise Conflict(_("Evidence is added while the buyer has not decided yet."))
        if report_.evidence_file:
            raise Conflict(_("This result has an evidence file already."), field="file")
        evidence.attach(
            report_,
            actor=current_actor(),
            data=evidence.read_upload(upload.stream),
            filename=upload.filename or "",
            upload_folder=upload_folder(),
        )
    return report_
