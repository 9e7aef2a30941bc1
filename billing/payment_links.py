"""Payment links: the buyer forwards an invoice to the person who pays it.

The link is ``/billing/invoices/<id>/shared/<token>``; the token is signed with the app's
secret key (itsdangerous) over the link's row id and the invoice id, so it cannot be forged,
and a token for one invoice opens no other. The row says until when it works (7 days by
default) and whether the buyer revoked it. The page behind it shows that invoice and how to
pay it by bank transfer, nothing else of either organization; paying by card still needs a
signed-in member of the buyer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from billing.models import Invoice
from billing.payment_link_models import PaymentLink
from marketplace.errors import NotAllowed
from marketplace.jsonapi import Actor

LIFETIME = timedelta(days=7)
SALT = "billing.payment-link"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def create(
    session: Session, invoice: Invoice, *, actor: Actor, now: datetime, secret_key: str
) -> tuple[PaymentLink, str]:
    """A new link for the buyer's invoice; returns it and its token."""
    if invoice.buyer_id != actor.organization.id:
        raise NotAllowed(_l("Only the buyer may share its invoice."))
    link = PaymentLink(
        invoice_id=invoice.id,
        created_by_id=actor.user.id,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    session.add(link)
    session.flush()
    return link, token_for(link, secret_key)


def token_for(link: PaymentLink, secret_key: str) -> str:
    return _serializer(secret_key).dumps([link.id, link.invoice_id])


def resolve(
    session: Session, invoice_id: int, token: str, *, now: datetime, secret_key: str
) -> PaymentLink | None:
    """The live link ``token`` names for ``invoice_id``; None when forged, for another
    invoice, expired or revoked."""
    try:
        link_id, signed_invoice_id = _serializer(secret_key).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if signed_invoice_id != invoice_id or not isinstance(link_id, int):
        return None
    link = session.get(PaymentLink, link_id)
    if link is None or link.invoice_id != invoice_id or not link.is_live(now):
        return None
    return link


def revoke(session: Session, link: PaymentLink, *, actor: Actor, now: datetime) -> None:
    if link.invoice.buyer_id != actor.organization.id:
        raise NotAllowed(_l("Only the buyer may share its invoice."))
    if link.revoked_at is None:
        link.revoked_at = now
        session.flush()
