"""Signed checkpoints anchor the audit chain outside the database (DESIGN.md section 5).

The hash chain alone catches a changed row, but not someone with database access who
changes a row and recomputes every later hash, or deletes the newest rows. So, like
AWS CloudTrail's digest files and Certificate Transparency's signed tree heads, a
checkpoint states "the chain had ``count`` rows and row number ``count`` was ``head_id``
with hash ``head_hash``", signed with an Ed25519 key that is not in the database
(marketplace/audit_keys.py). Checkpoints are kept twice: as rows (for listing) and as
files in ``AUDIT_CHECKPOINT_DIR`` that officers download. Verification trusts only a
signature by a configured public key, so:

- a rewritten, rehashed chain contradicts the first checkpoint signed after the change;
- rows deleted after a checkpoint's head leave the chain shorter than the checkpoint;
- checkpoint rows deleted to hide either are still in the folder (and any officer's copy);
- a checkpoint row changed or forged has no valid signature.

A new checkpoint signs only a chain that verifies, and nothing when the chain has not
grown since the latest one. It is committed before its file is written, so a crash leaves
at worst a row without a file (still verifiable), never a file the database lacks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace import audit, audit_keys
from marketplace.db import Base, normalize_url, utcnow
from marketplace.errors import Conflict, DomainError

FORMAT_VERSION = 1
FILE_PATTERN = re.compile(r"^checkpoint-(\d{6,})\.json$")
# pg_advisory_xact_lock key: one checkpoint is numbered at a time.
_PG_LOCK_KEY = 0x4D4B5443  # "MKTC"


class AuditCheckpoint(Base):
    __tablename__ = "audit_checkpoints"

    sequence: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # 1, 2, 3...
    row_count: Mapped[int] = mapped_column(sa.BigInteger)  # rows of the chain it covers
    head_id: Mapped[int] = mapped_column(sa.BigInteger)  # id of row number row_count
    head_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    key_id: Mapped[str] = mapped_column(sa.String(16))  # fingerprint of the signing key
    signature: Mapped[str] = mapped_column(sa.String(100))  # base64 Ed25519 signature

    __table_args__ = (
        sa.CheckConstraint("sequence > 0", name="sequence_positive"),
        sa.CheckConstraint("row_count > 0", name="row_count_positive"),
    )

    def __repr__(self) -> str:
        return f"<AuditCheckpoint {self.sequence} rows={self.row_count} head={self.head_id}>"

    def payload(self) -> dict[str, Any]:
        """What the signature covers."""
        return {
            "version": FORMAT_VERSION,
            "log": "audit_events",
            "sequence": self.sequence,
            "count": self.row_count,
            "head_id": self.head_id,
            "head_hash": self.head_hash,
            "created_at": self.created_at.isoformat(timespec="microseconds"),
            "key_id": self.key_id,
        }

    def document(self) -> dict[str, Any]:
        """The downloadable file: the payload and its signature."""
        return {**self.payload(), "signature": self.signature}

    @property
    def file_name(self) -> str:
        return f"checkpoint-{self.sequence:06d}.json"


# --- configuration ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """Where checkpoints go and which keys sign and check them, from the app's config."""

    folder: Path
    keyring: audit_keys.Keyring
    development: bool  # no key configured, so a key file under instance/ is used
    key_file: Path | None  # the development key's file


def _database_folder_name(url: str) -> str:
    """A folder per database, so two databases on one instance never share checkpoints."""
    parsed = sa.engine.make_url(normalize_url(url))
    name = Path(parsed.database or "memory").name
    digest = hashlib.sha256(parsed.render_as_string(hide_password=True).encode()).hexdigest()
    return f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}-{digest[:8]}"


