"""Vendor webhooks: an event recorded with the change, delivered after commit, signed.

A service of any package calls :func:`emit` once per event, in the transaction of the
change: the event row and one delivery per subscribed, enabled endpoint of the vendor are
written, each with an outbox job (marketplace/outbox.py), so a rolled-back change sends
nothing and no request waits on a vendor's server. The worker then POSTs the event
(:func:`deliver_job`), with no transaction open during the call, signed as
marketplace/webhook_signing.py describes. A failed attempt is retried with exponential
backoff for three days (the outbox's backoff; the delivery gives up after
``RETRY_WINDOW``). An endpoint whose attempts have all failed for ``FAILING_WINDOW`` is
disabled, and the vendor is told (the ``endpoint_disabled`` signal; billing turns it into
a notification). Every attempt is kept with its status, timing and the first 2 KB of the
answer, so the vendor sees what happened and can redeliver.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import requests
import sqlalchemy as sa
from blinker import Namespace
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from marketplace import outbox
from marketplace.db import db, insert_or_skip, utcnow
from marketplace.errors import Conflict, DomainError
from marketplace.states import transition
from marketplace.urls import UrlPolicy, check_outbound_url
from marketplace.webhook_models import (
    EVENT_TYPES,
    DeliveryStatus,
    EndpointStatus,
    VendorEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from marketplace.webhook_signing import HEADER, cipher, new_secret, signature_header

log = logging.getLogger(__name__)

KIND = "webhook"
ROTATION_OVERLAP = timedelta(hours=24)
RETRY_WINDOW = timedelta(days=3)
FAILING_WINDOW = timedelta(days=3)
MAX_RESPONSE_BYTES = 2048
MAX_ENDPOINTS = 16  # per vendor
TIMEOUT = (5, 10)  # seconds to connect, to read the answer
USER_AGENT = "SME-Marketplace-Webhooks/1"

_signals = Namespace()
# Sent with the endpoint as sender and ``session=``, ``now=`` when it was disabled for
# failing, inside the transaction that disabled it.
endpoint_disabled = _signals.signal("webhook-endpoint-disabled")


class DeliveryFailed(Exception):
    """The attempt failed and will be retried by the outbox."""


# --- endpoints ------------------------------------------------------------------------


def _cipher() -> Any:
    config = current_app.config
    return cipher(config.get("WEBHOOK_SECRET_KEY"), config["SECRET_KEY"])


def encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _cipher().decrypt(token.encode()).decode()


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, then the previous one while the rotation overlap lasts."""
    found = [decrypt(endpoint.secret_encrypted)]
    if endpoint.previous_secret_active(now) and endpoint.previous_secret_encrypted:
        found.append(decrypt(endpoint.previous_secret_encrypted))
    return found


def check_event_types(event_types: list[str]) -> list[str]:
    chosen = sorted(set(event_types))
    if not chosen:
        raise DomainError(_l("Choose at least one event type."), field="event_types")
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown:
        raise DomainError(
            _l("Unknown event type: %(name)s.", name=", ".join(unknown)), field="event_types"
        )
    return chosen


