"""Evidence files for outcome reports: checked by content, stored privately.

Accepted: PDF, PNG, JPEG (decoded with Pillow), CSV (UTF-8 text) and XLSX (a zip with
an Office content-types part), at most 10 MB. The name and type the browser sent are
ignored; files are stored as ``<upload folder>/evidence/<random token>.<ext>`` and only
the contract's buyer and vendor and the platform operator may download them.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import IO

from flask_babel import lazy_gettext as _l

from billing.outcomes.models import OutcomeReport
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.uploads import (
    CSV,
    EXTENSIONS,
    JPEG,
    MAX_DOCUMENT_BYTES,
    PDF,
    PNG,
    XLSX,
    document_type,
    read_document,
)

MAX_BYTES = MAX_DOCUMENT_BYTES
ACCEPTED = (PDF, PNG, JPEG, CSV, XLSX)


def _refuse(message: object) -> DomainError:
    return DomainError(message, field="evidence")


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) of an accepted file, from its content alone."""
    content_type = document_type(
        data,
        ACCEPTED,
        field="evidence",
        refusal=_l("Only PDF, PNG, JPEG, CSV and XLSX files are accepted."),
    )
    return content_type, EXTENSIONS[content_type]


def read_upload(stream: IO[bytes] | None) -> bytes:
    data = read_document(stream, "evidence")
    if data is None:
        raise _refuse(_l("Choose a file."))
    return data


def attach(
    report_: OutcomeReport, *, actor: Actor, data: bytes, filename: str, upload_folder: Path
) -> Path:
    """Check the file and store it for the report; nothing is written when it is refused."""
    if actor.organization.id != report_.contract.vendor_id or not actor.role.can_write:
        raise DomainError(_l("Only the contract's vendor adds evidence."), field="evidence")
    content_type, extension = sniff(data)
    folder = upload_folder / "evidence"
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.{extension}"
    path = folder / stored
    with path.open("xb") as handle:
        handle.write(data)
    report_.evidence_file = stored
    report_.evidence_content_type = content_type
    report_.evidence_filename = Path(filename or "evidence").name[:200]
    return path


def may_download(report_: OutcomeReport, actor: Actor) -> bool:
    contract = report_.contract
    return actor.organization.id in (contract.buyer_id, contract.vendor_id) or (
        actor.org_kind is OrgKind.PLATFORM
    )
