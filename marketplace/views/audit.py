"""What the audit pages share (the officer's in vouchers, the operator's in the console):
the verdict in the reader's language, the checkpoints with their download, the public keys
an officer checks a downloaded checkpoint with."""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app
from flask_babel import format_number
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from marketplace import audit, audit_keys, checkpoints, worker
from marketplace.auth import org_required
from marketplace.db import db
from marketplace.models import OrgKind

bp = Blueprint("audit", __name__, url_prefix="/audit")

# Officers and the operator read the audit log; its checkpoints cover the whole chain and
# say nothing about any organization (a row count and a hash).
READERS = (OrgKind.GOVERNMENT, OrgKind.PLATFORM)
LATEST_CHECKPOINTS = 20


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    base64: str
    pem: str
    signs_now: bool


@dataclass(frozen=True)
class AuditPanel:
    """Everything the verdict and checkpoint part of an audit page shows."""

    result: audit.VerifyResult
    verdict: str
    notice: str | None
    checkpoints: list[checkpoints.AuditCheckpoint]
    keys: list[PublicKey]
    key_problem: str | None


def describe(result: audit.VerifyResult) -> str:
    """The verification's verdict in the reader's language."""
    seq, row, n = result.first_bad_checkpoint, result.first_bad, result.checked
    rows = format_number(n)
    if result.ok and result.from_checkpoint is not None:
        return _(
            "The chain is intact (%(n)s rows): signed checkpoint %(seq)s and every row after "
            "it match; the rows before it were checked in full when it was signed.",
            n=rows,
            seq=result.from_checkpoint,
        )
    if result.ok:
        return _(
            "The chain is intact: %(n)s rows checked, %(k)s signed checkpoints match.",
            n=rows,
            k=result.checkpoints_checked,
        )
    messages = {
        "checkpoint_mismatch": lambda: _(
            "Row %(row)s is not the row signed checkpoint %(seq)s names: the log was "
            "rewritten after row number %(n)s and its hashes recomputed.",
            row=row,
            seq=seq,
            n=n,
        ),
        "truncated": lambda: _(
            "Rows were deleted: the log has %(n)s rows, fewer than signed checkpoint "
            "%(seq)s covers.",
            n=n,
            seq=seq,
        ),
        "checkpoint_invalid": lambda: _(
            "Checkpoint %(seq)s does not carry a valid signature by a configured audit key: "
            "it was changed or forged.",
            seq=seq,
        ),
        "checkpoint_missing": lambda: _(
            "Checkpoint %(seq)s was deleted from the database.", seq=seq
        ),
        "checkpoint_not_in_database": lambda: _(
            "Checkpoint %(seq)s is in the checkpoint folder but was deleted from the database.",
            seq=seq,
        ),
        "keys_unreadable": lambda: _("The audit keys in the configuration cannot be read."),
    }
    if result.code in messages:
        return messages[result.code]()
    return _(
        "The chain is broken at row %(row)s (%(n)s rows before it are intact).",
        row=row,
        n=rows,
    )


def _notice(result: audit.VerifyResult) -> str | None:
    if result.notice == checkpoints.NOTICE_NO_KEY:
        return _(
            "No audit signing key is configured: new rows are not anchored outside the "
            "database until the operator sets one."
        )
    if result.notice == checkpoints.NOTICE_NO_CHECKPOINT:
        return _(
            "No checkpoint has been signed yet, so a rewrite with recomputed hashes or "
            "deleted newest rows would not be caught."
        )
    return None


def _signing_failed_last(session: Session) -> bool:
    """Did the latest checkpoint job fail (a whole walk found the chain broken)?"""
    ok = session.scalar(
        sa.select(worker.ScheduleRun.ok)
        .where(worker.ScheduleRun.name == "audit_checkpoint", worker.ScheduleRun.ok.is_not(None))
        .order_by(worker.ScheduleRun.slot_start.desc())
        .limit(1)
    )
    return ok is False


def panel(*, full: bool = False) -> AuditPanel:
    """Verify the chain and gather the checkpoints and keys, for the acting reader.

    A page view walks only the rows after the latest signed checkpoint (the whole chain was
    walked when it was signed); ``full`` walks every row, as does a view after a failed
    signing job, so a fault the schedule found is named here too."""
    keys: list[PublicKey] = []
    key_problem = None
    try:
        keyring = checkpoints.setup_for(current_app).keyring
    except audit_keys.AuditKeyError as error:
        key_problem = str(error)
    else:
        for key_id, key in keyring.public.items():
            keys.append(
                PublicKey(
                    key_id,
                    audit_keys.public_base64(key),
                    audit_keys.public_pem(key),
                    key_id == keyring.signer_id,
                )
            )
    from_latest = not full and not _signing_failed_last(db.session)
    result = checkpoints.verify_app(db.session, current_app, from_latest=from_latest)
    return AuditPanel(
        result=result,
        verdict=describe(result),
        notice=_notice(result),
        checkpoints=checkpoints.listing(db.session, limit=LATEST_CHECKPOINTS),
        keys=sorted(keys, key=lambda k: not k.signs_now),
        key_problem=key_problem,
    )


@bp.get("/checkpoints/<int:sequence>.json")
@org_required(READERS)
def download_checkpoint(sequence: int) -> Response:
    """The signed checkpoint as a file the officer keeps and checks offline."""
    checkpoint = db.session.get(checkpoints.AuditCheckpoint, sequence)
    if checkpoint is None:
        abort(404)
    body = json.dumps(checkpoint.document(), indent=2, sort_keys=True, ensure_ascii=False)
    return Response(
        body + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{checkpoint.file_name}"'},
    )
