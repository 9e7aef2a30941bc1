"""The audit trail's event keys and subject types in words people read.

The chain stores keys ("voucher.issued", subject type "voucher_program"); this registry
turns them into the reader's language. It knows marketplace's own events; each package
adds its own at app setup with ``register`` (marketplace imports no package above it, see
DESIGN.md), as ``vouchers.audit_words.install`` does. A key nobody registered is still shown
in words: its subject's name and the key's last word ("Webhook endpoint · paused").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

_EVENT_NAMES: dict[str, Any] = {
    "organization.registered": _l("Organization registered"),
    "organization.licence_uploaded": _l("Business licence uploaded"),
    "vendor.verified": _l("Vendor verified"),
    "vendor.rejected": _l("Vendor verification rejected"),
    "membership.created": _l("Member added"),
    "membership.removed": _l("Member removed"),
    "membership.role_changed": _l("Member's role changed"),
    "invitation.created": _l("Member invited"),
    "token.created": _l("API token created"),
    "token.revoked": _l("API token revoked"),
    "user.password_changed": _l("Password changed"),
    "user.signed_out_everywhere": _l("Signed out on every device"),
}

_SUBJECT_NAMES: dict[str, Any] = {
    "organization": _l("Organization"),
    "vendor": _l("Vendor"),
    "user": _l("Person"),
    "membership": _l("Membership"),
    "invitation": _l("Invitation"),
    "token": _l("API token"),
}


def register(
    event_names: Mapping[str, Any] | None = None, subject_names: Mapping[str, Any] | None = None
) -> None:
    """Add a package's names (lazy strings, read in the reader's language when shown)."""
    _EVENT_NAMES.update(event_names or {})
    _SUBJECT_NAMES.update(subject_names or {})


def _humane(key: str) -> str:
    return key.replace("_", " ")


def subject_name(subject_type: str) -> str:
    known = _SUBJECT_NAMES.get(subject_type)
    if known is not None:
        return str(known)
    words = _humane(subject_type)
    return words[:1].upper() + words[1:]


def event_name(action: str) -> str:
    """The event in the reader's language; an unknown key as "Subject · verb"."""
    known = _EVENT_NAMES.get(action)
    if known is not None:
        return str(known)
    subject, _dot, verb = action.partition(".")
    return f"{subject_name(subject)} · {_humane(verb)}" if verb else subject_name(subject)


def knows(action: str) -> bool:
    return action in _EVENT_NAMES
