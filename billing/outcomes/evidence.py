"""Evidence files for outcome reports: checked by content, stored privately.

Accepted: PDF, PNG, JPEG (decoded with Pillow), CSV (UTF-8 text) and XLSX (a zip with
an Office content-types part), at most 10 MB. The name and type the browser sent are
ignored; files are stored as ``<upload folder>/evidence/<random token>.<ext>`` and only
the contract's buyer and vendor and the platform operator may download them.
"""

from __future__ import annotations

import io
import secrets
import zipfile
from pathlib import Path
from typing import IO

from flask_babel import lazy_gettext as _l
from PIL import UnidentifiedImageError

from billing.outcomes.models import OutcomeReport
from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.uploads import ImageTooLarge, opened_image

MAX_BYTES = 10 * 1024 * 1024


def _refuse(message: object) -> DomainError:
    return DomainError(message, field="evidence")


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) of an accepted file, from its content alone."""
    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "[Content_Types].xml" in archive.namelist() and any(
                    name.startswith("xl/") for name in archive.namelist()
                ):
                    return (
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        "xlsx",
                    )
        except zipfile.BadZipFile:
            pass
        raise _refuse(_l("Only PDF, PNG, JPEG, CSV and XLSX files are accepted."))
    try:
        with opened_image(data) as image:
            image.verify()
            kind = image.format
    except ImageTooLarge:
        raise _refuse(
            _l("The image has too many pixels; save it at a smaller size and upload it again.")
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = None
    if kind == "PNG":
        return "image/png", "png"
    if kind == "JPEG":
        return "image/jpeg", "jpg"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _refuse(_l("Only PDF, PNG, JPEG, CSV and XLSX files are accepted.")) from None
    first_line = text.splitlines()[0] if text.strip() else ""
    if "\x00" in text or "," not in first_line:
        raise _refuse(_l("Only PDF, PNG, JPEG, CSV and XLSX files are accepted."))
    return "text/csv", "csv"


def read_upload(stream: IO[bytes] | None) -> bytes:
    if stream is None:
        raise _refuse(_l("Choose a file."))
    data = stream.read(MAX_BYTES + 1)
    if not data:
        raise _refuse(_l("Choose a file."))
    if len(data) > MAX_BYTES:
        raise _refuse(_l("The file is larger than 10 MB."))
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