def create_endpoint(
    session: Session,
    *,
    organization_id: int,
    user_id: int,
    url: str,
    event_types: list[str],
    description: str = "",
    policy: UrlPolicy,
    now: datetime,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which the caller shows once."""
    url = check_outbound_url(url, field="url", policy=policy)
    chosen = check_event_types(event_types)
    count = session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == organization_id)
    )
    if (count or 0) >= MAX_ENDPOINTS:
        raise Conflict(_l("A vendor may have at most %(n)d endpoints.", n=MAX_ENDPOINTS))
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=organization_id,
        url=url,
        description=description.strip()[:200],
        event_types=chosen,
        status=EndpointStatus.ENABLED,
        disabled_reason="",
        secret_encrypted=encrypt(secret),
        created_by_id=user_id,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def rotate_secret(session: Session, endpoint: WebhookEndpoint, *, now: datetime) -> str:
    """A new secret; the current one keeps signing, beside it, for ``ROTATION_OVERLAP``."""
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret_encrypted = encrypt(secret)
    session.flush()
    return secret


def set_enabled(
    session: Session, endpoint: WebhookEndpoint, enabled: bool, *, now: datetime
) -> None:
    if enabled:
        if not endpoint.is_enabled:
            transition(endpoint, EndpointStatus.ENABLED, None, now=now)
        endpoint.disabled_reason = ""
        endpoint.disabled_at = None
        endpoint.failing_since = None
    elif endpoint.is_enabled:
        transition(endpoint, EndpointStatus.DISABLED, None, now=now)
        endpoint.disabled_reason = "vendor"
    session.flush()


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """The endpoint and its deliveries go; the events stay (other endpoints may have them)."""
    session.delete(endpoint)
    session.flush()


# --- events ---------------------------------------------------------------------------


class EventDraft(NamedTuple):
    organization_id: int  # the vendor whose endpoints hear of it
    type: str
    data: dict[str, Any]
    key: str  # names the change ("contract:42"): one event per type and key


def emit(
    session: Session,
    organization_id: int,
    event_type: str,
    data: dict[str, Any],
    *,
    key: str,
    now: datetime,
) -> VendorEvent | None:
    """Record ``event_type`` for the vendor ``organization_id`` and queue its deliveries,
    in the caller's transaction. Returns the new event, or None for a repeat of ``key`` or
    when no enabled endpoint of the vendor asked for this type."""
    found = emit_many(session, [EventDraft(organization_id, event_type, data, key)], now=now)
    return found[0] if found else None


def emit_many(session: Session, drafts: list[EventDraft], *, now: datetime) -> list[VendorEvent]:
    """:func:`emit` for many events with one query for the endpoints (a billing run issues
    thousands of invoices). An event nobody subscribed to is not stored."""
    for draft in drafts:
        if draft.type not in EVENT_TYPES:
            raise ValueError(f"unknown webhook event type {draft.type!r}")
    vendor_ids = {draft.organization_id for draft in drafts}
    if not vendor_ids:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in session.scalars(
        sa.select(WebhookEndpoint)
        .where(
            WebhookEndpoint.organization_id.in_(vendor_ids),
            WebhookEndpoint.status == EndpointStatus.ENABLED,
        )
        .order_by(WebhookEndpoint.id)
    ):
        endpoints.setdefault(endpoint.organization_id, []).append(endpoint)
    made = []
    for draft in drafts:
        subscribed = [
            endpoint
            for endpoint in endpoints.get(draft.organization_id, [])
            if draft.type in endpoint.event_types
        ]
        if not subscribed:
            continue
        event_id = session.scalar(
            insert_or_skip(session, VendorEvent)
            .values(
                public_id="evt_" + uuid.uuid4().hex,
                organization_id=draft.organization_id,
                type=draft.type,
                dedupe_key=f"{draft.type}:{draft.key}",
                data=draft.data,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(VendorEvent.id)
        )
        if event_id is None:
            continue
        event = session.get(VendorEvent, event_id)
        assert event is not None
        for endpoint in subscribed:
            _queue(session, event, endpoint, now)
        made.append(event)
    return made


def event_body(event: VendorEvent) -> str:
    return json.dumps(
        {
            "id": event.public_id,
            "type": event.type,
            "created": event.created_at.isoformat(),
            "api_version": "v1",
            "data": {"object": event.data},
        },
        ensure_ascii=False,
        sort_keys=True,
    )


def _queue(session: Session, event: VendorEvent, endpoint: WebhookEndpoint, now: datetime) -> None:
    delivery = WebhookDelivery(
        event_id=event.id,
        endpoint_id=endpoint.id,
        body=event_body(event),
        status=DeliveryStatus.PENDING,
        redeliveries=0,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    _enqueue(session, delivery, now)


def _enqueue(session: Session, delivery: WebhookDelivery, now: datetime) -> None:
    payload = {"delivery_id": delivery.id, "until": (now + RETRY_WINDOW).isoformat()}
    key = f"{KIND}:{delivery.id}:{delivery.redeliveries}"
    outbox.enqueue(session, KIND, payload, dedupe_key=key)


def redeliver(session: Session, delivery: WebhookDelivery, *, now: datetime) -> None:
    """Send the same event (same id, same body) to the endpoint again, with its own retries."""
    if not delivery.endpoint.is_enabled:
        raise Conflict(_l("Enable the endpoint before redelivering to it."))
    if delivery.status is DeliveryStatus.PENDING:
        raise Conflict(_l("This delivery is still being attempted."))
    delivery.redeliveries += 1
    transition(delivery, DeliveryStatus.PENDING, None, now=now)
    delivery.finished_at = None
    session.flush()
    _enqueue(session, delivery, now)


# --- delivery (the worker) --------------------------------------------------------------


def deliver_job(payload: dict[str, Any]) -> None:
    """The outbox handler: one attempt of one delivery. Raises to be retried."""
    session = db.session
    now = utcnow()
    delivery = session.get(WebhookDelivery, payload["delivery_id"])
    if delivery is None or delivery.status is not DeliveryStatus.PENDING:
        return  # deleted with its endpoint, or finished by an earlier run of this job
    endpoint = delivery.endpoint
    if not endpoint.is_enabled:
        _finish(delivery, DeliveryStatus.FAILED, now)
        session.commit()
        return
    url, body = endpoint.url, delivery.body.encode()
    header = signature_header(signing_secrets(endpoint, now), int(now.timestamp()), body)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        HEADER: header,
        "Marketplace-Event-Id": delivery.event.public_id,
        "Marketplace-Event-Type": delivery.event.type,
        "Marketplace-Delivery-Id": str(delivery.id),
    }
    delivery_id = delivery.id
    session.commit()  # nothing is held open while the vendor's server answers

    started = time.monotonic()
    status, text, error = _post(url, body, headers)
    duration_ms = int((time.monotonic() - started) * 1000)

    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.status is not DeliveryStatus.PENDING:
        session.commit()
        return
    attempt = WebhookAttempt(
        delivery_id=delivery.id,
        started_at=now,
        duration_ms=duration_ms,
        response_status=status,
        response_body=text,
        error=error,
    )
    session.add(attempt)
    endpoint = delivery.endpoint
    if attempt.succeeded:
        _finish(delivery, DeliveryStatus.SUCCEEDED, now)
        endpoint.failing_since = None
        session.commit()
        return
    endpoint.failing_since = endpoint.failing_since or now
    if endpoint.is_enabled and now - endpoint.failing_since >= FAILING_WINDOW:
        _disable_failing(session, endpoint, now)
        session.commit()
        return
    if now >= datetime.fromisoformat(payload["until"]):
        _finish(delivery, DeliveryStatus.FAILED, now)
        session.commit()
        return
    session.commit()
    raise DeliveryFailed(f"{url}: {status or error}")


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """(status, the answer's first 2 KB, error). Redirects are not followed: the URL was
    checked, where it redirects to was not."""
    try:
        check_outbound_url(url, field="url", policy=UrlPolicy.from_config())
    except DomainError as refused:
        return None, "", str(refused.message)
    try:
        with requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT, allow_redirects=False, stream=True
        ) as response:
            raw = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
            return response.status_code, raw.decode("utf-8", "replace"), ""
    except requests.RequestException as exc:
        return None, "", f"{type(exc).__name__}: {exc}"[:500]


def _finish(delivery: WebhookDelivery, status: DeliveryStatus, now: datetime) -> None:
    transition(delivery, status, None, now=now)


def _disable_failing(session: Session, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Three days of failures: stop trying, give up its pending deliveries, tell the vendor."""
    transition(endpoint, EndpointStatus.DISABLED, None, now=now)
    endpoint.disabled_reason = "failing"
    pending = session.scalars(
        sa.select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == DeliveryStatus.PENDING,
        )
    )
    for delivery in pending:
        _finish(delivery, DeliveryStatus.FAILED, now)
    session.flush()
    log.warning(
        "webhook endpoint %s disabled after failing since %s", endpoint.id, endpoint.failing_since
    )
    endpoint_disabled.send(endpoint, session=session, now=now)


def install(app: Flask) -> None:
    """Register the delivery job. The outbox's backoff (1 minute, doubled, at most 6 hours
    apart) retries it well past the three days, after which the delivery gives up itself."""
    outbox.register(
        app,
        KIND,
        deliver_job,
        max_attempts=40,
        backoff=timedelta(minutes=1),
        max_backoff=timedelta(hours=6),
    )
