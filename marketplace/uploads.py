"""Uploaded files: where they live (``UPLOAD_FOLDER``, or ``instance/uploads``), how an
uploaded image is opened without trusting the size its header claims, and what a document
upload (outcome evidence, a voucher application's documents) is, judged by its content."""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import Image, UnidentifiedImageError

from marketplace.errors import DomainError

# No screenshot or evidence photo needs more; a header claiming more is refused before a
# single pixel is decoded (a 68-byte PNG can claim 100,000 x 100,000 pixels: 30 GB).
MAX_IMAGE_PIXELS = 40_000_000

# Outcome evidence and application documents: at most this many bytes.
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

# The content types a document upload may be, and the extension each is stored under.
PDF = "application/pdf"
PNG = "image/png"
JPEG = "image/jpeg"
CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: "pdf", PNG: "png", JPEG: "jpg", CSV: "csv", XLSX: "xlsx"}


class ImageTooLarge(ValueError):
    """The image's header claims more pixels than we decode."""

    def __init__(self, width: int | None = None, height: int | None = None) -> None:
        super().__init__(f"image claims {width} x {height} pixels")
        self.width, self.height = width, height


def upload_folder() -> Path:
    configured = current_app.config.get("UPLOAD_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"


@contextmanager
def opened_image(data: bytes, *, max_pixels: int = MAX_IMAGE_PIXELS) -> Iterator[Image.Image]:
    """Pillow's lazy image of ``data`` (only the header read), refused with
    :class:`ImageTooLarge` when it claims more than ``max_pixels``. Pillow's own bomb check
    warns before it refuses; here both mean no. Unreadable data raises what Pillow raises."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge() from exc
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ImageTooLarge(width, height)
        yield image


def read_document(stream: IO[bytes] | None, field: str) -> bytes | None:
    """The bytes of an uploaded document, None when no file (or an empty one) was chosen;
    refused on ``field`` above :data:`MAX_DOCUMENT_BYTES` (no more than one byte past it is
    read)."""
    if stream is None:
        return None
    data = stream.read(MAX_DOCUMENT_BYTES + 1)
    if not data:
        return None
    _check_size(data, field)
    return data


def document_type(data: bytes, accepted: Collection[str], *, field: str, refusal: object) -> str:
    """The content type of an uploaded document, one of ``accepted``, from its content alone
    (never the name or type the browser sent); anything else is refused on ``field`` with
    ``refusal`` (the caller's list of what it takes).

    At most :data:`MAX_DOCUMENT_BYTES`. A PDF starts with ``%PDF-``; an XLSX is a zip with an
    Office content-types part and an ``xl/`` folder; a PNG or JPEG is an image Pillow reads
    (a header claiming too many pixels is refused before decoding); a CSV is UTF-8 text
    without NUL bytes whose first line has a comma."""
    _check_size(data, field)
    if data.startswith(b"%PDF-"):
        if PDF in accepted:
            return PDF
        raise DomainError(refusal, field=field)
    if data.startswith(b"PK\x03\x04"):
        if XLSX in accepted and _is_xlsx(data):
            return XLSX
        raise DomainError(refusal, field=field)
    if PNG in accepted or JPEG in accepted:
        try:
            with opened_image(data) as image:
                image.verify()
                kind = image.format
        except ImageTooLarge:
            raise DomainError(
                _l("The image has too many pixels; save it at a smaller size and upload it again."),
                field=field,
            ) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            kind = None
        if kind == "PNG" and PNG in accepted:
            return PNG
        if kind == "JPEG" and JPEG in accepted:
            return JPEG
    if CSV in accepted and _is_csv(data):
        return CSV
    raise DomainError(refusal, field=field)


def _check_size(data: bytes, field: str) -> None:
    if len(data) > MAX_DOCUMENT_BYTES:
        raise DomainError(_l("The file is larger than 10 MB."), field=field)


def _is_xlsx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        return False
    return "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names)


def _is_csv(data: bytes) -> bool:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    first_line = text.splitlines()[0] if text.strip() else ""
    return "\x00" not in text and "," in first_line
