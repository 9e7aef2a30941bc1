"""Reconciling card attempts with Stripe: an attempt still in flight long after any request
could be working on it (``card_attempts.STALE_AFTER``) was left by a request that died or
timed out while Stripe answered. Stripe is asked about each (by its PaymentIntent's id, or,
when that was never recorded, by the attempt id in the metadata of the customer's
PaymentIntents) and the answer is applied: a charge is booked, a decline fails the
attempt, an intent never confirmed is canceled at Stripe so that it can charge nothing.

A step of ``marketplace billing run`` (before its card retries, so a charge that happened
is booked rather than made again), ``marketplace billing reconcile-payments``, and a
function the worker can call on its schedule. Each attempt is settled in transactions of
its own, none open while Stripe is called; the webhook may settle the same attempt at the
same time, and the invoice lock with the status checks book it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
import stripe
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from billing import card_attempts
from billing.attempt_models import IN_FLIGHT, PaymentAttempt
from billing.payments import card_payments, gateway
from marketplace.db import utcnow
from marketplace.errors import DomainError

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    checked: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)  # attempt status -> how many
    errors: int = 0  # Stripe could not be asked: tried again next time


def stale_attempts(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            sa.select(PaymentAttempt.id)
            .where(
                PaymentAttempt.status.in_(IN_FLIGHT),
                PaymentAttempt.updated_at <= now - card_attempts.STALE_AFTER,
            )
            .order_by(PaymentAttempt.id)
        )
    )


def reconcile(
    sessions: sessionmaker[Session],
    client: stripe.StripeClient,
    *,
    now: datetime | None = None,
) -> ReconcileReport:
    """Settle every stale attempt from Stripe's answer. ``now`` is wall-clock time."""
    now = now or utcnow()
    report = ReconcileReport()
    with sessions() as session:
        stale = stale_attempts(session, now)
    for attempt_id in stale:
        report.checked += 1
        with sessions() as session:
            try:
                card_payments.settle_attempt(session, client, attempt_id, now=now)
                session.commit()
            except (DomainError, stripe.StripeError) as exc:
                session.rollback()
                report.errors += 1
                log.warning("reconciling payment attempt %s failed: %r", attempt_id, exc)
                continue
            status = session.get_one(PaymentAttempt, attempt_id).status.value
        report.outcomes[status] = report.outcomes.get(status, 0) + 1
    return report


def for_billing_run(app: Flask) -> Callable[[sessionmaker[Session]], int] | None:
    """The billing run's reconciliation step (None without a Stripe key): how many stale
    attempts it settled."""
    client = gateway.stripe_client(app)
    if client is None:
        return None

    def step(sessions: sessionmaker[Session]) -> int:
        report = reconcile(sessions, client)
        return report.checked - report.errors

    return step
