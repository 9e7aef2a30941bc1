"""The demo's vendor webhooks: the demo vendor's endpoint, and the small receiver that
``marketplace demo`` starts for it on loopback, so deliveries show in the vendor console.

The endpoint is added before the other demo loaders run, so the listings they approve and
the contracts and invoices they create are events; the demo's worker delivers them. After
the catalog is in, the demo vendor's listings name the receiver's ``/signup`` page as their
fulfillment URL, so a demo buyer who starts a plan can press 前往服务商开通 and see the
one-time token arrive on the vendor's side.
"""

from __future__ import annotations

import html
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
SIGNUP_URL = f"http://127.0.0.1:{RECEIVER_PORT}/signup"
TOKEN_PARAMETER = "marketplace_token"  # billing/fulfillment.py adds it to the URL


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


def load_signup_page(
    session: Session, orgs: dict[str, Organization], solutions: Sequence[Any] = (), **_: Any
) -> dict[str, Any]:
    """The demo vendor's listings send buyers to the receiver's sign-up page (set directly:
    a loopback http URL that only the demo's own policy allows)."""
    for solution in solutions:
        if solution.vendor_id == orgs["vendor"].id and not solution.fulfillment_url:
            solution.fulfillment_url = SIGNUP_URL
    session.flush()
    return {}


def signup_page(token: str) -> str:
    """What the demo vendor's sign-up page shows: the token, and the call that exchanges it."""
    shown = html.escape(token) or "(none)"
    return f"""<!doctype html>
<html lang="zh-CN"><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>演示服务商开通页 Demo vendor sign-up</title>
<body style="font-family: sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem">
<h1>演示服务商开通页</h1>
<p>Demo vendor sign-up page. 平台把买家带到这里，并附上一次性令牌：</p>
<p><code style="word-break: break-all">{shown}</code></p>
<p>服务商的服务器用它换取买家企业、合同和套餐（仅一次，15 分钟内有效）。
The vendor's server exchanges it once, within 15 minutes, with its API token:</p>
<pre style="white-space: pre-wrap">curl -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
     -d '{{"token": "{shown}"}}' http://127.0.0.1:8000/api/v1/fulfillment/resolve</pre>
</body></html>
"""


class _Receiver(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/signup":
            self.send_error(404)
            return
        token = parse_qs(parts.query).get(TOKEN_PARAMETER, [""])[0]
        body = signup_page(token).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

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
        [sys.executable, "-c", "from devtools.demo.webhooks import serve_receiver as s; s()"]
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return f"webhooks: demo receiver at {RECEIVER_URL} (process {process.pid})", stop
