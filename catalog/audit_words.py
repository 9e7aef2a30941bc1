"""catalog's audit events in words (marketplace.audit_words reads them on audit pages)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l

from marketplace import audit_words

EVENT_NAMES: dict[str, Any] = {
    "solution.created": _l("Listing created"),
    "solution.submitted": _l("Listing submitted for review"),
    "solution.approved": _l("Listing approved"),
    "solution.rejected": _l("Listing rejected"),
    "solution.delisted": _l("Listing delisted"),
    "solution.relisted": _l("Listing relisted"),
    "solution.rated": _l("Listing rated"),
    "solution.fulfillment_url": _l("Listing's sign-up address changed"),
}

SUBJECT_NAMES: dict[str, Any] = {"solution": _l("Listing")}


def install(app: Flask) -> None:
    audit_words.register(EVENT_NAMES, SUBJECT_NAMES)
