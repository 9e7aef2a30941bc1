"""The demo's vendor webhooks: the demo vendor's endpoint, and the small receiver that
``marketplace demo`` starts for it on loopback, so deliveries show in the vendor console.

The endpoint is added before the other demo loaders run, so the listings they approve and
the contracts and invoices they create are events; the demo's worker delivers them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace import webhooks
from marketplace.db import utcnow
from marketplace.models import Organization, User
from marketplace.urls import UrlPolicy
from marketplace.webhook_models import EVENT_TYPES, WebhookEndpoint

RECEIVER_PORT = int(os.environ.get("MARKETPLACE_DEMO_WEBHOOK_PORT", "8765"))
RECEIVER_URL = f"http://127.0.0.1:{RECEIVER_PORT}/hooks/marketplace"


def load(
    session: Session, orgs: dict[str, Organization], users: dict[str, User], **_: Any
) -> dict[str, Any]:
    vendor = orgs["vendor"]
    exists = session.scalar(
        sa.select(WebhookEndpoint.id).where(
            WebhookEndpoint.organization_id == vendor.id, WebhookEndpoint.url == RECEIVER_URL
        )
    )
    if exists is None:
        owner = next(user for user in users.values() if user.membership_in(vendor.id))
        webhooks.create_endpoint(
            session,
            organization_id=vendor.id,
            user_id=owner.id,
            url=RECEIVER_URL,
            event_types=list(EVENT_TYPES),
            description="演示接收端（marketplace demo 启动）",
            policy=UrlPolicy(allow_http=True, allow_private=True),  # the demo's own loopback
            now=utcnow(),
        )
    return {}


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        event = self.headers.get("Marketplace-Event-Type", "?")
        print(f"demo webhook receiver: {event} {len(body)} bytes", flush=True)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"received": true}')

    def log_message(self, *_args: Any) -> None:
        pass


def serve_receiver(port: int = RECEIVER_PORT) -> None:
    HTTPServer(("127.0.0.1", port), _Receiver).serve_forever()


def start_receiver(app: Flask, host: str, port: int) -> tuple[str, Callable[[], None]]:
    """A demo service: the receiver process; the worker (started after it) may call loopback."""
    os.environ.setdefault("MARKETPLACE_OUTBOUND_URLS_ALLOW_HTTP", "true")
    os.environ.setdefault("MARKETPLACE_OUTBOUND_URLS_ALLOW_PRIVATE", "true")
    process = subprocess.Popen(
        [sys.executable, "-c", "from marketplace.webhook_demo import serve_receiver as s; s()"]
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return f"webhooks: demo receiver at {RECEIVER_URL} (process {process.pid})", stop
