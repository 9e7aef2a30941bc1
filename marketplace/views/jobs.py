"""The operator's view of the worker: the outbox queue by state, and the schedule's runs."""

from __future__ import annotations

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from marketplace import outbox, worker
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.models import OrgKind
from marketplace.outbox import JobStatus, OutboxJob

bp = Blueprint("jobs_console", __name__, url_prefix="/console/jobs")

operator_only = org_required([OrgKind.PLATFORM])
PER_PAGE = 50


def jobs_in(status: JobStatus, *, limit: int = PER_PAGE) -> list[OutboxJob]:
    newest_first = status in (JobStatus.DONE, JobStatus.DEAD)
    order = OutboxJob.updated_at.desc() if newest_first else OutboxJob.next_attempt_at
    return list(
        db.session.scalars(
            sa.select(OutboxJob).where(OutboxJob.status == status).order_by(order).limit(limit)
        )
    )


@bp.get("/")
@operator_only
def jobs() -> str:
    status = request.args.get("status", JobStatus.FAILED.value)
    if status not in {s.value for s in JobStatus}:
        status = JobStatus.FAILED.value
    now = utcnow()
    return render_template(
        "marketplace/console/jobs.html",
        status=status,
        counts=outbox.counts(db.session),
        jobs=jobs_in(JobStatus(status)),
        schedule=worker.schedule_states(current_app, db.session, now=now),
        form=FlaskForm(),
        now=now,
    )


@bp.post("/<int:job_id>/retry")
@operator_only
def retry(job_id: int) -> Response:
    job = db.session.get(OutboxJob, job_id)
    if job is None:
        abort(404)
    if FlaskForm().validate_on_submit():
        try:
            with db.session.begin_nested():
                outbox.retry(db.session, job, now=utcnow())
        except DomainError as error:
            flash(str(error.message), "danger")
        else:
            flash(_("Job %(id)s will be tried again.", id=job.id), "success")
    return redirect(url_for("jobs_console.jobs", status=JobStatus.PENDING.value))
