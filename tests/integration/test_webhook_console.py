"""The vendor's webhook console end to end (issue 14): add an endpoint and see its secret
once, see each delivery with its request, response codes and timing, rotate the secret
(both sign during the overlap), redeliver one delivery (same event id), disable and enable."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from marketplace import outbox, webhooks
from marketplace.db import utcnow
from marketplace.webhook_models import WebhookDelivery, WebhookEndpoint
from marketplace.webhook_signing import verify
from tests.catalog.factories import vendor_actor
from tests.factories import login
from tests.webhook_receiver import Receiver

# One attempt as the console shows it: the response code, then how long it took.
ATTEMPT = r"<dd[^>]*>%s</dd>\s*<dt[^>]*>[^<]+</dt><dd[^>]*>\d+ ms</dd>"
SECRET = re.compile(r"whsec_[A-Za-z0-9_\-]+")


@pytest.fixture
def config(config: dict[str, object], tmp_path: Path) -> dict[str, object]:
    return {**config, "OUTBOUND_URLS_ALLOW_PRIVATE": True, "OUTBOUND_URLS_ALLOW_HTTP": True}


def test_console_rotates_redelivers_and_shows_every_attempt(app: Flask, session: Session) -> None:
    vendor = vendor_actor(session)
    session.commit()
    console = app.test_client()
    login(console, vendor.user)
    with Receiver(answers=[502, 200, 200, 200], answer_body=b'{"ok": "yes"}') as receiver:
        added = console.post(
            "/vendor/webhooks", data={"url": receiver.url, "event_types": ["invoice.paid"]}
        ).get_data(as_text=True)
        (first_secret,) = set(SECRET.findall(added))
        (endpoint,) = session.scalars(sa.select(WebhookEndpoint))
        page = f"/vendor/webhooks/{endpoint.id}"

        webhooks.emit(
            session, vendor.organization.id, "invoice.paid", {"n": 1}, key="1", now=utcnow()
        )
        session.commit()
        start = utcnow()
        outbox.drain(app, now=start)
        outbox.drain(app, now=start + timedelta(minutes=2))  # the first retry
        detail = console.get(page).get_data(as_text=True)
        (delivery,) = session.scalars(sa.select(WebhookDelivery))
        assert delivery.event.public_id in detail
        assert "&#34;n&#34;: 1" in detail  # the request body
        assert re.search(ATTEMPT % "502", detail)
        assert re.search(ATTEMPT % "200", detail)
        assert "&#34;ok&#34;: &#34;yes&#34;" in detail  # the answer
        assert SECRET.search(detail) is None  # shown once, at creation

        rotated = console.post(f"{page}/rotate").get_data(as_text=True)
        (new_secret,) = set(SECRET.findall(rotated))
        assert new_secret != first_secret
        assert SECRET.search(console.get(page).get_data(as_text=True)) is None

        # Redelivered from the console: the same event, signed by both secrets.
        assert (
            console.post(f"/vendor/webhooks/deliveries/{delivery.id}/redeliver").status_code == 302
        )
        outbox.drain(app)
        first, _retried, again = receiver.requests
        assert again.body == first.body
        assert again.headers["Marketplace-Event-Id"] == first.headers["Marketplace-Event-Id"]
        header, now = again.headers["Marketplace-Signature"], int(time.time())
        assert verify(again.body, header, first_secret, now=now)
        assert verify(again.body, header, new_secret, now=now)
        assert not verify(again.body, header, "whsec_other", now=now)

        # Disabled: nothing is queued; enabled again: the next event goes out.
        console.post(f"{page}/disable")
        webhooks.emit(
            session, vendor.organization.id, "invoice.paid", {"n": 2}, key="2", now=utcnow()
        )
        session.commit()
        outbox.drain(app)
        assert len(receiver.requests) == 3
        console.post(f"{page}/enable")
        webhooks.emit(
            session, vendor.organization.id, "invoice.paid", {"n": 3}, key="3", now=utcnow()
        )
        session.commit()
        outbox.drain(app)
        assert len(receiver.requests) == 4
