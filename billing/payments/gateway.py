"""The Stripe client: built from the app's settings, with timeouts that end every call of
a request before gunicorn would kill its worker. Amounts go to Stripe as integer fen in
CNY (its minor unit)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from billing import card_attempts
from marketplace.errors import DomainError

CURRENCY = "cny"

# Stripe calls one card payment makes at most in a request: create, confirm, retrieve.
CALLS_PER_PAYMENT = 3


class PaymentUnavailable(DomainError):
    """Card payments are not configured, or Stripe cannot be reached."""

    status = 503
    code = "unavailable"


def stripe_client(app: Flask | None = None) -> stripe.StripeClient | None:
    """A client for the configured Stripe (or a Stripe-compatible test server); None when
    no key is set: card payment is then hidden and bank transfer still works."""
    config = (app or current_app).config
    key = config.get("STRIPE_SECRET_KEY")
    if not key:
        return None
    base = config.get("STRIPE_API_BASE")
    options: dict[str, Any] = {"base_addresses": {"api": base}} if base else {}
    return stripe.StripeClient(
        key,
        max_network_retries=network_retries(config),
        http_client=stripe.RequestsClient(timeout=config["STRIPE_TIMEOUT_SECONDS"]),
        **options,
    )


def network_retries(config: Mapping[str, Any]) -> int:
    """Retries of a Stripe call that got no answer (POSTs carry idempotency keys, so a
    retry never charges twice); none against a test server."""
    return 0 if config.get("STRIPE_API_BASE") else 1


def check_timeouts(config: Mapping[str, Any]) -> None:
    """Refuse settings under which gunicorn could kill a worker while Stripe's answer is on
    its way (the charge made, nothing recorded): every call of a card payment, with its
    retries, must end before the worker's timeout, and an attempt is only taken for
    abandoned once no request can still be working on it."""
    budget = CALLS_PER_PAYMENT * (network_retries(config) + 1) * config["STRIPE_TIMEOUT_SECONDS"]
    worker = config["WORKER_TIMEOUT_SECONDS"]
    if not 0 < budget < worker:
        raise ValueError(
            f"STRIPE_TIMEOUT_SECONDS={config['STRIPE_TIMEOUT_SECONDS']} lets a card payment "
            f"wait {budget} s, not less than WORKER_TIMEOUT_SECONDS={worker}"
        )
    if card_attempts.STALE_AFTER.total_seconds() <= worker:
        raise ValueError("card_attempts.STALE_AFTER must exceed WORKER_TIMEOUT_SECONDS")


def unreachable(exc: Exception) -> PaymentUnavailable:
    return PaymentUnavailable(
        _l(
            "The card service cannot be reached right now; nothing was charged. Please try again in a few minutes."
        )
    )
