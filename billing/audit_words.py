"""billing's audit events in words (marketplace.audit_words reads them on audit pages)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from marketplace import audit_words

EVENT_NAMES: dict[str, Any] = {
    "contract.created": _l("Contract created"),
    "contract.started": _l("Contract started"),
    "contract.activated": _l("Contract activated"),
    "contract.suspended": _l("Contract suspended"),
    "contract.reactivated": _l("Contract reactivated"),
    "contract.canceled": _l("Contract cancelled"),
    "contract.plan_changed": _l("Contract plan changed"),
    "contract.spend_cap_set": _l("Contract spending cap set"),
    "contract.delivery_accepted": _l("Delivery accepted"),
    "invoice.issued": _l("Invoice issued"),
    "invoice.paid": _l("Invoice paid"),
    "invoice.voided": _l("Invoice voided"),
    "payment.attempt_started": _l("Payment started"),
    "payment.received": _l("Payment received"),
    "payment.bank_transfer_recorded": _l("Bank transfer recorded"),
    "payment.refunded": _l("Payment refunded"),
}

SUBJECT_NAMES: dict[str, Any] = {
    "contract": lazy_pgettext("audit subject", "Contract"),
    "invoice": _l("Invoice"),
    "payment": _l("Payment"),
}


def install(app: Flask) -> None:
    audit_words.register(EVENT_NAMES, SUBJECT_NAMES)
