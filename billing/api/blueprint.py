"""The blueprint the billing endpoints are declared on (registered by the app factory)."""

from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

blp = Blueprint(
    "billing_api", __name__, url_prefix="/api/v1", description="Contracts, usage and invoices"
)


def commission_bp() -> int:
    return int(current_app.config["PLATFORM_COMMISSION_BP"])
