"""Moving money: card payments through Stripe, bank transfers recorded by the operator,
refunds, and Stripe's signed webhooks. Our billing engine computes every amount; Stripe
only moves it. Amounts go to Stripe as integer fen in CNY (its minor unit).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import stripe
from flask import Flask, current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing import card_attempts, invoices, ledger, notify, webhook_events
from billing.attempt_models import AttemptStatus, PaymentAttempt
from billing.models import (
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethodKind,
    PaymentStatus,
    Refund,
    StripeCustomer,
    WebhookEvent,
)
from marketplace import audit
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization, OrgKind

CURRENCY = "cny"

log = logging.getLogger(__name__)


class PaymentUnavailable(DomainError):
    """Card payments are not configured, or Stripe cannot be reached."""

    status = 503
    code = "unavailable"


# --- the Stripe client -------------------------------------------------------------------


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


# Stripe calls one card payment makes at most in a request: create, confirm, retrieve.
CALLS_PER_PAYMENT = 3


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


def _unreachable(exc: Exception) -> PaymentUnavailable:
    return PaymentUnavailable(
        _l(
            "The card service cannot be reached right now; nothing was charged. Please try again in a few minutes."
        )
    )


# --- customers and saved cards ------------------------------------------------------------


def ensure_customer(
    session: Session, client: stripe.StripeClient, org: Organization
) -> StripeCustomer:
    record = session.get(StripeCustomer, org.id)
    if record is not None:
        return record
    try:
        customer = client.v1.customers.create(
            {
                "name": org.name,
                "email": org.contact_email,
                "metadata": {"organization_id": str(org.id), "uscc": org.uscc},
            }
        )
    except stripe.APIConnectionError as exc:
        raise _unreachable(exc) from exc
    record = StripeCustomer(organization_id=org.id, customer_id=customer.id)
    session.add(record)
    session.flush()
    return record


def begin_card_setup(session: Session, client: stripe.StripeClient, org: Organization) -> str:
    """A SetupIntent for the card form; returns its client secret for Stripe.js."""
    customer = ensure_customer(session, client, org)
    try:
        intent = client.v1.setup_intents.create(
            {"customer": customer.customer_id, "usage": "off_session"}
        )
    except stripe.APIConnectionError as exc:
        raise _unreachable(exc) from exc
    return intent.client_secret


def finish_card_setup(
    session: Session,
    client: stripe.StripeClient,
    org: Organization,
    setup_intent_id: str,
    *,
    actor: Actor,
) -> StripeCustomer:
    """Keep the card a confirmed SetupIntent saved, as the organization's default card."""
    record = ensure_customer(session, client, org)
    try:
        intent = client.v1.setup_intents.retrieve(setup_intent_id)
    except stripe.InvalidRequestError as exc:
        raise DomainError(_l("This card setup is unknown."), field="setup_intent") from exc
    except stripe.APIConnectionError as exc:
        raise _unreachable(exc) from exc
    if intent.customer != record.customer_id:
        raise NotAllowed(_l("This card setup belongs to another customer."))
    if intent.status != "succeeded" or not intent.payment_method:
        raise DomainError(_l("The card was not confirmed."), field="setup_intent")
    pm_id = (
        intent.payment_method
        if isinstance(intent.payment_method, str)
        else intent.payment_method.id
    )
    method = client.v1.payment_methods.retrieve(pm_id)
    if method.customer != record.customer_id:  # localstripe does not attach on setup
        method = client.v1.payment_methods.attach(pm_id, {"customer": record.customer_id})
    client.v1.customers.update(
        record.customer_id, {"invoice_settings": {"default_payment_method": pm_id}}
    )
    card = method.card
    record.payment_method_id = pm_id
    record.card_brand = card.brand
    record.card_last4 = card.last4
    record.card_exp = f"{card.exp_month:02d}/{card.exp_year}"
    record.updated_at = utcnow()
    session.flush()
    audit.record(
        session,
        "card.saved",
        "organization",
        org.id,
        user_id=actor.user.id,
        org_id=org.id,
        data={"brand": record.card_brand, "last4": record.card_last4},
    )
    return record


