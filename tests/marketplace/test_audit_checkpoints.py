"""Signed checkpoints anchor the audit chain outside the database: a chain rewritten with
recomputed hashes, or cut short, verifies row by row but contradicts a checkpoint, and the
checkpoint is named (CLI, API, page). Keys are configured, rotated, refused in production
without one, and a downloaded checkpoint is checked offline as the README shows."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from marketplace import audit, audit_keys, checkpoints
from marketplace import config as config_module
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError
from marketplace.models import OrgKind
from tests.audit_helpers import KEY_A, KEY_B, audit_setup, public_of, without_append_only_guard
from tests.factories import create_org, create_token, create_user, login


@pytest.fixture
def config(config: dict[str, object]) -> dict[str, object]:
    config["AUDIT_SIGNING_KEY"] = KEY_A
    return config


@pytest.fixture
def setup(app: Flask) -> checkpoints.Setup:
    return checkpoints.setup_for(app)


def write_events(session: Session, n: int) -> list[audit.AuditEvent]:
    return [
        audit.record(session, "test.event", "thing", i, data={"amount_fen": i * 100})
        for i in range(n)
    ]


def sign(session: Session, setup: checkpoints.Setup) -> checkpoints.AuditCheckpoint:
    """What `marketplace audit checkpoint` does: sign, commit, then write the file."""
    checkpoint = checkpoints.create(session, setup, now=utcnow())
    assert checkpoint is not None
    session.commit()
    checkpoints.write_file(setup.folder, checkpoint)
    return checkpoint


def chain(session: Session) -> list[audit.AuditEvent]:
    session.expire_all()
    return list(session.scalars(sa.select(audit.AuditEvent).order_by(audit.AuditEvent.id)))


def rewrite_and_rehash(session: Session, target: audit.AuditEvent, data: dict) -> None:
    """The attack the chain alone cannot see: change a row, then recompute its hash and
    every later row's, so each row again points at the one before it."""
    without_append_only_guard(session)
    rows = chain(session)
    position = next(i for i, row in enumerate(rows) if row.id == target.id)
    prev = rows[position].prev_hash
    for index, row in enumerate(rows[position:]):
        if index == 0:
            row.data = data
        row.prev_hash = prev
        prev = row.compute_hash()
        session.execute(
            sa.update(audit.AuditEvent)
            .where(audit.AuditEvent.id == row.id)
            .values(data=row.data, prev_hash=row.prev_hash, hash=prev)
        )
    session.expire_all()


# --- signing ---------------------------------------------------------------------------------


def test_checkpoint_signs_the_verified_head_once(
    session: Session, setup: checkpoints.Setup
) -> None:
    write_events(session, 3)
    first = sign(session, setup)
    rows = chain(session)
    assert (first.sequence, first.row_count) == (1, len(rows))
    assert (first.head_id, first.head_hash) == (rows[-1].id, rows[-1].hash)
    assert first.key_id == audit_keys.key_id(audit_keys.load_private_key(KEY_A).public_key())
    assert checkpoints.create(session, setup, now=utcnow()) is None  # the head has not moved

    write_events(session, 2)
    second = sign(session, setup)
    assert (second.sequence, second.row_count) == (2, len(rows) + 2)
    document = json.loads((setup.folder / "checkpoint-000002.json").read_text())
    assert document == second.document()
    result = checkpoints.verify(session, setup)
    assert result.ok and result.checkpoints_checked == 2 and result.notice is None


def test_a_broken_chain_is_never_signed(session: Session, setup: checkpoints.Setup) -> None:
    events = write_events(session, 3)
    without_append_only_guard(session)
    session.execute(
        sa.update(audit.AuditEvent).where(audit.AuditEvent.id == events[1].id).values(action="x")
    )
    session.expire_all()
    with pytest.raises(Conflict, match="does not verify"):
        checkpoints.create(session, setup, now=utcnow())


# --- what verification catches ---------------------------------------------------------------


@pytest.mark.parametrize("rewritten", [1, 6])
def test_rewritten_and_rehashed_chain_is_caught_by_the_first_checkpoint_covering_it(
    session: Session, setup: checkpoints.Setup, rewritten: int
) -> None:
    events = write_events(session, 4)
    before = len(chain(session)) - 4  # rows the factories wrote before
    sign(session, setup)  # covers events[0..3]
    events += write_events(session, 4)
    sign(session, setup)  # covers events[4..7]
    write_events(session, 2)  # not anchored yet
    target = events[rewritten]
    rewrite_and_rehash(session, target, {"amount_fen": 1})

    assert audit.verify(session).ok  # the hash chain alone is fooled
    result = checkpoints.verify(session, setup)
    expected = 1 if rewritten < 4 else 2
    assert not result.ok and result.code == "checkpoint_mismatch"
    assert result.first_bad_checkpoint == expected
    head = events[3] if expected == 1 else events[7]
    assert result.first_bad == head.id  # the row that is not what was signed
    assert result.checked == (0 if expected == 1 else before + 4)


