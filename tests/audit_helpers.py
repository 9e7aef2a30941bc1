"""Audit keys and the database attacker's first moves, shared by the audit tests."""

from __future__ import annotations

import base64
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace import audit_keys, checkpoints

# Two fixed 32-byte Ed25519 seeds (base64): the current key and a retired one.
KEY_A = base64.b64encode(b"audit-test-key-A" * 2).decode()
KEY_B = base64.b64encode(b"audit-test-key-B" * 2).decode()


def public_of(seed_b64: str) -> str:
    return audit_keys.public_base64(audit_keys.load_private_key(seed_b64).public_key())


def audit_setup(folder: Path, signing_key: str | None, *verify_keys: str) -> checkpoints.Setup:
    signer = audit_keys.load_private_key(signing_key) if signing_key else None
    return checkpoints.Setup(
        folder=Path(folder),
        keyring=audit_keys.Keyring.build(signer, verify_keys, "configured"),
        development=False,
        key_file=None,
    )


def without_append_only_guard(session: Session) -> None:
    """What an attacker with database access does first: drop the triggers of the chain and
    of its checkpoints."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        session.execute(sa.text("ALTER TABLE audit_checkpoints DISABLE TRIGGER USER"))
    else:
        for trigger in (
            "audit_events_no_update",
            "audit_events_no_delete",
            "audit_checkpoints_no_update",
            "audit_checkpoints_no_delete",
        ):
            session.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger}"))
