"""The operator's JSON view of the outbox: list jobs by state, retry a failed or dead one."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_smorest import Blueprint

from marketplace import outbox
from marketplace.api_fields import state
from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, service_call, token_required
from marketplace.models import OrgKind
from marketplace.outbox import JobStatus, OutboxJob

blp = Blueprint("jobs_api", __name__, url_prefix="/api/v1", description="Outbox jobs")


class JobQuery(ma.Schema):
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf([s.value for s in JobStatus])
    )
    kind = ma.fields.String(load_default=None, validate=ma.validate.Length(max=80))
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(min=1, max=500))


class JobOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    status = state(JobStatus, required=True)
    attempts = ma.fields.Integer(required=True)
    next_attempt_at = ma.fields.AwareDateTime(required=True)
    last_error = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True, required=True)


class JobListOut(ma.Schema):
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True)
    items = ma.fields.List(ma.fields.Nested(JobOut), required=True)


@blp.get("/jobs")
@token_required([OrgKind.PLATFORM])
@blp.arguments(JobQuery, location="query")
@blp.response(200, JobListOut)
def list_jobs(args: dict[str, Any]) -> dict[str, object]:
    """The outbox's jobs, newest first (filter by ``status`` and ``kind``), with the count
    in each state. A failed job shows its attempts and last error."""
    query = sa.select(OutboxJob).order_by(OutboxJob.id.desc()).limit(args["limit"])
    if args["status"]:
        query = query.where(OutboxJob.status == args["status"])
    if args["kind"]:
        query = query.where(OutboxJob.kind == args["kind"])
    return {
        "counts": {status.value: n for status, n in outbox.counts(db.session).items()},
        "items": list(db.session.scalars(query)),
    }


@blp.post("/jobs/<int:job_id>/retry")
@token_required([OrgKind.PLATFORM], write=True)
@blp.response(200, JobOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def retry_job(job_id: int) -> OutboxJob:
    """Try a failed or dead job again now (a dead one with its attempts afresh)."""
    job = db.session.get(OutboxJob, job_id)
    if job is None:
        raise ApiError(404, _("No such job."))
    with service_call():
        outbox.retry(db.session, job, now=utcnow())
    return job
