"""How a webhook request is signed, in Stripe's scheme, so a vendor verifies it in a few lines.

``Marketplace-Signature: t=1733300000,v1=<hex>[,v1=<hex>]`` where each ``v1`` is
HMAC-SHA256, keyed with an endpoint secret, over ``"{t}.{body}"`` (the raw request body).
During the 24 hours after a rotation the request carries two ``v1`` values, one per
secret, so a receiver holding either secret accepts it. The timestamp lets the receiver
refuse a replay older than a few minutes. Secrets are kept encrypted (Fernet, with a key
from the configuration): unlike a password the platform must read them back to sign.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

from cryptography.fernet import Fernet, MultiFernet

HEADER = "Marketplace-Signature"
SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(signing_secrets: Iterable[str], timestamp: int, body: bytes) -> str:
    """The header's value: the timestamp, then one ``v1`` per secret (newest first)."""
    parts = [f"t={timestamp}"]
    parts += [f"v1={sign(secret, timestamp, body)}" for secret in signing_secrets]
    return ",".join(parts)


def verify(
    body: bytes, header: str, secret: str, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """What the README's recipe does: one ``v1`` matches and the timestamp is recent."""
    items = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [value for key, value in items if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isdigit():
        return False
    timestamp = int(timestamps[0])
    expected = sign(secret, timestamp, body)
    matches = any(hmac.compare_digest(expected, value) for key, value in items if key == "v1")
    return matches and abs(now - timestamp) <= tolerance


def _fernet_key(text: str) -> bytes:
    """Any configured string becomes a Fernet key (32 bytes, url-safe base64)."""
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest())


def cipher(keys: str | None, secret_key: str) -> MultiFernet:
    """``WEBHOOK_SECRET_KEY`` (comma-separated: the first encrypts, all decrypt, so the key
    can be rotated), else a key derived from ``SECRET_KEY``."""
    names = [key.strip() for key in (keys or "").split(",") if key.strip()]
    if not names:
        names = ["webhook-secrets:" + secret_key]
    return MultiFernet([Fernet(_fernet_key(name)) for name in names])