def setup_for(app: Flask) -> Setup:
    """Read the keys (cheap; not cached, so a key file made by another process is seen).
    Raises :class:`audit_keys.AuditKeyError` when a configured key cannot be read."""
    config = app.config
    folder = config.get("AUDIT_CHECKPOINT_DIR") or str(
        Path(app.instance_path)
        / "audit-checkpoints"
        / _database_folder_name(config["DATABASE_URL"])
    )
    signer = None
    key_file = None
    development = False
    if config.get("AUDIT_SIGNING_KEY"):
        signer = audit_keys.load_private_key(config["AUDIT_SIGNING_KEY"])
    elif config.get("AUDIT_SIGNING_KEY_FILE"):
        path = Path(config["AUDIT_SIGNING_KEY_FILE"])
        try:
            signer = audit_keys.load_private_key(path.read_bytes())
        except OSError as error:
            raise audit_keys.AuditKeyError(f"cannot read {path}: {error.strerror}") from None
    else:
        development = bool(app.debug or config.get("AUDIT_DEVELOPMENT_KEY"))
        key_file = Path(app.instance_path) / audit_keys.DEVELOPMENT_KEY_NAME
    verify_keys = audit_keys.split_keys(config.get("AUDIT_VERIFY_KEYS"))
    if key_file is not None and key_file.exists():
        development_key = audit_keys.load_private_key(key_file.read_bytes())
        if development:
            signer = development_key
        else:  # what the demo signed stays verifiable from a plain CLI; never signs here
            verify_keys.append(audit_keys.public_base64(development_key.public_key()))
    keyring = audit_keys.Keyring.build(
        signer, verify_keys, "development" if development else "configured"
    )
    return Setup(Path(folder), keyring, development, key_file if development else None)


def signing_setup(app: Flask) -> tuple[Setup, str | None]:
    """The setup with a signer, making the development key when allowed; the second value
    says a key was just made. Raises DomainError where no key may be made (production)."""
    setup = setup_for(app)
    if setup.keyring.signer is not None:
        return setup, None
    if setup.development and setup.key_file is not None:
        audit_keys.create_key_file(setup.key_file)
        return setup_for(app), str(setup.key_file)
    raise DomainError(
        _l(
            "No audit signing key is configured (AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE), "
            "so no checkpoint can be signed."
        ),
        code="no_signing_key",
    )


# --- files -----------------------------------------------------------------------------------


