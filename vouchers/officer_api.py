"""The officer's console actions that had no endpoint (issue 14): a program's detail, the
anomaly scan and an anomaly's review. Each calls the service its console button calls; an
officer reaches only their own organization's programs (anything else is not found)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_babel import gettext as _
from flask_smorest import Blueprint

from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind
from vouchers import anomalies
from vouchers.api_schemas import AnomalyOut, ProgramOut
from vouchers.models import Anomaly, AnomalyStatus, Program

blp = Blueprint(
    "officer_api",
    __name__,
    url_prefix="/api/v1",
    description="Voucher officers: program detail, anomaly scan and review",
)
GOVERNMENT = [OrgKind.GOVERNMENT]


class AnomalyReviewIn(ma.Schema):
    status = ma.fields.String(
        required=True, validate=ma.validate.OneOf([AnomalyStatus.CLEARED, AnomalyStatus.CONFIRMED])
    )
    note = ma.fields.String(required=True, validate=ma.validate.Length(max=2000))


class ScanOut(ma.Schema):
    found = ma.fields.List(
        ma.fields.Nested(AnomalyOut),
        required=True,
        metadata={"description": "cases found for the first time by this scan"},
    )


def _own_program(program_id: int) -> Program:
    program = db.session.get(Program, program_id)
    if program is None or not program.can_manage(current_actor().organization.id):
        raise ApiError(404, _("No such voucher program."))
    return program


@blp.get("/voucher-programs/<int:program_id>")
@token_required(GOVERNMENT)
@blp.response(200, ProgramOut)
@blp.alt_response(404, schema=ErrorSchema)
def program_detail(program_id: int) -> Program:
    """One of your organization's programs, whatever its status."""
    return _own_program(program_id)


@blp.post("/voucher-programs/<int:program_id>/anomaly-scan")
@token_required(GOVERNMENT, write=True)
@blp.response(200, ScanOut)
@blp.alt_response(404, schema=ErrorSchema)
def scan_anomalies(program_id: int) -> dict[str, list[Anomaly]]:
    """Run every anomaly rule over the program's redemptions now (the worker also runs it
    on its schedule); a case already recorded is never recorded twice."""
    program = _own_program(program_id)
    with service_call():
        found = anomalies.scan(db.session, program, now=utcnow())
    return {"found": list(found)}


@blp.post("/anomalies/<int:anomaly_id>/review")
@token_required(GOVERNMENT, write=True)
@blp.arguments(AnomalyReviewIn)
@blp.response(200, AnomalyOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
@blp.alt_response(422, schema=ErrorSchema)
def review_anomaly(body: dict[str, Any], anomaly_id: int) -> Anomaly:
    """Record the finding: cleared (nothing wrong) or confirmed (fraud or error)."""
    anomaly = db.session.get(Anomaly, anomaly_id)
    if anomaly is None:
        raise ApiError(404, _("No such case."))
    _own_program(anomaly.program_id)
    with service_call():
        anomalies.review(
            db.session,
            anomaly,
            actor=current_actor(),
            status=AnomalyStatus(body["status"]),
            note=body["note"],
            now=utcnow(),
        )
    return anomaly
