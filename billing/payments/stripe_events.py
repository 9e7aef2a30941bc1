"""Stripe's signed events (POST /billing/webhooks/stripe), each applied once by its id: a
PaymentIntent that succeeded or failed is applied to its payment as the request that made
it would have (billing/payments/card_payments.py)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import card_attempts, invoice_money
from billing.payment_models import Payment, WebhookEvent
from billing.payments import card_payments

log = logging.getLogger(__name__)


def handle_event(session: Session, event: Any, *, now: datetime) -> bool:
    """Apply a verified Stripe event once; False when this event id was seen before."""
    if (
        session.scalar(sa.select(WebhookEvent.id).where(WebhookEvent.event_id == event.id))
        is not None
    ):
        return False
    session.add(WebhookEvent(event_id=event.id, type=event.type, payload=event.to_dict()))
    session.flush()
    if event.type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        intent = event.data.object
        payment = payment_for_intent(session, intent)
        if payment is not None:
            card_payments.apply_intent(session, payment, intent, now=now)
    return True


def payment_for_intent(session: Session, intent: Any) -> Payment | None:
    """Our payment of a PaymentIntent; made from its attempt when the request that created
    the intent died before recording it (found by the attempt id in its metadata)."""
    payment = session.scalar(
        sa.select(Payment).where(Payment.stripe_payment_intent_id == intent.id)
    )
    if payment is not None:
        return payment
    attempt = card_attempts.attempt_for_intent(session, intent)
    if attempt is None:
        return None
    invoice_money.lock_invoice(session, attempt.invoice)
    session.refresh(attempt)
    if attempt.payment is not None:
        return attempt.payment
    if not attempt.status.in_flight:
        log.warning("PaymentIntent %s of finished attempt %s", intent.id, attempt.id)
        return None
    return card_attempts.record_intent(session, attempt, intent.id)
