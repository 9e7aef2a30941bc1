"""Evidence files of outcome reports, for the contract's two parties and the operator."""

from __future__ import annotations

from flask import abort, g, send_from_directory
from flask.typing import ResponseReturnValue

from billing import evidence
from billing.outcome_models import OutcomeReport
from billing.views.common import bp
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.uploads import upload_folder


@bp.get("/outcome-reports/<int:report_id>/evidence")
@org_required()
def evidence_file(report_id: int) -> ResponseReturnValue:
    report_ = db.session.get(OutcomeReport, report_id)
    if report_ is None or not report_.evidence_file or not evidence.may_download(report_, g.actor):
        abort(404)  # another organization's evidence is simply not found
    response = send_from_directory(
        upload_folder() / "evidence",
        report_.evidence_file,
        mimetype=report_.evidence_content_type,
        as_attachment=True,
        download_name=report_.evidence_filename or report_.evidence_file,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
