"""POST /billing/webhooks/stripe: Stripe's signed events, each recorded once by its id."""

from __future__ import annotations

import stripe
from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from billing.payments import stripe_events
from marketplace.db import db, utcnow
from marketplace.extensions import csrf, limiter

bp = Blueprint("stripe_webhooks", __name__)


@bp.post("/billing/webhooks/stripe")
@csrf.exempt  # authenticated by Stripe's signature instead
@limiter.exempt
def stripe_webhook() -> ResponseReturnValue:
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        return jsonify(error="webhooks are not configured"), 404
    try:
        event = stripe.Webhook.construct_event(
            request.get_data(), request.headers.get("Stripe-Signature", ""), secret
        )
    except (ValueError, stripe.SignatureVerificationError):
        return jsonify(error="invalid payload or signature"), 400
    fresh = stripe_events.handle_event(db.session, event, now=utcnow())
    return jsonify(received=True, duplicate=not fresh), 200