def test_rows_deleted_after_a_checkpoint_are_caught(
    session: Session, setup: checkpoints.Setup
) -> None:
    events = write_events(session, 6)
    sign(session, setup)
    without_append_only_guard(session)
    session.execute(
        sa.delete(audit.AuditEvent).where(audit.AuditEvent.id.in_([e.id for e in events[-2:]]))
    )
    session.expire_all()

    assert audit.verify(session).ok  # the newest rows gone: nothing points at them
    result = checkpoints.verify(session, setup)
    assert not result.ok and result.code == "truncated"
    assert result.first_bad_checkpoint == 1 and "rows were deleted" in result.reason


def test_checkpoint_rows_deleted_to_hide_a_truncation_are_still_in_the_folder(
    session: Session, setup: checkpoints.Setup
) -> None:
    events = write_events(session, 3)
    sign(session, setup)
    events += write_events(session, 3)
    sign(session, setup)
    without_append_only_guard(session)
    session.execute(sa.delete(audit.AuditEvent).where(audit.AuditEvent.id == events[-1].id))
    session.execute(
        sa.delete(checkpoints.AuditCheckpoint).where(checkpoints.AuditCheckpoint.sequence == 2)
    )
    session.expire_all()

    result = checkpoints.verify(session, setup)
    assert not result.ok and result.code == "checkpoint_not_in_database"
    assert result.first_bad_checkpoint == 2


def test_a_checkpoint_deleted_between_others_is_named(
    session: Session, setup: checkpoints.Setup, tmp_path: Path
) -> None:
    for _ in range(3):
        write_events(session, 2)
        sign(session, setup)
    without_append_only_guard(session)
    session.execute(
        sa.delete(checkpoints.AuditCheckpoint).where(checkpoints.AuditCheckpoint.sequence == 2)
    )
    session.expire_all()
    elsewhere = audit_setup(tmp_path / "another-host", KEY_A)  # a host without the files
    result = checkpoints.verify(session, elsewhere)
    assert not result.ok and result.code == "checkpoint_missing"
    assert result.first_bad_checkpoint == 2


def test_a_checkpoint_row_changed_or_forged_in_the_database_is_refused(
    session: Session, setup: checkpoints.Setup, tmp_path: Path
) -> None:
    events = write_events(session, 4)
    sign(session, setup)
    rewrite_and_rehash(session, events[0], {"amount_fen": 7})
    rows = chain(session)
    without_append_only_guard(session)
    # The DBA makes the checkpoint agree with the rewritten chain; the signature does not.
    session.execute(
        sa.update(checkpoints.AuditCheckpoint)
        .where(checkpoints.AuditCheckpoint.sequence == 1)
        .values(head_hash=rows[-1].hash)
    )
    session.expire_all()
    result = checkpoints.verify(session, audit_setup(tmp_path / "empty", KEY_A))
    assert not result.ok and result.code == "checkpoint_invalid"
    assert result.first_bad_checkpoint == 1 and "signature does not match" in result.reason

    # ... nor does a checkpoint the DBA signs with a key of their own.
    session.execute(sa.delete(checkpoints.AuditCheckpoint))
    forger = audit_setup(tmp_path / "forger", KEY_B)
    checkpoints.create(session, forger, now=utcnow())
    result = checkpoints.verify(session, audit_setup(tmp_path / "empty", KEY_A))
    assert not result.ok and result.code == "checkpoint_invalid"
    assert "not configured" in result.reason


# --- keys ------------------------------------------------------------------------------------


def test_rotation_keeps_old_checkpoints_verifiable(session: Session, tmp_path: Path) -> None:
    old = audit_setup(tmp_path / "cp", KEY_B)
    write_events(session, 2)
    sign(session, old)
    rotated = audit_setup(tmp_path / "cp", KEY_A, public_of(KEY_B))
    write_events(session, 2)
    new = sign(session, rotated)
    assert new.key_id == rotated.keyring.signer_id != old.keyring.signer_id
    assert checkpoints.verify(session, rotated).checkpoints_checked == 2

    forgot_the_old_key = audit_setup(tmp_path / "cp", KEY_A)
    result = checkpoints.verify(session, forgot_the_old_key)
    assert not result.ok and result.first_bad_checkpoint == 1


