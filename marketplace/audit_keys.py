"""The key that signs audit checkpoints, and the public keys that check them.

A checkpoint is only worth something if whoever can write the database cannot sign one, so
the private key never goes into the database: it comes from ``AUDIT_SIGNING_KEY`` (PEM, or
the 32-byte Ed25519 seed in base64) or the file ``AUDIT_SIGNING_KEY_FILE``. Checking needs
only public keys: the signing key's own, plus the retired ones listed in
``AUDIT_VERIFY_KEYS`` (comma-separated PEM or base64), so a rotated key's checkpoints stay
verifiable. A key is named by its id, the first 16 hex digits of the SHA-256 of its raw
public key.

Nothing here touches the database or Flask: an officer checks a downloaded checkpoint file
with :func:`verify_document` and the public key alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

# The file `marketplace demo` and development apps create when no key is configured.
DEVELOPMENT_KEY_NAME = "audit-signing-key.pem"


class AuditKeyError(ValueError):
    """A configured key cannot be read."""


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """The public key's fingerprint: what a checkpoint names as its signer."""
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def public_base64(key: Ed25519PublicKey) -> str:
    return base64.b64encode(_raw_public(key)).decode("ascii")


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _base64_bytes(text: str) -> bytes | None:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None


def load_private_key(text: str | bytes) -> Ed25519PrivateKey:
    """A private key from PEM (PKCS#8) or the base64 of its 32-byte seed."""
    data = text.encode() if isinstance(text, str) else text
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as error:
            raise AuditKeyError(
                f"the audit signing key is not a readable PEM key: {error}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError("the audit signing key must be an Ed25519 key")
        return key
    seed = _base64_bytes(data.decode("ascii", "replace"))
    if seed is None or len(seed) != 32:
        raise AuditKeyError("the audit signing key must be PEM or the base64 of a 32-byte seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """A public key from PEM (SubjectPublicKeyInfo) or the base64 of its 32 raw bytes."""
    data = text.encode() if isinstance(text, str) else text
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as error:
            raise AuditKeyError(f"an audit verify key is not a readable PEM key: {error}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditKeyError("audit verify keys must be Ed25519 keys")
        return key
    raw = _base64_bytes(data.decode("ascii", "replace"))
    if raw is None or len(raw) != 32:
        raise AuditKeyError("an audit verify key must be PEM or the base64 of 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def split_keys(value: str | Iterable[str] | None) -> list[str]:
    """``AUDIT_VERIFY_KEYS`` as a list: a comma-separated string or already a list."""
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [item.strip() for item in items if item.strip()]


def create_key_file(path: Path) -> Ed25519PrivateKey:
    """Write a new private key readable by its owner only; an existing file is kept (two
    processes starting at once share the first one's key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return load_private_key(path.read_bytes())
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem(key))
    return key


def canonical(payload: Mapping[str, Any]) -> bytes:
    """What is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class Keyring:
    """The signer (when this process may sign) and every public key that may have signed."""

    signer: Ed25519PrivateKey | None = None
    public: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    # How the signing key was found, for the operator: "configured", "development" or "".
    source: str = ""

    @classmethod
    def build(
        cls, signer: Ed25519PrivateKey | None, verify_keys: Iterable[str], source: str = ""
    ) -> Keyring:
        keyring = cls(signer=signer, source=source if signer else "")
        for text in verify_keys:
            keyring.add(load_public_key(text))
        if signer is not None:
            keyring.add(signer.public_key())
        return keyring

    def add(self, key: Ed25519PublicKey) -> None:
        self.public[key_id(key)] = key

    @property
    def signer_id(self) -> str | None:
        return key_id(self.signer.public_key()) if self.signer else None

    def sign(self, payload: Mapping[str, Any]) -> str:
        assert self.signer is not None
        return base64.b64encode(self.signer.sign(canonical(payload))).decode("ascii")

    def check(self, payload: Mapping[str, Any], signature: str) -> str | None:
        """None when ``signature`` is a good signature of ``payload`` by the key it names,
        else why not."""
        key = self.public.get(str(payload.get("key_id")))
        if key is None:
            return f"signed with key {payload.get('key_id')}, which is not configured"
        raw = _base64_bytes(signature or "")
        if raw is None:
            return "the signature is not base64"
        try:
            key.verify(raw, canonical(payload))
        except InvalidSignature:
            return "the signature does not match"
        return None


def verify_document(document: Mapping[str, Any], public_key: str | bytes) -> dict[str, Any]:
    """Check a checkpoint file's signature with one public key; returns the signed payload
    or raises ``ValueError`` saying why it does not verify."""
    payload = {k: v for k, v in document.items() if k != "signature"}
    keyring = Keyring.build(
        None, [public_key.decode() if isinstance(public_key, bytes) else public_key]
    )
    problem = keyring.check(payload, str(document.get("signature", "")))
    if problem:
        raise ValueError(problem)
    return payload
