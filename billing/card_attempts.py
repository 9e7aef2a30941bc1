"""The life of a card payment attempt (see billing/attempt_models.py): started under the
invoice lock and committed before Stripe is called, its PaymentIntent recorded before it is
confirmed, and finished when its payment succeeds, fails or is abandoned.

Attempt times are wall-clock (``utcnow``), not the billing clock a run may be given: how
long an attempt has been in flight says whether the request that made it can still be
alive, which only real seconds tell.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing.attempt_models import IN_FLIGHT, AttemptStatus, PaymentAttempt
from billing.models import Invoice
from billing.payment_models import Payment, PaymentMethodKind, PaymentStatus
from marketplace import audit
from marketplace.db import utcnow
from marketplace.errors import Conflict

# An attempt in flight longer than this was left by a request that died: no request lives
# beyond gunicorn's worker timeout (billing.payments.gateway.check_timeouts keeps it so).
STALE_AFTER = timedelta(minutes=5)

METADATA_KEY = "payment_attempt_id"  # in the PaymentIntent's metadata


class AttemptInFlight(Conflict):
    """Another card payment of the invoice may still charge the card."""

    code = "payment_in_progress"


def in_progress_error() -> AttemptInFlight:
    return AttemptInFlight(
        _l(
            "A card payment of this invoice is already in progress; nothing more was charged. "
            "Reload the page in a minute to see its result."
        )
    )


def in_flight(session: Session, invoice_id: int) -> PaymentAttempt | None:
    return session.scalar(
        sa.select(PaymentAttempt).where(
            PaymentAttempt.invoice_id == invoice_id, PaymentAttempt.status.in_(IN_FLIGHT)
        )
    )


def is_stale(attempt: PaymentAttempt, now: datetime | None = None) -> bool:
    return attempt.updated_at <= (now or utcnow()) - STALE_AFTER


def start(
    session: Session,
    invoice: Invoice,
    *,
    amount_fen: int,
    customer_id: str,
    off_session: bool,
) -> PaymentAttempt:
    """A new attempt for the invoice (the caller holds the invoice lock). The database
    refuses a second one in flight, whoever holds which lock."""
    now = utcnow()
    attempt = PaymentAttempt(
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        amount_fen=amount_fen,
        customer_id=customer_id,
        off_session=off_session,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(attempt)
    except IntegrityError as exc:
        raise in_progress_error() from exc
    audit.record(
        session,
        "payment.attempt_started",
        "invoice",
        invoice.id,
        org_id=invoice.buyer_id,
        data={"attempt_id": attempt.id, "amount_fen": amount_fen, "off_session": off_session},
    )
    return attempt


def record_intent(session: Session, attempt: PaymentAttempt, intent_id: str) -> Payment:
    """The PaymentIntent exists (not confirmed yet): keep its id on the attempt and on a
    processing payment, so its webhook finds them whatever happens to the request."""
    payment = Payment(
        invoice_id=attempt.invoice_id,
        buyer_id=attempt.buyer_id,
        method=PaymentMethodKind.CARD,
        status=PaymentStatus.PROCESSING,
        amount_fen=attempt.amount_fen,
        stripe_payment_intent_id=intent_id,
    )
    session.add(payment)
    session.flush()
    attempt.stripe_payment_intent_id = intent_id
    attempt.payment_id = payment.id
    attempt.move(AttemptStatus.CONFIRMING, now=utcnow())
    session.flush()
    return payment


def finish(
    session: Session,
    attempt: PaymentAttempt,
    status: AttemptStatus,
    *,
    failure_code: str | None = None,
) -> None:
    """Move the attempt on (audited when it ends); nothing when it is there already."""
    if attempt.status is status:
        return
    attempt.move(status, now=utcnow(), failure_code=failure_code)
    session.flush()
    if not status.in_flight:
        audit.record(
            session,
            f"payment.attempt_{status.value}",
            "invoice",
            attempt.invoice_id,
            org_id=attempt.buyer_id,
            data={
                "attempt_id": attempt.id,
                "payment_intent": attempt.stripe_payment_intent_id,
                "amount_fen": attempt.amount_fen,
                "failure_code": attempt.failure_code,
            },
        )


_FOLLOWS = {
    PaymentStatus.SUCCEEDED: AttemptStatus.SUCCEEDED,
    PaymentStatus.FAILED: AttemptStatus.FAILED,
    PaymentStatus.REQUIRES_ACTION: AttemptStatus.REQUIRES_ACTION,
}


def follow_payment(session: Session, payment: Payment) -> None:
    """The attempt that made a card payment takes the payment's new status."""
    if payment.method is not PaymentMethodKind.CARD or payment.status not in _FOLLOWS:
        return
    attempt = session.scalar(
        sa.select(PaymentAttempt).where(PaymentAttempt.payment_id == payment.id)
    )
    if attempt is not None and attempt.status.in_flight:
        finish(session, attempt, _FOLLOWS[payment.status], failure_code=payment.failure_code)


def attempt_for_intent(session: Session, intent: object) -> PaymentAttempt | None:
    """The attempt a PaymentIntent was made for: by its recorded id, else by the attempt id
    in its metadata (the request died before recording it), if customer and amount match."""
    intent_id = getattr(intent, "id", None)
    attempt = session.scalar(
        sa.select(PaymentAttempt).where(PaymentAttempt.stripe_payment_intent_id == intent_id)
    )
    if attempt is not None:
        return attempt
    metadata = getattr(intent, "metadata", None) or {}
    # a StripeObject has no .get() in stripe 16
    raw = metadata[METADATA_KEY] if METADATA_KEY in metadata else None  # noqa: SIM401
    if raw is None or not str(raw).isdigit():
        return None
    attempt = session.get(PaymentAttempt, int(raw))
    if (
        attempt is None
        or attempt.stripe_payment_intent_id is not None
        or attempt.customer_id != getattr(intent, "customer", None)
        or attempt.amount_fen != getattr(intent, "amount", None)
    ):
        return None
    return attempt