@pytest.mark.parametrize("form", ["base64", "pem", "file"])
def test_the_signing_key_is_read_from_the_environment_or_a_file(
    app: Flask, tmp_path: Path, form: str
) -> None:
    key = audit_keys.load_private_key(KEY_B)
    pem = audit_keys.private_pem(key).decode()
    if form == "file":
        path = tmp_path / "audit.pem"
        path.write_text(pem)
        app.config.update(AUDIT_SIGNING_KEY=None, AUDIT_SIGNING_KEY_FILE=str(path))
    else:
        app.config["AUDIT_SIGNING_KEY"] = KEY_B if form == "base64" else pem
    app.config["AUDIT_VERIFY_KEYS"] = (
        f"{public_of(KEY_A)}, {audit_keys.public_pem(key.public_key())}"
    )
    keyring = checkpoints.setup_for(app).keyring
    assert keyring.signer_id == audit_keys.key_id(key.public_key())
    assert set(keyring.public) == {
        keyring.signer_id,
        audit_keys.key_id(audit_keys.load_private_key(KEY_A).public_key()),
    }


def test_audit_settings_come_from_the_environment() -> None:
    found = config_module.from_environment(
        {
            "MARKETPLACE_AUDIT_SIGNING_KEY_FILE": "/etc/marketplace/audit.pem",
            "AUDIT_VERIFY_KEYS": "a,b",
            "AUDIT_CHECKPOINT_DIR": "/srv/checkpoints",
            "MARKETPLACE_AUDIT_DEVELOPMENT_KEY": "true",
        }
    )
    assert found["AUDIT_SIGNING_KEY_FILE"] == "/etc/marketplace/audit.pem"
    assert audit_keys.split_keys(found["AUDIT_VERIFY_KEYS"]) == ["a", "b"]
    assert found["AUDIT_CHECKPOINT_DIR"] == "/srv/checkpoints"
    assert found["AUDIT_DEVELOPMENT_KEY"] is True


