"""Configuration: defaults here, then ``instance/config.py``, then environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any


class Defaults:
    """Settings every deployment starts from. Secrets and URLs come from the environment."""

    SECRET_KEY = "dev-only-change-me"
    # None means "SQLite under the instance folder"; set DATABASE_URL for PostgreSQL.
    DATABASE_URL: str | None = None
    SQLALCHEMY_ECHO = False

    BABEL_DEFAULT_LOCALE = "zh_CN"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh_CN", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE: bool | None = None  # None: secure unless debug/testing
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Public storefront pages kept per worker for visitors who are not signed in (seconds;
    # 0 turns it off). Listing changes show at once: the cache key holds the index version.
    PAGE_CACHE_SECONDS = 60
    # Where those pages are kept: None for each worker's memory, or redis://... to share
    # them between workers and hosts (keys start with CACHE_KEY_PREFIX).
    CACHE_URL: str | None = None
    CACHE_KEY_PREFIX = "marketplace:pages:"
    # Days the search log (catalog/search_log.py) is kept; an index further behind rebuilds.
    SEARCH_LOG_KEEP_DAYS = 7
    MAX_CONTENT_LENGTH = 16 * 1024 * 1024

    WTF_CSRF_TIME_LIMIT = 8 * 3600

    # Where Flask-Limiter counts: the database all workers and hosts share, or redis://...
    # memory:// counts in each process: only for one worker (marketplace.throttle refuses
    # it with more, outside testing and debugging).
    RATELIMIT_STORAGE_URI = "database://"
    RATELIMIT_HEADERS_ENABLED = True
    # Said explicitly: Flask-Limiter keeps the last app's value when a config lacks it, so an
    # app created with limits off (a test) would switch them off for the next app too.
    RATELIMIT_ENABLED = True
    LOGIN_RATE_LIMIT = "10 per minute"
    # Failed logins for one e-mail address before it is locked for the window.
    LOGIN_LOCKOUT_LIMIT = "5 per 15 minutes"

    # Outgoing mail: unset MAIL_SERVER means "do not send, show links instead".
    MAIL_SERVER: str | None = None
    MAIL_PORT = 25
    MAIL_USERNAME: str | None = None
    MAIL_PASSWORD: str | None = None
    MAIL_USE_TLS = False
    MAIL_FROM = "noreply@marketplace.local"

    INVITATION_DAYS = 7
    # URLs vendors give us to call or send buyers to (fulfillment, webhooks): https to a
    # public address only; tests and local demos may allow http and loopback/private hosts.
    OUTBOUND_URLS_ALLOW_PRIVATE = False
    OUTBOUND_URLS_ALLOW_HTTP = False
    # Keys that encrypt vendors' webhook signing secrets (comma-separated: the first
    # encrypts, every one decrypts); None derives one from SECRET_KEY.
    WEBHOOK_SECRET_KEY: str | None = None
    # Minutes a sign-up handoff token stays valid (catalog fulfillment URL).
    FULFILLMENT_TOKEN_MINUTES = 15
    # Uploaded files (screenshots); None means instance/uploads.
    UPLOAD_FOLDER: str | None = None
    # Card payments (Stripe). No secret key: card payment is hidden, bank transfer works.
    STRIPE_SECRET_KEY: str | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_WEBHOOK_SECRET: str | None = None
    STRIPE_API_BASE: str | None = None  # a Stripe-compatible test server (localstripe)
    STRIPE_JS_URL = "https://js.stripe.com/v3/"
    # Seconds the Stripe SDK waits for one answer. A card payment makes up to three calls,
    # each tried at most twice: billing.payments.gateway.check_timeouts keeps them all within
    # WORKER_TIMEOUT_SECONDS, so a worker is never killed while Stripe's answer is on its way.
    STRIPE_TIMEOUT_SECONDS = 8.0
    # gunicorn's worker timeout (read by gunicorn.conf.py and `marketplace demo`).
    WORKER_TIMEOUT_SECONDS = 60
    # Bank details shown on invoices for 对公转账.
    BANK_ACCOUNT_NAME = "小快轻准解决方案市场运营有限公司"
    BANK_NAME = "中国工商银行上海浦东分行"
    BANK_ACCOUNT_NUMBER = "1001 2345 6789 0123 456"

    # The platform's commission on every invoice, in basis points (10% = 1000).
    PLATFORM_COMMISSION_BP = 1000
    SITE_NAME = "小快轻准解决方案市场"

    # An officer approving an application above this amount (fen) confirms the amount first
    # (publishing a program and approving a settlement batch always ask).
    VOUCHER_CONFIRM_APPROVAL_ABOVE_FEN = 10_000_000  # ¥100,000

    # A province may replace the MIIT thresholds (see marketplace/sizeclass.py).
    SIZE_CLASS_THRESHOLDS: list[tuple[str, int, int]] | None = None

    # Audit checkpoints (marketplace/checkpoints.py, README "The audit key"). The signing
    # key is never stored in the database: PEM or base64 seed, or a file holding it.
    AUDIT_SIGNING_KEY: str | None = None
    AUDIT_SIGNING_KEY_FILE: str | None = None
    # Public keys of earlier signing keys (comma-separated PEM or base64), kept after rotation.
    AUDIT_VERIFY_KEYS: str | None = None
    # None means instance/audit-checkpoints/<database>/.
    AUDIT_CHECKPOINT_DIR: str | None = None
    # No key configured: use (and make) instance/audit-signing-key.pem; `marketplace demo`
    # and debug mode only, never production.
    AUDIT_DEVELOPMENT_KEY = False

    # Proxies in front of the app that set X-Forwarded-For/-Proto (0: none). Behind nginx
    # set 1: otherwise every per-client limit (sign-in, registration) counts the proxy's
    # address, and one visitor's wrong passwords would slow down everybody.
    PROXY_COUNT = 0

    # flask-smorest: the OpenAPI document lives at /api/v1/openapi.json.
    API_TITLE = "SME Solution Marketplace API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"


# Environment variables read on top of the instance file, with their types.
_ENV: dict[str, type] = {
    "SECRET_KEY": str,
    "DATABASE_URL": str,
    "RATELIMIT_STORAGE_URI": str,
    "RATELIMIT_KEY_PREFIX": str,
    "PROXY_COUNT": int,
    "LOGIN_RATE_LIMIT": str,
    "LOGIN_LOCKOUT_LIMIT": str,
    "MAIL_SERVER": str,
    "MAIL_PORT": int,
    "MAIL_USERNAME": str,
    "MAIL_PASSWORD": str,
    "MAIL_USE_TLS": bool,
    "MAIL_FROM": str,
    "SESSION_COOKIE_SECURE": bool,
    "SQLALCHEMY_ECHO": bool,
    "SEARCH_INDEX_DIR": str,
    "UPLOAD_FOLDER": str,
    "STRIPE_SECRET_KEY": str,
    "STRIPE_PUBLISHABLE_KEY": str,
    "STRIPE_WEBHOOK_SECRET": str,
    "STRIPE_API_BASE": str,
    "STRIPE_JS_URL": str,
    "STRIPE_TIMEOUT_SECONDS": float,
    "WORKER_TIMEOUT_SECONDS": int,
    "PLATFORM_COMMISSION_BP": int,
    "VOUCHER_CONFIRM_APPROVAL_ABOVE_FEN": int,
    "PAGE_CACHE_SECONDS": float,
    "CACHE_URL": str,
    "OUTBOUND_URLS_ALLOW_PRIVATE": bool,
    "OUTBOUND_URLS_ALLOW_HTTP": bool,
    "WEBHOOK_SECRET_KEY": str,
    "CACHE_KEY_PREFIX": str,
    "SEARCH_LOG_KEEP_DAYS": int,
    "AUDIT_SIGNING_KEY": str,
    "AUDIT_SIGNING_KEY_FILE": str,
    "AUDIT_VERIFY_KEYS": str,
    "AUDIT_CHECKPOINT_DIR": str,
    "AUDIT_DEVELOPMENT_KEY": bool,
}


def _parse_env(raw: str, kind: type) -> Any:
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return kind(raw)


def from_environment(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Settings found in the environment, as ``MARKETPLACE_X`` or plain ``X``."""
    environ = dict(os.environ if environ is None else environ)
    found: dict[str, Any] = {}
    for name, kind in _ENV.items():
        for key in (f"MARKETPLACE_{name}", name):
            if environ.get(key):
                found[name] = _parse_env(environ[key], kind)
                break
    return found


def worker_timeout(environ: dict[str, str] | None = None) -> int:
    """gunicorn's worker timeout: the environment's, else the default (gunicorn.conf.py and
    ``marketplace demo`` both read it here)."""
    found = from_environment(environ).get("WORKER_TIMEOUT_SECONDS")
    return int(found or Defaults.WORKER_TIMEOUT_SECONDS)


def default_sqlite_url(instance_path: str | Path) -> str:
    return f"sqlite:///{Path(instance_path) / 'marketplace.db'}"


def instance_secret(instance_path: str | Path) -> str:
    """A random secret kept in the instance folder, for set-ups that did not configure one."""
    path = Path(instance_path) / "secret_key"
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return path.read_text().strip()  # another process made it first: share it
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    return path.read_text().strip()
