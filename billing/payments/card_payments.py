"""Paying an invoice by the saved card: an attempt committed before Stripe is called, its
PaymentIntent recorded before it is confirmed, and Stripe's answer applied under the invoice
lock (3-D Secure waits for the buyer; an answer lost on its way is settled later from
Stripe, see billing/reconciliation.py). The billing run's card retries go through here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import stripe
from flask import Flask
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import card_attempts, invoice_money, invoices, notify
from billing.attempt_models import AttemptStatus, PaymentAttempt
from billing.invoice_money import PAYABLE
from billing.models import Invoice
from billing.payment_models import Payment, PaymentStatus, StripeCustomer
from billing.payments.gateway import CURRENCY, stripe_client, unreachable
from marketplace.errors import Conflict, DomainError
from marketplace.states import transition

if TYPE_CHECKING:
    from stripe.params import PaymentIntentConfirmParams

log = logging.getLogger(__name__)


@dataclass
class CardResult:
    payment: Payment
    client_secret: str | None = None  # set when the buyer must confirm (3-D Secure)

    @property
    def succeeded(self) -> bool:
        return self.payment.status is PaymentStatus.SUCCEEDED

    @property
    def needs_action(self) -> bool:
        return self.payment.status is PaymentStatus.REQUIRES_ACTION


def _decline_message(exc: stripe.CardError) -> str:
    return exc.user_message or str(_l("The card was declined."))


@dataclass(frozen=True)
class _Charge:
    """What the Stripe calls of an attempt need, copied out of the session before it
    commits: nothing is loaded from the database while Stripe is being called."""

    attempt_id: int
    idempotency_key: str
    invoice_id: int
    invoice_number: str
    amount_fen: int
    customer_id: str
    payment_method_id: str


def pay_by_card(
    session: Session,
    client: stripe.StripeClient,
    invoice: Invoice,
    *,
    now: datetime,
    off_session: bool = True,
) -> CardResult:
    """Charge what is due on the saved card. A decline leaves the invoice open with the
    reason on the payment; 3-D Secure leaves a payment that the buyer confirms; an answer
    lost on its way leaves a processing payment that its webhook or the reconciliation
    books (see billing/reconciliation.py).

    Unlike other services this one commits ``session``, because a charge must not be lost
    with a request that dies: (1) the attempt, with whatever the caller did before (the
    vouchers applied), is committed before Stripe is called; (2) the PaymentIntent's id is
    committed before it is confirmed; (3) Stripe's answer is applied under the invoice lock
    for the caller to commit. No transaction is open while Stripe is called. Raises
    :class:`card_attempts.AttemptInFlight` (409) while another attempt may still charge."""
    resumed = _resume(session, client, invoice, now=now)
    if resumed is not None:
        return resumed
    charge = _start_attempt(session, invoice, off_session=off_session)
    session.commit()  # (1)
    try:
        intent = client.v1.payment_intents.create(
            {
                "amount": charge.amount_fen,
                "currency": CURRENCY,
                "customer": charge.customer_id,
                "payment_method": charge.payment_method_id,
                "metadata": {
                    card_attempts.METADATA_KEY: str(charge.attempt_id),
                    "invoice_id": str(charge.invoice_id),
                    "invoice_number": charge.invoice_number,
                },
            },
            {"idempotency_key": charge.idempotency_key},
        )
    except stripe.StripeError as exc:
        # Not confirmed, so not charged: the attempt failed (an intent created before the
        # connection broke stays unconfirmed and charges nothing).
        no_connection = isinstance(exc, stripe.APIConnectionError)
        card_attempts.finish(
            session,
            session.get_one(PaymentAttempt, charge.attempt_id),
            AttemptStatus.FAILED,
            failure_code="unreachable" if no_connection else (exc.code or "refused"),
        )
        session.commit()
        if no_connection:
            raise unreachable(exc) from exc
        raise
    payment = card_attempts.record_intent(
        session, session.get_one(PaymentAttempt, charge.attempt_id), intent.id
    )
    session.commit()  # (2)
    return _confirm(session, client, payment, intent.id, off_session=off_session, now=now)


def _resume(
    session: Session, client: stripe.StripeClient, invoice: Invoice, *, now: datetime
) -> CardResult | None:
    """The attempt in flight answers this request when it waits for the buyer's 3-D
    Secure (whose failure localstripe sends no webhook for) or was left by a request that
    died: Stripe is asked what became of it. None when a new attempt may start."""
    invoice_money.lock_invoice(session, invoice)
    if invoice.status not in PAYABLE:
        raise Conflict(_l("This invoice is not open for payment."))
    attempt = card_attempts.in_flight(session, invoice.id)
    if attempt is None:
        return None
    if attempt.status is not AttemptStatus.REQUIRES_ACTION and not card_attempts.is_stale(attempt):
        raise card_attempts.in_progress_error()
    result = settle_attempt(session, client, attempt.id, now=now)
    if result is not None and result.payment.status is not PaymentStatus.FAILED:
        return result
    if card_attempts.in_flight(session, invoice.id) is not None:
        raise card_attempts.in_progress_error()
    return None


def _start_attempt(session: Session, invoice: Invoice, *, off_session: bool) -> _Charge:
    invoice_money.lock_invoice(session, invoice)
    if invoice.status not in PAYABLE:
        raise Conflict(_l("This invoice is not open for payment."))
    if card_attempts.in_flight(session, invoice.id) is not None:
        raise card_attempts.in_progress_error()
    due = invoices.amount_due(invoice)
    if due <= 0:
        raise Conflict(_l("Nothing is due on this invoice."))
    card = session.get(StripeCustomer, invoice.buyer_id)
    if card is None or not card.payment_method_id:
        raise DomainError(_l("Save a card first."), field="card")
    attempt = card_attempts.start(
        session, invoice, amount_fen=due, customer_id=card.customer_id, off_session=off_session
    )
    return _Charge(
        attempt_id=attempt.id,
        idempotency_key=attempt.idempotency_key,
        invoice_id=invoice.id,
        invoice_number=invoice.number,
        amount_fen=due,
        customer_id=card.customer_id,
        payment_method_id=card.payment_method_id,
    )


def _confirm(
    session: Session,
    client: stripe.StripeClient,
    payment: Payment,
    intent_id: str,
    *,
    off_session: bool,
    now: datetime,
) -> CardResult:
    try:
        params: PaymentIntentConfirmParams = {"off_session": True} if off_session else {}
        try:
            intent = client.v1.payment_intents.confirm(intent_id, params)
        except stripe.InvalidRequestError:
            intent = client.v1.payment_intents.confirm(intent_id)  # localstripe takes no params
    except stripe.CardError as exc:
        if exc.code == "authentication_required":
            try:
                intent = client.v1.payment_intents.retrieve(intent_id)
            except stripe.StripeError:
                return CardResult(payment)  # still processing: the buyer reloads the page
            return _await_buyer(session, payment, intent.client_secret)
        fail_payment(
            session,
            payment,
            code=exc.code or "card_declined",
            message=_decline_message(exc),
            now=now,
        )
        return CardResult(payment)
    except stripe.InvalidRequestError as exc:
        # Refused before charging (the card was removed at Stripe, ...).
        fail_payment(
            session,
            payment,
            code=exc.code or "invalid_request",
            message=str(_l("The card service refused the payment; nothing was charged.")),
            now=now,
        )
        session.commit()  # the caller turns the error into its answer and rolls back
        raise
    except stripe.StripeError as exc:
        # No answer (a timeout, a broken connection, Stripe's own failure): the card may
        # have been charged. The payment stays processing and its attempt in flight until
        # the webhook or the reconciliation says what Stripe did; paying again meanwhile is
        # refused, so the card is never charged twice.
        log.warning("no answer to confirming %s: %r", intent_id, exc)
        return CardResult(payment)
    return apply_intent(session, payment, intent, now=now)


def settle_attempt(
    session: Session, client: stripe.StripeClient, attempt_id: int, *, now: datetime
) -> CardResult | None:
    """Ask Stripe what became of an attempt in flight and apply it: booked, failed, still
    waiting for the buyer, or, never confirmed, canceled at Stripe so that it cannot charge
    any more. Ends the session's transaction before calling Stripe; the caller commits the
    result. None when no PaymentIntent was ever made for it (the attempt is canceled)."""
    attempt = session.get_one(PaymentAttempt, attempt_id)
    intent_id, customer_id = attempt.stripe_payment_intent_id, attempt.customer_id
    session.commit()
    intent: stripe.PaymentIntent | None
    try:
        if intent_id:
            intent = client.v1.payment_intents.retrieve(intent_id)
        else:
            intent = _find_intent(client, customer_id, attempt_id)
        if intent is not None and intent.status == "requires_confirmation":
            intent = client.v1.payment_intents.cancel(intent.id)
    except stripe.APIConnectionError as exc:
        raise unreachable(exc) from exc
    attempt = session.get_one(PaymentAttempt, attempt_id)
    invoice_money.lock_invoice(session, attempt.invoice)
    session.refresh(attempt)  # the webhook may have settled it meanwhile
    if not attempt.status.in_flight:
        return CardResult(attempt.payment) if attempt.payment else None
    if intent is None:
        card_attempts.finish(session, attempt, AttemptStatus.CANCELED, failure_code="not_created")
        return None
    payment = attempt.payment or card_attempts.record_intent(session, attempt, intent.id)
    if intent.status == "canceled" and getattr(intent, "last_payment_error", None) is None:
        card_attempts.finish(session, attempt, AttemptStatus.CANCELED, failure_code="abandoned")
        fail_payment(
            session,
            payment,
            code="abandoned",
            message=str(
                _l("The payment was abandoned before it was confirmed; nothing was charged.")
            ),
            now=now,
        )
        return CardResult(payment)
    return apply_intent(session, payment, intent, now=now)


def _find_intent(
    client: stripe.StripeClient, customer_id: str, attempt_id: int
) -> stripe.PaymentIntent | None:
    """The PaymentIntent carrying the attempt's id in its metadata, among the customer's."""
    try:
        found = client.v1.payment_intents.list({"customer": customer_id, "limit": 100})
    except stripe.InvalidRequestError:  # localstripe filters by nothing
        found = client.v1.payment_intents.list({"limit": 100})
    for intent in found.auto_paging_iter():
        metadata: stripe.StripeObject | dict[str, str] = intent.metadata or {}
        if (
            intent.customer == customer_id
            and card_attempts.METADATA_KEY in metadata
            and metadata[card_attempts.METADATA_KEY] == str(attempt_id)
        ):
            return intent
    return None


def refresh_card_payment(
    session: Session, client: stripe.StripeClient, payment: Payment, *, now: datetime
) -> CardResult:
    """After the buyer confirmed (or failed) 3-D Secure in the browser, read the
    PaymentIntent back from Stripe and apply it, as its webhook would. Ends the session's
    transaction first: none is open while Stripe answers."""
    intent_id = payment.stripe_payment_intent_id or ""
    session.commit()
    try:
        intent = client.v1.payment_intents.retrieve(intent_id)
    except stripe.StripeError as exc:
        raise unreachable(exc) from exc
    return apply_intent(session, payment, intent, now=now)


def apply_intent(session: Session, payment: Payment, intent: Any, *, now: datetime) -> CardResult:
    """Bring our payment in line with the PaymentIntent's status (from a call or a webhook)."""
    if intent.status == "succeeded":
        invoice_money.succeed_payment(session, payment, now=now)
    elif intent.status == "requires_action":
        return _await_buyer(session, payment, intent.client_secret)
    elif intent.status in ("requires_payment_method", "canceled"):
        error = getattr(intent, "last_payment_error", None)
        fail_payment(
            session,
            payment,
            code=(error.code if error else None) or "card_declined",
            message=(error.message if error else None) or str(_l("The card was declined.")),
            now=now,
        )
    return CardResult(payment)


