"""The organization's Stripe customer and its saved card (a SetupIntent confirmed by
Stripe.js, then kept as the default card for off-session charges).

These functions commit ``session`` before each Stripe call: no transaction holds a row
lock or an uncommitted write while Stripe answers. The customer is created with an
idempotency key of the organization, so a create retried after a lost answer (or made by
two requests at once) gives the same customer at Stripe, and the database keeps one row
per organization whatever the order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import stripe
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from billing.payment_models import StripeCustomer
from billing.payments.gateway import unreachable
from marketplace import audit
from marketplace.db import insert_or_skip, utcnow
from marketplace.errors import DomainError, NotAllowed
from marketplace.jsonapi import Actor
from marketplace.models import Organization

if TYPE_CHECKING:
    from stripe.params import CustomerCreateParams


def customer_idempotency_key(org: Organization) -> str:
    """One key per organization of this database (its creation time tells apart two
    databases on one Stripe account whose organizations share an id)."""
    return f"customer-org-{org.id}-{int(org.created_at.timestamp())}"


def ensure_customer(
    session: Session, client: stripe.StripeClient, org: Organization
) -> StripeCustomer:
    """The organization's Stripe customer, created at Stripe the first time. Commits
    ``session`` before calling Stripe, and the new record after."""
    record = session.get(StripeCustomer, org.id)
    if record is not None:
        return record
    params: CustomerCreateParams = {
        "name": org.name,
        "email": org.contact_email,
        "metadata": {"organization_id": str(org.id), "uscc": org.uscc},
    }
    key = customer_idempotency_key(org)
    org_id = org.id
    session.commit()
    try:
        customer = client.v1.customers.create(params, {"idempotency_key": key})
    except stripe.APIConnectionError as exc:
        raise unreachable(exc) from exc
    # Whoever recorded a customer first keeps it (a second create with the same key gave
    # the same customer at Stripe; localstripe ignores keys, its extra customer has no card).
    session.execute(
        insert_or_skip(session, StripeCustomer.__table__)
        .values(organization_id=org_id, customer_id=customer.id, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )
    session.commit()
    return session.get_one(StripeCustomer, org_id, populate_existing=True)


def begin_card_setup(session: Session, client: stripe.StripeClient, org: Organization) -> str:
    """A SetupIntent for the card form; returns its client secret for Stripe.js. Commits
    ``session`` (nothing is written but the customer)."""
    customer_id = ensure_customer(session, client, org).customer_id
    session.commit()
    try:
        intent = client.v1.setup_intents.create({"customer": customer_id, "usage": "off_session"})
    except stripe.APIConnectionError as exc:
        raise unreachable(exc) from exc
    assert intent.client_secret is not None  # Stripe returns it to whoever made the intent
    return intent.client_secret


@dataclass(frozen=True)
class _Card:
    payment_method_id: str
    brand: str
    last4: str
    exp: str


def finish_card_setup(
    session: Session,
    client: stripe.StripeClient,
    org: Organization,
    setup_intent_id: str,
    *,
    actor: Actor,
) -> StripeCustomer:
    """Keep the card a confirmed SetupIntent saved, as the organization's default card.
    Asks Stripe with no transaction open; the card is then recorded for the caller to
    commit."""
    customer_id = ensure_customer(session, client, org).customer_id
    session.commit()
    card = _confirmed_card(client, customer_id, setup_intent_id)
    record = session.get_one(StripeCustomer, org.id, populate_existing=True)
    record.payment_method_id = card.payment_method_id
    record.card_brand = card.brand
    record.card_last4 = card.last4
    record.card_exp = card.exp
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


def _confirmed_card(client: stripe.StripeClient, customer_id: str, setup_intent_id: str) -> _Card:
    """The card of a succeeded SetupIntent of the customer, made its default at Stripe."""
    try:
        intent = client.v1.setup_intents.retrieve(setup_intent_id)
    except stripe.InvalidRequestError as exc:
        raise DomainError(_l("This card setup is unknown."), field="setup_intent") from exc
    except stripe.APIConnectionError as exc:
        raise unreachable(exc) from exc
    if intent.customer != customer_id:
        raise NotAllowed(_l("This card setup belongs to another customer."))
    if intent.status != "succeeded" or not intent.payment_method:
        raise DomainError(_l("The card was not confirmed."), field="setup_intent")
    pm_id = (
        intent.payment_method
        if isinstance(intent.payment_method, str)
        else intent.payment_method.id
    )
    method = client.v1.payment_methods.retrieve(pm_id)
    if method.customer != customer_id:  # localstripe does not attach on setup
        method = client.v1.payment_methods.attach(pm_id, {"customer": customer_id})
    client.v1.customers.update(customer_id, {"invoice_settings": {"default_payment_method": pm_id}})
    card = method.card
    assert card is not None  # the card form sets up cards only
    return _Card(pm_id, card.brand, card.last4, f"{card.exp_month:02d}/{card.exp_year}")