# --- paying an invoice --------------------------------------------------------------------


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


def lock_invoice(session: Session, invoice: Invoice) -> None:
    """Lock the invoice's row until the transaction ends and reload its payments. Every
    change to its payments takes this lock first, so a double click, a webhook racing the
    buyer, or two refunds at once are applied one after the other and see each other (and a
    session used twice sees its own earlier payments)."""
    session.flush()
    session.refresh(invoice, with_for_update=True)
    session.refresh(invoice, ["payments"])


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
        unreachable = isinstance(exc, stripe.APIConnectionError)
        card_attempts.finish(
            session,
            session.get_one(PaymentAttempt, charge.attempt_id),
            AttemptStatus.FAILED,
            failure_code="unreachable" if unreachable else (exc.code or "refused"),
        )
        session.commit()
        if unreachable:
            raise _unreachable(exc) from exc
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
    lock_invoice(session, invoice)
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
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
    lock_invoice(session, invoice)
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
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
        params = {"off_session": True} if off_session else {}
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
    try:
        if intent_id:
            intent = client.v1.payment_intents.retrieve(intent_id)
        else:
            intent = _find_intent(client, customer_id, attempt_id)
        if intent is not None and intent.status == "requires_confirmation":
            intent = client.v1.payment_intents.cancel(intent.id)
    except stripe.APIConnectionError as exc:
        raise _unreachable(exc) from exc
    attempt = session.get_one(PaymentAttempt, attempt_id)
    lock_invoice(session, attempt.invoice)
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


def _find_intent(client: stripe.StripeClient, customer_id: str, attempt_id: int) -> Any | None:
    """The PaymentIntent carrying the attempt's id in its metadata, among the customer's."""
    try:
        found = client.v1.payment_intents.list({"customer": customer_id, "limit": 100})
    except stripe.InvalidRequestError:  # localstripe filters by nothing
        found = client.v1.payment_intents.list({"limit": 100})
    for intent in found.auto_paging_iter():
        metadata = intent.metadata or {}
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
        raise _unreachable(exc) from exc
    return apply_intent(session, payment, intent, now=now)


def apply_intent(session: Session, payment: Payment, intent: Any, *, now: datetime) -> CardResult:
    """Bring our payment in line with the PaymentIntent's status (from a call or a webhook)."""
    if intent.status == "succeeded":
        succeed_payment(session, payment, now=now)
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
    lock_invoice(session, payment.invoice)
    session.refresh(payment)
    if payment.status in (PaymentStatus.PROCESSING, PaymentStatus.REQUIRES_ACTION):
        payment.status = PaymentStatus.REQUIRES_ACTION
        session.flush()
        card_attempts.follow_payment(session, payment)
    return CardResult(payment, client_secret)


def succeed_payment(session: Session, payment: Payment, *, now: datetime) -> None:
    """Book a successful payment once; the invoice is paid when nothing is left due."""
    lock_invoice(session, payment.invoice)
    session.refresh(payment)  # as committed by whoever held the lock before us
    if payment.status is PaymentStatus.SUCCEEDED:
        return
    payment.status = PaymentStatus.SUCCEEDED
    payment.succeeded_at = now
    payment.failure_code = payment.failure_message = None
    session.flush()
    card_attempts.follow_payment(session, payment)
    clearing = (
        ledger.STRIPE_CLEARING if payment.method is PaymentMethodKind.CARD else ledger.BANK_CLEARING
    )
    ledger.post(
        session,
        "payment.received",
        [
            ledger.Line(clearing, payment.amount_fen),
            ledger.Line(ledger.BUYER_RECEIVABLE, -payment.amount_fen, payment.buyer_id),
        ],
        memo=payment.invoice.number,
        invoice_id=payment.invoice_id,
        payment_id=payment.id,
    )
    invoice = payment.invoice
    session.refresh(invoice, ["payments"])
    if (
        invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
        and invoices.amount_due(invoice) <= 0
    ):
        invoices.transition(session, invoice, InvoiceStatus.PAID, now=now)
        reactivate_after_payment(session, invoice)
        notify.send(
            session,
            invoice.buyer_id,
            "payment_succeeded",
            f"invoice:{invoice.id}:paid",
            link=f"/billing/invoices/{invoice.id}",
            number=invoice.number,
        )