def _await_buyer(session: Session, payment: Payment, client_secret: str | None) -> CardResult:
    """3-D Secure: the buyer confirms in the browser with the PaymentIntent's secret."""
    invoice_money.lock_invoice(session, payment.invoice)
    session.refresh(payment)
    if payment.status in (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION):
        transition(payment, PaymentStatus.REQUIRES_ACTION, None)  # asked again: allowed
        session.flush()
        card_attempts.follow_payment(session, payment)
    return CardResult(payment, client_secret)


def fail_payment(
    session: Session, payment: Payment, *, code: str, message: str, now: datetime
) -> None:
    invoice_money.lock_invoice(session, payment.invoice)
    session.refresh(payment)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.SUCCEEDED):
        return
    transition(payment, PaymentStatus.FAILED, None)
    payment.failure_code = code[:60]
    payment.failure_message = message
    session.flush()
    card_attempts.follow_payment(session, payment)
    notify.payment_failed(session, payment.invoice, message, payment.id)


def charge_for_billing_run(app: Flask) -> Callable[[Session, Invoice, datetime], bool | None]:
    """The billing run's card retry: pay what is due off-session; True when paid, False
    when it failed, None when it is not known yet (another attempt is in flight, or
    Stripe's answer was lost: the reconciliation finds out), which is not counted as a try.
    ``pay_by_card`` commits the session (its attempt before Stripe is called)."""

    def charge(session: Session, invoice: Invoice, now: datetime) -> bool | None:
        client = stripe_client(app)
        if client is None:
            return False
        number = invoice.number
        try:
            result = pay_by_card(session, client, invoice, now=now)
        except card_attempts.AttemptInFlight:
            return None
        except DomainError:
            return False
        except stripe.StripeError as exc:  # e.g. the saved card is gone: the run goes on
            app.logger.warning("card retry of invoice %s failed: %r", number, exc)
            return False
        if result.payment.status is PaymentStatus.PROCESSING:
            return None
        return result.succeeded

    return charge