def write_file(folder: Path, checkpoint: AuditCheckpoint) -> Path:
    """Write the checkpoint's file (whole or not at all)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / checkpoint.file_name
    text = json.dumps(checkpoint.document(), indent=2, sort_keys=True, ensure_ascii=False)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return path


def write_missing_files(session: Session, setup: Setup) -> list[Path]:
    """Files for the checkpoints whose file a crash (or a new host) left unwritten; only
    checkpoints whose signature holds are written out."""
    present = _files(setup.folder)
    written = []
    for checkpoint in session.scalars(
        sa.select(AuditCheckpoint).order_by(AuditCheckpoint.sequence)
    ):
        if checkpoint.sequence in present:
            continue
        if setup.keyring.check(checkpoint.payload(), checkpoint.signature) is None:
            written.append(write_file(setup.folder, checkpoint))
    return written


def _files(folder: Path) -> dict[int, Path]:
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = FILE_PATTERN.match(path.name)
        if match:
            found[int(match.group(1))] = path
    return found


# --- verification ----------------------------------------------------------------------------

NOTICE_NO_KEY = (
    "No audit signing key is configured: no new checkpoint can be signed, so the newest "
    "rows are not anchored outside the database."
)
NOTICE_NO_CHECKPOINT = (
    "No checkpoint yet: a rewrite with recomputed hashes or deleted newest rows would not "
    "be caught."
)


def _bad(code: str, sequence: int | None, reason: str) -> audit.VerifyResult:
    return audit.VerifyResult(False, 0, None, reason, code, 0, sequence)


def _anchors(session: Session, setup: Setup) -> list[audit.Anchor] | audit.VerifyResult:
    """Every checkpoint whose signature holds, from the database and the folder; or the
    first checkpoint that is forged, changed or missing."""
    keyring = setup.keyring
    # The folder first: a file is written only after its row is committed, so every file
    # listed now has a row the query below can see.
    files = _files(setup.folder)
    stored = {c.sequence: c for c in session.scalars(sa.select(AuditCheckpoint))}
    anchors: dict[int, audit.Anchor] = {}
    for sequence in sorted(stored):
        checkpoint = stored[sequence]
        problem = keyring.check(checkpoint.payload(), checkpoint.signature)
        if problem:
            return _bad("checkpoint_invalid", sequence, f"checkpoint {sequence}: {problem}")
        anchors[sequence] = audit.Anchor(
            sequence, checkpoint.row_count, checkpoint.head_id, checkpoint.head_hash
        )
    for sequence, path in sorted(files.items()):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            payload = {k: v for k, v in document.items() if k != "signature"}
            problem = keyring.check(payload, str(document.get("signature", "")))
        except (OSError, ValueError, AttributeError) as error:
            problem = f"the file cannot be read ({error})"
        if problem:
            return _bad("checkpoint_invalid", sequence, f"checkpoint file {path.name}: {problem}")
        if sequence not in stored:
            return _bad(
                "checkpoint_not_in_database",
                sequence,
                f"checkpoint {sequence} is in the checkpoint folder but not in the database",
            )
        if payload != stored[sequence].payload():
            return _bad(
                "checkpoint_invalid",
                sequence,
                f"checkpoint {sequence} in the database differs from its file",
            )
    for expected, sequence in enumerate(sorted(stored), start=1):
        if sequence != expected:
            return _bad(
                "checkpoint_missing",
                expected,
                f"checkpoint {expected} is missing (checkpoint {sequence} exists)",
            )
    return [anchors[sequence] for sequence in sorted(anchors)]


def verify(
    session: Session, setup: Setup, *, from_latest: bool = False, **options: Any
) -> audit.VerifyResult:
    """The chain walked and checked against every signed checkpoint. ``from_latest``: walk
    only the rows after the latest checkpoint when its head is intact (what a page view can
    afford; the whole walk runs whenever that does not hold, and at every signing)."""
    anchors = _anchors(session, setup)
    if isinstance(anchors, audit.VerifyResult):
        return anchors
    result = None
    if from_latest and anchors:
        result = audit.verify_after(session, anchors[-1], checkpoints_checked=len(anchors))
    if result is None:
        result = audit.verify(session, anchors=anchors, **options)
    if result.ok and result.checked and setup.keyring.signer is None and not setup.development:
        return replace(result, notice=NOTICE_NO_KEY)
    if result.ok and result.checked and not anchors:
        return replace(result, notice=NOTICE_NO_CHECKPOINT)
    return result


def verify_app(session: Session, app: Flask, *, from_latest: bool = False) -> audit.VerifyResult:
    """:func:`verify` with the app's setup; unreadable keys are a failed verification, not
    an error page."""
    try:
        setup = setup_for(app)
    except audit_keys.AuditKeyError as error:
        return _bad("keys_unreadable", None, str(error))
    return verify(session, setup, from_latest=from_latest)


# --- creation --------------------------------------------------------------------------------


def latest(session: Session) -> AuditCheckpoint | None:
    return session.scalar(
        sa.select(AuditCheckpoint).order_by(AuditCheckpoint.sequence.desc()).limit(1)
    )


def create(session: Session, setup: Setup, *, now: datetime) -> AuditCheckpoint | None:
    """Sign the verified chain's head; None when the head has not moved since the latest
    checkpoint (or the chain is empty). Flushes; the caller commits, then writes the file
    with :func:`write_file`."""
    if setup.keyring.signer is None:
        raise DomainError(_l("No audit signing key is configured."), code="no_signing_key")
    result = verify(session, setup)
    if not result.ok:
        raise Conflict(
            _l(
                "The audit chain does not verify, so it is not signed: %(reason)s",
                reason=result.reason,
            ),
            code="audit_chain_broken",
        )
    if result.head_id is None or result.head_hash is None:
        return None
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
    previous = latest(session)
    if previous is not None and previous.row_count >= result.checked:
        return None
    checkpoint = AuditCheckpoint(
        sequence=(previous.sequence + 1) if previous else 1,
        row_count=result.checked,
        head_id=result.head_id,
        head_hash=result.head_hash,
        created_at=now,
        key_id=setup.keyring.signer_id,
    )
    checkpoint.signature = setup.keyring.sign(checkpoint.payload())
    session.add(checkpoint)
    session.flush()
    return checkpoint


def listing(session: Session, *, limit: int = 50) -> list[AuditCheckpoint]:
    return list(
        session.scalars(
            sa.select(AuditCheckpoint).order_by(AuditCheckpoint.sequence.desc()).limit(limit)
        )
    )
