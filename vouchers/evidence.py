"""Application documents: the list a program requires, the files an enterprise uploads
with its application, and the officer's checklist.

A file is judged by its content, never by the name or type the browser sent: a PDF starts
with ``%PDF-``; an image is a PNG or JPEG that Pillow can read (headers claiming too many
pixels are refused before decoding, as for outcome evidence); at most 10 MB. A missing
required document, or one of a type the program does not accept, refuses the whole
application: nothing is stored. Only the applicant and the program's officers download
the files."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace.errors import DomainError
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.uploads import (
    EXTENSIONS,
    JPEG,
    PDF,
    PNG,
    document_type,
    read_document,
    upload_folder,
)
from vouchers.evidence_models import ApplicationDocument, DocumentAccepts, RequiredDocument
from vouchers.models import Application, Program

ACCEPTED = (PDF, PNG, JPEG)
MAX_DOCUMENTS = 10
FOLDER = "voucher-documents"


@dataclass(frozen=True)
class DocumentSpec:
    """One line of a program's list: what the officer types when drafting it."""

    name: str
    accepts: DocumentAccepts = DocumentAccepts.PDF_OR_IMAGE


@dataclass(frozen=True)
class Upload:
    """A file as it came in: the bytes and the name the browser gave it."""

    filename: str
    data: bytes


def document_field(required: RequiredDocument) -> str:
    """The form's (and an error's) field name for a required document."""
    return f"document_{required.id}"


def read_upload(stream: IO[bytes] | None, field: str) -> bytes | None:
    """The bytes of an uploaded file, None when no file was chosen; refused above 10 MB."""
    return read_document(stream, field)


def sniff(data: bytes, field: str) -> str:
    """The content type of an accepted file (PDF, PNG or JPEG), from its content alone;
    refused above 10 MB."""
    return document_type(
        data, ACCEPTED, field=field, refusal=_l("Only PDF, PNG and JPEG files are accepted.")
    )


# --- the program's list ---------------------------------------------------------------------


def checked_specs(specs: list[DocumentSpec]) -> list[DocumentSpec]:
    """The officer's list with blank lines dropped; refused when a name is too long or
    repeated, or there are too many."""
    clean: list[DocumentSpec] = []
    for spec in specs:
        name = spec.name.strip()
        if not name:
            continue
        if len(name) > 100:
            raise DomainError(
                _l("A document's name is at most 100 characters."), field="required_documents"
            )
        if any(other.name == name for other in clean):
            raise DomainError(
                _l("The document %(name)s is listed twice.", name=name), field="required_documents"
            )
        clean.append(DocumentSpec(name, DocumentAccepts(spec.accepts)))
    if len(clean) > MAX_DOCUMENTS:
        raise DomainError(
            _l("A program requires at most %(n)s documents.", n=MAX_DOCUMENTS),
            field="required_documents",
        )
    return clean


def required_documents(session: Session, program_id: int) -> list[RequiredDocument]:
    return list(
        session.scalars(
            sa.select(RequiredDocument)
            .where(RequiredDocument.program_id == program_id)
            .order_by(RequiredDocument.position)
        )
    )


def replace_required_documents(
    session: Session, program: Program, specs: list[DocumentSpec]
) -> list[RequiredDocument]:
    """Make the program's list ``specs`` (a draft's; the caller checked that)."""
    for old in required_documents(session, program.id):
        session.delete(old)
    session.flush()
    rows = [
        RequiredDocument(
            program_id=program.id, position=index, name=spec.name, accepts=spec.accepts
        )
        for index, spec in enumerate(specs, start=1)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def specs_of(session: Session, program_id: int) -> list[DocumentSpec]:
    return [DocumentSpec(r.name, r.accepts) for r in required_documents(session, program_id)]


# --- an application's files -----------------------------------------------------------------


def check_uploads(
    session: Session, program: Program, uploads: Mapping[int, Upload]
) -> list[tuple[RequiredDocument, Upload, str]]:
    """Every required document with its upload and content type; refused (nothing stored)
    at the first one missing, or of a type the program does not take."""
    checked = []
    for required in required_documents(session, program.id):
        field = document_field(required)
        upload = uploads.get(required.id)
        if upload is None or not upload.data:
            raise DomainError(_l("Upload the document %(name)s.", name=required.name), field=field)
        content_type = sniff(upload.data, field)
        if not required.accepts.allows(content_type):
            raise DomainError(
                _l(
                    "%(name)s must be: %(types)s.",
                    name=required.name,
                    types=required.accepts.label,
                ),
                field=field,
            )
        checked.append((required, upload, content_type))
    return checked


def store(
    session: Session,
    application: Application,
    checked: list[tuple[RequiredDocument, Upload, str]],
    *,
    now: datetime,
    folder: Path | None = None,
) -> list[ApplicationDocument]:
    """Write the checked files and their rows (after the application row exists), under
    ``folder`` (the app's upload folder unless given)."""
    rows: list[ApplicationDocument] = []
    if not checked:
        return rows
    folder = (folder or upload_folder()) / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    for required, upload, content_type in checked:
        stored = f"{secrets.token_hex(16)}.{EXTENSIONS[content_type]}"
        with (folder / stored).open("xb") as handle:
            handle.write(upload.data)
        rows.append(
            ApplicationDocument(
                application_id=application.id,
                required_document_id=required.id,
                stored_file=stored,
                content_type=content_type,
                filename=Path(upload.filename or required.name).name[:200] or required.name,
                size_bytes=len(upload.data),
                uploaded_at=now,
            )
        )
    session.add_all(rows)
    session.flush()
    return rows


def documents_of(session: Session, application_id: int) -> list[ApplicationDocument]:
    return list(
        session.scalars(
            sa.select(ApplicationDocument)
            .join(RequiredDocument)
            .where(ApplicationDocument.application_id == application_id)
            .order_by(RequiredDocument.position)
        )
    )


def tick(
    session: Session,
    application: Application,
    checked_ids: list[int] | None,
    *,
    actor: Actor,
    now: datetime,
) -> list[ApplicationDocument]:
    """The officer's checklist at approval: every document of the application must be
    ticked (ticks given now, or earlier); refused naming the first one not ticked."""
    ticked = set(checked_ids or [])
    documents = documents_of(session, application.id)
    for document in documents:
        if document.checked_at is None and document.id not in ticked:
            raise DomainError(
                _l(
                    "Tick %(name)s as checked before approving.",
                    name=document.required.name,
                ),
                field="checked_documents",
            )
    for document in documents:
        if document.checked_at is None:
            document.checked_at = now
            document.checked_by_user_id = actor.user.id
    session.flush()
    return documents


def may_download(document: ApplicationDocument, application: Application, actor: Actor) -> bool:
    """The applicant and the program's own officers (auditors included)."""
    if actor.organization.id == application.applicant_org_id:
        return True
    return actor.org_kind is OrgKind.GOVERNMENT and application.program.can_manage(
        actor.organization.id
    )
