"""An organization's business licence (营业执照): uploaded by its owner or an administrator,
shown to the platform operator beside the USCC when verifying a vendor.

The file is checked by its content (a PDF, or a PNG or JPEG that Pillow opens within
``marketplace.uploads``' pixel limit); the name and type the browser sent are ignored. It
is stored as ``<upload folder>/licences/<random token>.<ext>``; only the organization's
members and the platform operator may open it. A new upload replaces the previous one
(the old file stays on disk: the audit log names it)."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from PIL import UnidentifiedImageError
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace import audit
from marketplace.db import Base, utcnow
from marketplace.errors import DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind
from marketplace.uploads import ImageTooLarge, opened_image

MAX_BYTES = 10 * 1024 * 1024
ACCEPTED = _l("Upload the business licence as a PDF, PNG or JPEG file.")


class BusinessLicence(Base):
    __tablename__ = "business_licences"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), unique=True)
    stored_name: Mapped[str] = mapped_column(sa.String(100))  # under <uploads>/licences/
    content_type: Mapped[str] = mapped_column(sa.String(100))
    filename: Mapped[str] = mapped_column(sa.String(200))  # as the uploader named it
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<BusinessLicence org={self.organization_id} {self.content_type}>"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


def sniff(data: bytes) -> tuple[str, str]:
    """(content type, extension) of an accepted licence file, from its content alone."""
    if data.startswith(b"%PDF-"):
        return "application/pdf", "pdf"
    try:
        with opened_image(data) as image:
            image.verify()
            kind = image.format
    except ImageTooLarge:
        raise DomainError(
            _l("The image has too many pixels; save it at a smaller size and upload it again."),
            field="licence",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        kind = None
    if kind == "PNG":
        return "image/png", "png"
    if kind == "JPEG":
        return "image/jpeg", "jpg"
    raise DomainError(ACCEPTED, field="licence")


def licence_of(session: Session, organization_id: int) -> BusinessLicence | None:
    return session.scalar(
        sa.select(BusinessLicence).where(BusinessLicence.organization_id == organization_id)
    )


def upload(
    session: Session,
    organization: Organization,
    *,
    actor: Actor,
    data: bytes,
    filename: str,
    upload_folder: Path,
    now: datetime,
) -> BusinessLicence:
    """Check and store the organization's licence; nothing is written when it is refused."""
    if actor.organization.id != organization.id or not actor.role.can_manage:
        raise NotAllowed(_l("Only the organization's owner or an administrator uploads it."))
    if not data:
        raise DomainError(_l("Choose a file."), field="licence")
    if len(data) > MAX_BYTES:
        raise DomainError(_l("The file is larger than 10 MB."), field="licence")
    content_type, extension = sniff(data)
    folder = upload_folder / "licences"
    folder.mkdir(parents=True, exist_ok=True)
    stored = f"{secrets.token_hex(16)}.{extension}"
    with (folder / stored).open("xb") as handle:
        handle.write(data)
    fields = {
        "stored_name": stored,
        "content_type": content_type,
        "filename": Path(filename or "licence").name[:200] or "licence",
        "uploaded_by_id": actor.user.id,
        "uploaded_at": now,
    }
    licence = licence_of(session, organization.id)
    if licence is None:
        licence = BusinessLicence(organization_id=organization.id, **fields)
        session.add(licence)
    else:
        for name, value in fields.items():
            setattr(licence, name, value)
    session.flush()
    audit.record(
        session,
        "organization.licence_uploaded",
        "organization",
        organization.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"file": stored, "content_type": content_type},
    )
    return licence


def may_view(organization_id: int, actor: Actor) -> bool:
    return actor.organization.id == organization_id or actor.org_kind is OrgKind.PLATFORM
