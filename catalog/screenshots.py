"""Screenshots of a listing: checked by decoding them, stored under a random name.

An upload is accepted only when Pillow decodes it as PNG, JPEG or WebP; the file name and
the content type the browser sent are ignored. Files live in
``<upload folder>/screenshots/<random token>.<ext>`` and are served only through
``catalog.views.vendor.media``, which checks who may see the revision they belong to.
A file is shared by the revisions copied from each other, so removing a screenshot from a
draft deletes the file only when no other revision uses it, and only after the commit.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import IO, Protocol

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from PIL import UnidentifiedImageError
from sqlalchemy import event
from sqlalchemy.orm import Session

from catalog import services
from catalog.models import Screenshot, Solution
from marketplace.errors import DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.uploads import ImageTooLarge, opened_image

MAX_BYTES = 2 * 1024 * 1024
MAX_SIDE = 4000
MAX_PER_REVISION = 6
MAX_CAPTION = 120
# Pillow's format name -> (content type, file extension).
FORMATS = {
    "PNG": ("image/png", "png"),
    "JPEG": ("image/jpeg", "jpg"),
    "WEBP": ("image/webp", "webp"),
}
STORED_NAME_LENGTH = 32  # hex characters of the random token


class Upload(Protocol):
    """What a werkzeug ``FileStorage`` offers that we use."""

    stream: IO[bytes]


def _refuse(message: object) -> DomainError:
    return DomainError(message, field="screenshot")


def _read_limited(upload: Upload | None) -> bytes:
    if upload is None or getattr(upload, "stream", None) is None:
        raise _refuse(_l("Choose an image file."))
    data = upload.stream.read(MAX_BYTES + 1)
    if not data:
        raise _refuse(_l("Choose an image file."))
    if len(data) > MAX_BYTES:
        raise _refuse(_l("The image is larger than 2 MB; save it smaller and try again."))
    return data


def inspect_image(data: bytes) -> tuple[str, int, int]:
    """Decode the bytes; return (Pillow format, width, height) or refuse them."""
    try:
        with opened_image(data) as image:
            kind = image.format or ""
            width, height = image.size
            if kind not in FORMATS:
                raise _refuse(_l("Upload a PNG, JPEG or WebP image."))
            # Checked before decoding the pixels, so a huge image costs no memory.
            if width > MAX_SIDE or height > MAX_SIDE:
                raise _refuse(
                    _l(
                        "The image is %(width)d x %(height)d pixels; at most 4000 x 4000 "
                        "are allowed.",
                        width=width,
                        height=height,
                    )
                )
            image.load()  # a truncated or corrupt file fails here
    except DomainError:
        raise
    except ImageTooLarge as too_large:
        if too_large.width is None:
            raise _refuse(
                _l("The image has too many pixels; at most 4000 x 4000 are allowed.")
            ) from None
        raise _refuse(
            _l(
                "The image is %(width)d x %(height)d pixels; at most 4000 x 4000 are allowed.",
                width=too_large.width,
                height=too_large.height,
            )
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse(_l("This file is not an image we can read (PNG, JPEG or WebP).")) from None
    return kind, width, height


def screenshot_dir(upload_folder: str | Path) -> Path:
    return Path(upload_folder) / "screenshots"


def add_screenshot(
    session: Session,
    solution: Solution,
    actor: Actor,
    file_storage: Upload | None,
    upload_dir: str | Path,
    *,
    caption: str = "",
) -> Screenshot:
    """Add an image to the revision the vendor is editing (an edit of a published listing
    starts a new revision, as any other change does)."""
    if not services.can_edit(solution, actor):
        raise NotAllowed(_l("Only the vendor's members can change this listing."))
    caption = (caption or "").strip()
    if len(caption) > MAX_CAPTION:
        raise DomainError(_l("At most %(n)d characters.", n=MAX_CAPTION), field="caption")
    data = _read_limited(file_storage)
    kind, width, height = inspect_image(data)
    revision = services.editable_revision(session, solution, actor)
    if len(revision.screenshots) >= MAX_PER_REVISION:
        raise _refuse(
            _l("A listing has at most %(n)d screenshots; remove one first.", n=MAX_PER_REVISION)
        )
    content_type, extension = FORMATS[kind]
    stored_name = f"{secrets.token_hex(STORED_NAME_LENGTH // 2)}.{extension}"
    shot = Screenshot(
        position=max((s.position for s in revision.screenshots), default=-1) + 1,
        stored_name=stored_name,
        content_type=content_type,
        size_bytes=len(data),
        width=width,
        height=height,
        caption=caption,
    )
    revision.screenshots.append(shot)
    session.flush()
    _write_new_file(screenshot_dir(upload_dir) / stored_name, data)
    return shot


def remove_screenshot(
    session: Session, solution: Solution, actor: Actor, screenshot_id: int, upload_dir: str | Path
) -> None:
    """Remove a screenshot from the revision being edited."""
    if not services.can_edit(solution, actor):
        raise NotAllowed(_l("Only the vendor's members can change this listing."))
    current = solution.current
    target = next((s for s in current.screenshots if s.id == screenshot_id), None)
    if target is None:
        raise _refuse(_l("This screenshot is not part of the listing."))
    revision = services.editable_revision(session, solution, actor)
    if revision is not current:  # editing a published listing copied the screenshots
        target = next(s for s in revision.screenshots if s.stored_name == target.stored_name)
    stored_name = target.stored_name
    revision.screenshots.remove(target)
    session.flush()
    still_used = session.scalar(
        sa.select(sa.func.count())
        .select_from(Screenshot)
        .where(Screenshot.stored_name == stored_name)
    )
    if not still_used:
        _delete_after_commit(session, screenshot_dir(upload_dir) / stored_name)


def _write_new_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(path.suffix + ".part")
    with open(temporary, "xb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def _delete_after_commit(session: Session, path: Path) -> None:
    """Delete the file once the removal is committed; a rolled-back removal keeps it."""

    def delete(_session: Session) -> None:
        path.unlink(missing_ok=True)

    def forget(_session: Session) -> None:
        if event.contains(session, "after_commit", delete):
            event.remove(session, "after_commit", delete)

    event.listen(session, "after_commit", delete, once=True)
    event.listen(session, "after_rollback", forget, once=True)
