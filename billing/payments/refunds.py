"""Refunds, the way Stripe advises: the intent first, then the call, then the booking.

A refund is validated and recorded pending under the invoice lock, holding its amount:
what is left to refund of a payment is its amount less every refund that succeeded or is
pending, so two refunds at once never give back more than was paid. The pending refund is
committed; Stripe is then called with no transaction open, with an idempotency key derived
from the refund; its answer is booked (billing/invoice_money.py: ledger, customer credit,
vouchers) or the refund failed, in a new transaction. A bank transfer is given back outside
Stripe (the operator sends it), so its refund is booked at once.

A refund left pending by a request that died, or that Stripe did not answer, is settled by
:func:`reconcile` (the worker's ``refund_reconciliation`` job, billing/jobs.py) once no
request can still be working on it: Stripe is asked for the refund carrying its id in the
metadata; found, it is booked (or failed, as Stripe says); never made, it is failed, and
its amount may be refunded again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import stripe
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session, sessionmaker

from billing import card_attempts, invoice_money
from billing.payment_models import Payment, PaymentMethodKind, PaymentStatus, Refund, RefundStatus
from billing.payments.gateway import PaymentUnavailable
from billing.reconciliation import ReconcileReport  # the same report as card charges
from marketplace import audit
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import OrgKind
from marketplace.states import transition

log = logging.getLogger(__name__)

PENDING, SUCCEEDED, FAILED = RefundStatus.PENDING, RefundStatus.SUCCEEDED, RefundStatus.FAILED
HOLDING = (PENDING, SUCCEEDED)  # refunds that count against what is left of a payment
# A refund pending longer than this was left by a request that died: no request lives
# beyond gunicorn's worker timeout (billing.payments.gateway.check_timeouts).
STALE_AFTER = card_attempts.STALE_AFTER
METADATA_KEY = "refund_id"  # in the Stripe refund's metadata


class RefundPending(PaymentUnavailable):
    """Stripe did not answer: the refund may have been made, so it stays pending."""


def _refused() -> Conflict:
    return Conflict(_l("Stripe refused the refund; nothing was refunded."))


def held_fen(payment: Payment) -> int:
    """What refunds that succeeded or are still pending take from the payment."""
    return sum(r.amount_fen for r in payment.refunds if r.status in HOLDING)


@dataclass(frozen=True)
class _StripeRefund:
    """What the Stripe call needs, copied out of the session before it commits."""

    refund_id: int
    payment_intent_id: str
    amount_fen: int

    @property
    def idempotency_key(self) -> str:
        # The PaymentIntent's id keeps two databases on one Stripe account apart.
        return f"refund-{self.refund_id}-{self.payment_intent_id}"


def refund(
    session: Session,
    client: stripe.StripeClient | None,
    payment: Payment,
    *,
    amount_fen: int,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Refund:
    """Give money back, with an explicit amount never more than is left. A card refund
    commits ``session`` (its pending refund before Stripe is called, a refusal after) and
    leaves the booking for the caller to commit; raises :class:`RefundPending` (503) when
    Stripe did not answer, and re-raises Stripe's refusal (nothing refunded)."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator refunds payments."))
    by_card = payment.method is PaymentMethodKind.CARD
    if by_card and client is None:
        raise PaymentUnavailable(_l("Card payments are not configured."))
    record = _hold(session, payment, amount_fen=amount_fen, reason=reason, actor=actor)
    if not by_card:
        invoice_money.book_refund(session, record, now=now, actor=actor)
        return record
    assert client is not None
    call = _StripeRefund(record.id, payment.stripe_payment_intent_id or "", amount_fen)
    session.commit()  # the refund is pending, its amount held
    try:
        answer = client.v1.refunds.create(
            {
                "payment_intent": call.payment_intent_id,
                "amount": call.amount_fen,
                "metadata": {METADATA_KEY: str(call.refund_id)},
            },
            {"idempotency_key": call.idempotency_key},
        )
    except stripe.APIConnectionError as exc:
        raise RefundPending(
            _l(
                "The card service did not answer; the refund stays pending and is completed or cancelled within minutes. Until then its amount cannot be refunded again."
            )
        ) from exc
    except stripe.StripeError as exc:
        _fail_pending(session, call.refund_id, code=exc.code or "refused")
        session.commit()
        raise
    record = apply_answer(session, call.refund_id, answer, now=now, actor=actor)
    if record.status == FAILED:
        session.commit()
        raise _refused()
    return record