def test_production_without_a_key_refuses_to_sign_and_verify_says_so(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    app.config["AUDIT_SIGNING_KEY"] = None
    app.instance_path = str(tmp_path / "instance")
    write_events(session, 2)
    with pytest.raises(DomainError, match="No audit signing key"):
        checkpoints.signing_setup(app)
    result = checkpoints.verify_app(session, app)
    assert result.ok and result.notice == checkpoints.NOTICE_NO_KEY

    cli = app.test_cli_runner().invoke(args=["audit", "checkpoint"])
    assert cli.exit_code != 0 and "AUDIT_SIGNING_KEY" in cli.output
    assert session.scalar(sa.select(sa.func.count()).select_from(checkpoints.AuditCheckpoint)) == 0
    assert not (tmp_path / "instance" / audit_keys.DEVELOPMENT_KEY_NAME).exists()


def test_development_makes_a_key_file_under_instance(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    app.config.update(AUDIT_SIGNING_KEY=None, AUDIT_DEVELOPMENT_KEY=True)
    app.instance_path = str(tmp_path / "instance")
    write_events(session, 2)
    setup, made = checkpoints.signing_setup(app)
    key_file = tmp_path / "instance" / audit_keys.DEVELOPMENT_KEY_NAME
    assert made == str(key_file) and key_file.stat().st_mode & 0o077 == 0
    assert setup.development and setup.keyring.signer is not None
    assert checkpoints.signing_setup(app)[1] is None  # the same key next time
    sign(session, setup)
    assert checkpoints.verify_app(session, app).checkpoints_checked == 1


def test_a_misconfigured_key_is_a_failed_verification_not_an_error_page(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    app.config["AUDIT_SIGNING_KEY"] = "not a key"
    operator = create_user(session)
    platform = create_org(session, OrgKind.PLATFORM, owner=operator)
    headers = {"Authorization": f"Bearer {create_token(session, operator, platform)}"}
    response = client.get("/api/v1/audit/verify", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["ok"] is False and response.get_json()["code"] == "keys_unreadable"
    login(client, operator)
    assert client.get("/console/audit").status_code == 200


PAYLOAD_FIELDS = ["version", "log", "sequence", "count", "head_id", "head_hash", "created_at"]


@settings(max_examples=60, deadline=None)
@given(field=st.sampled_from(PAYLOAD_FIELDS), value=st.integers(-(2**40), 2**40) | st.text())
def test_changing_any_signed_field_breaks_the_signature(field: str, value: object) -> None:
    keyring = audit_keys.Keyring.build(audit_keys.load_private_key(KEY_A), [])
    payload = {
        "version": 1,
        "log": "audit_events",
        "sequence": 3,
        "count": 120,
        "head_id": 130,
        "head_hash": "ab" * 32,
        "created_at": "2026-12-04T08:00:00.000000+00:00",
        "key_id": keyring.signer_id,
    }
    signature = keyring.sign(payload)
    assert keyring.check(payload, signature) is None
    changed = {**payload, field: value}
    if changed != payload:
        assert keyring.check(changed, signature) == "the signature does not match"


# --- where officers see it -------------------------------------------------------------------


def readme_check(document_text: str, public_key_b64: str) -> dict:
    """The few lines of Python the README gives officers."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    doc = json.loads(document_text)
    signature = base64.b64decode(doc.pop("signature"))
    message = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64))
    key.verify(signature, message.encode())  # raises InvalidSignature when forged
    return doc


def test_officer_downloads_a_checkpoint_and_checks_it_offline(
    app: Flask, client: FlaskClient, session: Session, setup: checkpoints.Setup, tmp_path: Path
) -> None:
    officer = create_user(session)
    government = create_org(session, OrgKind.GOVERNMENT, owner=officer)
    checkpoint = sign(session, setup)
    login(client, officer)
    client.post(f"/switch/{government.id}")
    page = client.get("/vouchers/audit").get_data(as_text=True)
    assert 'data-audit-ok="1"' in page
    assert f'data-checkpoint="{checkpoint.sequence}"' in page and setup.keyring.signer_id in page
    response = client.get(f"/audit/checkpoints/{checkpoint.sequence}.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert readme_check(text, public_of(KEY_A))["count"] == checkpoint.row_count
    assert client.get("/audit/checkpoints/999.json").status_code == 404

    downloaded = tmp_path / "checkpoint.json"
    downloaded.write_text(text)
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "audit",
            "verify-checkpoint",
            str(downloaded),
            "--public-key",
            public_of(KEY_A),
            "--against-database",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "signature good" in result.output and "the database matches" in result.output

    forged = json.loads(text) | {"count": checkpoint.row_count - 1}
    downloaded.write_text(json.dumps(forged))
    result = runner.invoke(
        args=["audit", "verify-checkpoint", str(downloaded), "--public-key", public_of(KEY_A)]
    )
    assert result.exit_code == 1 and "NOT VALID" in result.output
    with pytest.raises(InvalidSignature):
        readme_check(json.dumps(forged), public_of(KEY_A))


def test_cli_checkpoint_then_verify_names_the_checkpoint_after_truncation(
    app: Flask, session: Session, setup: checkpoints.Setup
) -> None:
    events = write_events(session, 3)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0 and "checkpoint 1:" in result.output
    assert (setup.folder / "checkpoint-000001.json").exists()
    (setup.folder / "checkpoint-000001.json").unlink()  # a crash between commit and file
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0 and "no new rows since checkpoint 1" in result.output
    assert (setup.folder / "checkpoint-000001.json").exists()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "1 signed checkpoints match" in result.output

    without_append_only_guard(session)
    session.execute(sa.delete(audit.AuditEvent).where(audit.AuditEvent.id == events[-1].id))
    session.flush()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN at checkpoint 1" in result.output


def test_api_verify_names_the_checkpoint_and_lists_checkpoints(
    client: FlaskClient, session: Session, setup: checkpoints.Setup
) -> None:
    events = write_events(session, 4)
    checkpoint = sign(session, setup)
    officer = create_user(session)
    government = create_org(session, OrgKind.GOVERNMENT, owner=officer)
    headers = {"Authorization": f"Bearer {create_token(session, officer, government)}"}
    listed = client.get("/api/v1/audit/checkpoints", headers=headers).get_json()
    assert listed[0] == checkpoint.document()

    rewrite_and_rehash(session, events[1], {"amount_fen": 5})
    body = client.get("/api/v1/audit/verify", headers=headers).get_json()
    assert body["ok"] is False and body["first_bad_checkpoint"] == 1
    assert body["first_bad"] == checkpoint.head_id and body["code"] == "checkpoint_mismatch"
    assert set(body) >= {"ok", "checked", "first_bad"}


@pytest.mark.parametrize(
    ("locale", "text"),
    [("en", "not the row signed checkpoint 1 names"), ("zh_CN", "签名检查点 1")],
)
def test_the_page_names_the_checkpoint_in_the_readers_language(
    client: FlaskClient, session: Session, setup: checkpoints.Setup, locale: str, text: str
) -> None:
    events = write_events(session, 3)
    sign(session, setup)
    rewrite_and_rehash(session, events[0], {"amount_fen": 9})
    operator = create_user(session, locale=locale)
    create_org(session, OrgKind.PLATFORM, owner=operator)
    login(client, operator)
    page = client.get("/console/audit").get_data(as_text=True)
    assert 'data-audit-ok="0"' in page and 'data-first-bad-checkpoint="1"' in page
    assert text in page
