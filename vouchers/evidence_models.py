"""The documents a voucher program requires with an application (营业执照, 采购合同, 承诺书)
and the files an enterprise uploaded for them, each ticked by the officer who checked it.

Files live as ``<upload folder>/voucher-documents/<random token>.<ext>``; the name the
browser sent is kept only for display (see vouchers/evidence.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum


class DocumentAccepts(LabeledEnum):
    """Which file types a required document may be."""

    PDF = "pdf", _l("PDF")
    IMAGE = "image", _l("Image (PNG or JPEG)")  # a photo or scan
    PDF_OR_IMAGE = "pdf_or_image", _l("PDF or image")

    def allows(self, content_type: str) -> bool:
        if content_type == "application/pdf":
            return self is not DocumentAccepts.IMAGE
        return self is not DocumentAccepts.PDF


class RequiredDocument(Base):
    """One document a program asks every applicant for."""

    __tablename__ = "voucher_required_documents"
    __table_args__ = (sa.UniqueConstraint("program_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), index=True)
    position: Mapped[int]  # the order the program lists them in, from 1
    name: Mapped[str] = mapped_column(sa.String(100))
    accepts: Mapped[DocumentAccepts] = mapped_column(
        enum_type(DocumentAccepts, "voucher_document_accepts")
    )

    def __repr__(self) -> str:
        return f"<RequiredDocument {self.id} program={self.program_id} {self.name!r}>"


class ApplicationDocument(Base):
    """The file an applicant uploaded for one required document."""

    __tablename__ = "voucher_application_documents"
    __table_args__ = (sa.UniqueConstraint("application_id", "required_document_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("voucher_applications.id"), index=True
    )
    required_document_id: Mapped[int] = mapped_column(
        sa.ForeignKey("voucher_required_documents.id")
    )
    stored_file: Mapped[str] = mapped_column(sa.String(100))  # name in the upload folder
    content_type: Mapped[str] = mapped_column(sa.String(100))  # from the content, not the browser
    filename: Mapped[str] = mapped_column(sa.String(200))  # as uploaded, for display
    size_bytes: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The officer's tick on the review checklist.
    checked_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    checked_at: Mapped[datetime | None]

    required: Mapped[RequiredDocument] = relationship()

    def __repr__(self) -> str:
        return (
            f"<ApplicationDocument {self.id} application={self.application_id} "
            f"{self.filename!r}{' checked' if self.checked_at else ''}>"
        )