def reactivate_after_payment(session: Session, invoice: Invoice) -> None:
    """A suspended contract resumes once none of its invoices is left open."""
    from billing.models import ContractStatus

    contract = invoice.contract
    if contract.status is not ContractStatus.PAST_DUE:
        return
    still_open = session.scalar(
        sa.select(sa.func.count())
        .select_from(Invoice)
        .where(Invoice.contract_id == contract.id, Invoice.status == InvoiceStatus.OPEN)
    )
    if not still_open:
        contract.status = ContractStatus.ACTIVE
        session.flush()
        webhook_events.contract_event(
            session, contract, "contract.reactivated", now=invoice.paid_at or utcnow()
        )


def fail_payment(
    session: Session, payment: Payment, *, code: str, message: str, now: datetime
) -> None:
    lock_invoice(session, payment.invoice)
    session.refresh(payment)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.SUCCEEDED):
        return
    payment.status = PaymentStatus.FAILED
    payment.failure_code = code[:60]
    payment.failure_message = message
    session.flush()
    card_attempts.follow_payment(session, payment)
    notify.payment_failed(session, payment.invoice, message, payment.id)


def charge_for_billing_run(app: Flask):
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


# --- bank transfer (对公转账) -----------------------------------------------------------------


def record_bank_transfer(
    session: Session,
    invoice: Invoice,
    *,
    amount_fen: int,
    reference: str,
    actor: Actor,
    now: datetime,
) -> Payment:
    """The operator records a transfer received for the invoice; partial and over-payment
    are kept as they are (amount due shows what is left, or the buyer's credit)."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator records bank transfers."))
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise Conflict(_l("This invoice is not open for payment."))
    if amount_fen <= 0:
        raise DomainError(_l("Enter the amount received."), field="amount")
    reference = reference.strip()
    if not reference:
        raise DomainError(_l("Enter the bank's transaction reference."), field="reference")
    duplicate = session.scalar(
        sa.select(Payment.id).where(
            Payment.method == PaymentMethodKind.BANK_TRANSFER, Payment.bank_reference == reference
        )
    )
    if duplicate is not None:
        raise Conflict(_l("A transfer with this reference is recorded already."), field="reference")
    payment = Payment(
        invoice_id=invoice.id,
        buyer_id=invoice.buyer_id,
        method=PaymentMethodKind.BANK_TRANSFER,
        status=PaymentStatus.PROCESSING,
        amount_fen=amount_fen,
        bank_reference=reference[:100],
        recorded_by_id=actor.user.id,
    )
    session.add(payment)
    session.flush()
    audit.record(
        session,
        "payment.bank_transfer_recorded",
        "invoice",
        invoice.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"amount_fen": amount_fen, "reference": reference},
    )
    succeed_payment(session, payment, now=now)
    return payment


# --- refunds -----------------------------------------------------------------------------


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
    """Give money back. Card refunds go through Stripe (with an explicit amount, never more
    than is left); the vendor's share and the commission are reversed in proportion."""
    if actor.org_kind is not OrgKind.PLATFORM or not actor.role.can_write:
        raise NotAllowed(_l("Only the platform operator refunds payments."))
    lock_invoice(session, payment.invoice)
    session.refresh(payment, ["refunds"])  # what was refunded already, by anyone
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise Conflict(_l("Only a successful payment can be refunded."))
    left = payment.amount_fen - payment.refunded_fen
    if not 0 < amount_fen <= left:
        raise DomainError(
            _l("Refund between ¥0.01 and what is left of the payment."), field="amount"
        )
    if not reason.strip():
        raise DomainError(_l("Give a reason."), field="reason")
    record = Refund(
        payment_id=payment.id,
        amount_fen=amount_fen,
        status="pending",
        reason=reason.strip(),
        recorded_by_id=actor.user.id,
    )
    invoice = payment.invoice
    # Money the buyer paid beyond the invoice is their credit: refunding it gives back the
    # credit; only the rest takes back the vendor's share and the commission.
    credit = max(invoices.amount_paid(invoice) - invoices.amount_owed(invoice), 0)
    from_credit = min(amount_fen, credit)
    session.add(record)
    session.flush()
    if payment.method is PaymentMethodKind.CARD:
        if client is None:
            raise PaymentUnavailable(_l("Card payments are not configured."))
        try:
            stripe_refund = client.v1.refunds.create(
                {
                    "payment_intent": payment.stripe_payment_intent_id,
                    "amount": amount_fen,
                    "metadata": {"refund_id": str(record.id)},
                }
            )
        except stripe.APIConnectionError as exc:
            raise _unreachable(exc) from exc
        record.stripe_refund_id = stripe_refund.id
    record.status = "succeeded"
    session.flush()
    # Credit a credit note of this invoice put on the buyer's balance is paid out next: the
    # vendor's share of it was taken back when the note was issued.
    from billing import credits

    from_balance = credits.pay_out(session, invoice, amount_fen - from_credit, now=now)
    vendor_share, commission = ledger.split_commission(
        amount_fen - from_credit - from_balance, invoice.commission_bp
    )
    clearing = (
        ledger.STRIPE_CLEARING if payment.method is PaymentMethodKind.CARD else ledger.BANK_CLEARING
    )
    ledger.post(
        session,
        "payment.refunded",
        [
            ledger.Line(ledger.BUYER_RECEIVABLE, from_credit, invoice.buyer_id),
            ledger.Line(ledger.CUSTOMER_CREDIT, from_balance, invoice.buyer_id),
            ledger.Line(ledger.VENDOR_PAYABLE, vendor_share, invoice.vendor_id),
            ledger.Line(ledger.PLATFORM_COMMISSION, commission),
            ledger.Line(clearing, -amount_fen),
        ],
        memo=f"{invoice.number} refund",
        invoice_id=invoice.id,
        payment_id=payment.id,
        refund_id=record.id,
    )
    audit.record(
        session,
        "payment.refunded",
        "invoice",
        invoice.id,
        user_id=actor.user.id,
        org_id=actor.organization.id,
        data={"payment_id": payment.id, "amount_fen": amount_fen, "reason": record.reason},
    )
    session.expire(payment, ["refunds"])
    if invoice.voucher_fen and invoices.amount_paid(invoice) <= 0:
        # Everything the buyer paid went back: the subsidy goes back to the voucher too.
        from billing import voucher_payments

        voucher_payments.reverse(session, invoice, reason="refund", now=now, actor=actor)
    if invoice.credit_applied_fen and invoices.amount_paid(invoice) <= 0:
        # ... and the customer credit it took goes back to the buyer's balance.
        credits.give_back(session, invoice, reason="refund", now=now)
    return record


# --- webhooks ----------------------------------------------------------------------------


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
            apply_intent(session, payment, intent, now=now)
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
    lock_invoice(session, attempt.invoice)
    session.refresh(attempt)
    if attempt.payment is not None:
        return attempt.payment
    if not attempt.status.in_flight:
        log.warning("PaymentIntent %s of finished attempt %s", intent.id, attempt.id)
        return None
    return card_attempts.record_intent(session, attempt, intent.id)
