"""Uploaded files: where they live (``UPLOAD_FOLDER``, or ``instance/uploads``), and how an
uploaded image is opened without trusting the size its header claims."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from PIL import Image

# No screenshot or evidence photo needs more; a header claiming more is refused before a
# single pixel is decoded (a 68-byte PNG can claim 100,000 x 100,000 pixels: 30 GB).
MAX_IMAGE_PIXELS = 40_000_000


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
