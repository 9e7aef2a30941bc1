"""The vendor's webhook endpoints and their deliveries in the JSON API (rules in
marketplace/webhooks.py). Another organization's endpoint or delivery is not found."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask_babel import gettext as _
from flask_smorest import Blueprint

from marketplace import webhooks
from marketplace.api_fields import state
from marketplace.db import db, utcnow
from marketplace.jsonapi import ApiError, ErrorSchema, current_actor, service_call, token_required
from marketplace.models import OrgKind
from marketplace.urls import MAX_URL_LENGTH, UrlPolicy
from marketplace.webhook_models import (
    EVENT_TYPES,
    DeliveryStatus,
    EndpointStatus,
    WebhookDelivery,
    WebhookEndpoint,
)

blp = Blueprint(
    "webhooks_api", __name__, url_prefix="/api/v1", description="Vendor webhook endpoints"
)


class EndpointIn(ma.Schema):
    url = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=MAX_URL_LENGTH))
    event_types = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)),
        required=True,
        validate=ma.validate.Length(min=1, max=len(EVENT_TYPES)),
    )
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class EndpointPatch(ma.Schema):
    enabled = ma.fields.Boolean(required=True)


class EndpointOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    event_types = ma.fields.List(ma.fields.String(), required=True)
    status = state(EndpointStatus, required=True)
    disabled_reason = ma.fields.String(required=True)
    previous_secret_expires_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class EndpointWithSecretOut(EndpointOut):
    secret = ma.fields.String(
        required=True, metadata={"description": "The signing secret: shown only in this answer"}
    )


class EndpointListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(EndpointOut), required=True)


class AttemptOut(ma.Schema):
    started_at = ma.fields.AwareDateTime(required=True)
    duration_ms = ma.fields.Integer(required=True)
    response_status = ma.fields.Integer(allow_none=True, required=True)
    response_body = ma.fields.String(required=True, metadata={"description": "first 2 KB"})
    error = ma.fields.String(required=True)


class DeliveryOut(ma.Schema):
    id = ma.fields.Integer(required=True)
    event_id = ma.fields.String(attribute="event.public_id", required=True)
    event_type = ma.fields.String(attribute="event.type", required=True)
    status = state(DeliveryStatus, required=True)
    request_body = ma.fields.String(attribute="body", required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    finished_at = ma.fields.AwareDateTime(allow_none=True, required=True)
    attempts = ma.fields.List(ma.fields.Nested(AttemptOut), required=True)


class DeliveryListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DeliveryOut), required=True)


class DeliveryQuery(ma.Schema):
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=200))


def _own_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.can_manage(current_actor().organization.id):
        raise ApiError(404, _("No such webhook endpoint."))
    return endpoint


class _WithSecret:
    """An endpoint as EndpointWithSecretOut dumps it: its fields, and the new secret."""

    def __init__(self, endpoint: WebhookEndpoint, secret: str) -> None:
        self.endpoint = endpoint
        self.secret = secret

    def __getattr__(self, name: str) -> Any:
        return getattr(self.endpoint, name)


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> _WithSecret:
    return _WithSecret(endpoint, secret)


@blp.get("/webhook-endpoints")
@token_required([OrgKind.VENDOR])
@blp.response(200, EndpointListOut)
def list_endpoints() -> dict[str, Any]:
    """Your organization's webhook endpoints."""
    query = (
        sa.select(WebhookEndpoint)
        .where(WebhookEndpoint.organization_id == current_actor().organization.id)
        .order_by(WebhookEndpoint.id)
    )
    return {"items": list(db.session.scalars(query))}


@blp.post("/webhook-endpoints")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(EndpointIn)
@blp.response(201, EndpointWithSecretOut)
@blp.alt_response(409, schema=ErrorSchema)
def create_endpoint(body: dict[str, Any]) -> _WithSecret:
    """Add an endpoint: an https URL and the event types it receives. The answer holds the
    signing secret, shown this once."""
    actor = current_actor()
    with service_call():
        endpoint, secret = webhooks.create_endpoint(
            db.session,
            organization_id=actor.organization.id,
            user_id=actor.user.id,
            url=body["url"],
            event_types=body["event_types"],
            description=body["description"],
            policy=UrlPolicy.from_config(),
            now=utcnow(),
        )
    return _with_secret(endpoint, secret)


@blp.get("/webhook-endpoints/<int:endpoint_id>")
@token_required([OrgKind.VENDOR])
@blp.response(200, EndpointOut)
@blp.alt_response(404, schema=ErrorSchema)
def get_endpoint(endpoint_id: int) -> WebhookEndpoint:
    """One endpoint (never its secret)."""
    return _own_endpoint(endpoint_id)


@blp.patch("/webhook-endpoints/<int:endpoint_id>")
@token_required([OrgKind.VENDOR], write=True)
@blp.arguments(EndpointPatch)
@blp.response(200, EndpointOut)
@blp.alt_response(404, schema=ErrorSchema)
def update_endpoint(body: dict[str, Any], endpoint_id: int) -> WebhookEndpoint:
    """Disable an endpoint, or enable it again (after it was disabled for failing)."""
    endpoint = _own_endpoint(endpoint_id)
    with service_call():
        webhooks.set_enabled(db.session, endpoint, body["enabled"], now=utcnow())
    return endpoint


@blp.delete("/webhook-endpoints/<int:endpoint_id>")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(204)
@blp.alt_response(404, schema=ErrorSchema)
def delete_endpoint(endpoint_id: int) -> None:
    """Delete an endpoint and its deliveries; nothing more is sent to it."""
    endpoint = _own_endpoint(endpoint_id)
    with service_call():
        webhooks.delete_endpoint(db.session, endpoint)


@blp.post("/webhook-endpoints/<int:endpoint_id>/rotate")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(200, EndpointWithSecretOut)
@blp.alt_response(404, schema=ErrorSchema)
def rotate_secret(endpoint_id: int) -> _WithSecret:
    """A new signing secret (shown this once). For 24 hours requests carry a signature with
    each secret, so you can switch your receiver over without missing an event."""
    endpoint = _own_endpoint(endpoint_id)
    with service_call():
        secret = webhooks.rotate_secret(db.session, endpoint, now=utcnow())
    return _with_secret(endpoint, secret)


@blp.get("/webhook-endpoints/<int:endpoint_id>/deliveries")
@token_required([OrgKind.VENDOR])
@blp.arguments(DeliveryQuery, location="query")
@blp.response(200, DeliveryListOut)
@blp.alt_response(404, schema=ErrorSchema)
def list_deliveries(args: dict[str, Any], endpoint_id: int) -> dict[str, Any]:
    """The endpoint's deliveries, newest first: the request body, every attempt's response
    code, timing and the first 2 KB of the answer."""
    endpoint = _own_endpoint(endpoint_id)
    query = (
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(args["limit"])
    )
    return {"items": list(db.session.scalars(query))}


@blp.post("/webhook-deliveries/<int:delivery_id>/redeliver")
@token_required([OrgKind.VENDOR], write=True)
@blp.response(202, DeliveryOut)
@blp.alt_response(404, schema=ErrorSchema)
@blp.alt_response(409, schema=ErrorSchema)
def redeliver(delivery_id: int) -> WebhookDelivery:
    """Send a finished delivery again: the same event id and body, freshly signed."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or not delivery.endpoint.can_manage(current_actor().organization.id):
        raise ApiError(404, _("No such delivery."))
    with service_call():
        webhooks.redeliver(db.session, delivery, now=utcnow())
    return delivery
