"""Where uploaded files live: ``UPLOAD_FOLDER``, or ``instance/uploads``."""

from __future__ import annotations

from pathlib import Path

from flask import current_app


def upload_folder() -> Path:
    configured = current_app.config.get("UPLOAD_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "uploads"