def _hold(
    session: Session, payment: Payment, *, amount_fen: int, reason: str, actor: Actor
) -> Refund:
    """Validate the refund under the invoice lock and record it pending."""
    invoice_money.lock_invoice(session, payment.invoice)
    session.refresh(payment, ["refunds"])  # what was refunded or is pending, by anyone
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise Conflict(_l("Only a successful payment can be refunded."))
    if not 0 < amount_fen <= payment.amount_fen - held_fen(payment):
        raise DomainError(
            _l("Refund between ¥0.01 and what is left of the payment."), field="amount"
        )
    if not reason.strip():
        raise DomainError(_l("Give a reason."), field="reason")
    record = Refund(
        payment_id=payment.id,
        amount_fen=amount_fen,
        status=PENDING,
        reason=reason.strip(),
        recorded_by_id=actor.user.id,
        created_at=utcnow(),  # wall-clock: how long it is pending says if its request lives
    )
    session.add(record)
    session.flush()
    return record


def apply_answer(
    session: Session, refund_id: int, answer: Any, *, now: datetime, actor: Actor | None = None
) -> Refund:
    """Book the pending refund Stripe made, or fail it when Stripe says it failed; once,
    under the invoice lock (the request and the reconciliation may both get here)."""
    record = session.get_one(Refund, refund_id)
    invoice_money.lock_invoice(session, record.payment.invoice)
    session.refresh(record)
    if record.status != PENDING:
        return record
    record.stripe_refund_id = answer.id
    if answer.status in ("failed", "canceled"):
        _fail(session, record, code=getattr(answer, "failure_reason", None) or answer.status)
    else:  # succeeded, or pending at Stripe: the money is on its way back
        invoice_money.book_refund(session, record, now=now, actor=actor)
    return record


def _fail_pending(session: Session, refund_id: int, *, code: str) -> Refund:
    record = session.get_one(Refund, refund_id)
    invoice_money.lock_invoice(session, record.payment.invoice)
    session.refresh(record)
    if record.status == PENDING:
        _fail(session, record, code=code)
    return record


def _fail(session: Session, record: Refund, *, code: str) -> None:
    """Nothing was refunded: the refund no longer holds its amount."""
    transition(record, FAILED, None, audit_row=False)  # its own audit row below
    session.flush()
    payment = record.payment
    audit.record(
        session,
        "payment.refund_failed",
        "invoice",
        payment.invoice_id,
        user_id=record.recorded_by_id,
        data={"payment_id": payment.id, "amount_fen": record.amount_fen, "code": code[:60]},
    )


def stale_refunds(session: Session, now: datetime) -> list[int]:
    return list(
        session.scalars(
            sa.select(Refund.id)
            .join(Payment)
            .where(
                Refund.status == PENDING,
                Refund.created_at <= now - STALE_AFTER,
                Payment.method == PaymentMethodKind.CARD,
            )
            .order_by(Refund.id)
        )
    )


def settle_refund(
    session: Session, client: stripe.StripeClient, refund_id: int, *, now: datetime
) -> Refund:
    """Ask Stripe what became of a pending refund and book or fail it. Ends the session's
    transaction before calling Stripe; the caller commits the result."""
    record = session.get_one(Refund, refund_id)
    intent_id = record.payment.stripe_payment_intent_id or ""
    session.commit()
    answer = _find_refund(client, intent_id, refund_id)
    if answer is not None:
        return apply_answer(session, refund_id, answer, now=now)
    return _fail_pending(session, refund_id, code="not_created")


def _find_refund(client: stripe.StripeClient, intent_id: str, refund_id: int) -> Any | None:
    """The Stripe refund of the PaymentIntent carrying our refund's id in its metadata."""
    found = client.v1.refunds.list({"payment_intent": intent_id, "limit": 100})
    for answer in found.auto_paging_iter():
        metadata: stripe.StripeObject | dict[str, str] = answer.metadata or {}
        if METADATA_KEY in metadata and metadata[METADATA_KEY] == str(refund_id):
            return answer
    return None


def reconcile(
    sessions: sessionmaker[Session],
    client: stripe.StripeClient,
    *,
    now: datetime | None = None,
) -> ReconcileReport:
    """Settle every stale pending refund from Stripe's answer, each in transactions of its
    own. ``now`` is wall-clock time."""
    now = now or utcnow()
    report = ReconcileReport()
    with sessions() as session:
        stale = stale_refunds(session, now)
    for refund_id in stale:
        report.checked += 1
        with sessions() as session:
            try:
                settle_refund(session, client, refund_id, now=now)
                session.commit()
            except (DomainError, stripe.StripeError) as exc:
                session.rollback()
                report.errors += 1
                log.warning("reconciling refund %s failed: %r", refund_id, exc)
                continue
            status = session.get_one(Refund, refund_id).status
        report.outcomes[status] = report.outcomes.get(status, 0) + 1
    return report
