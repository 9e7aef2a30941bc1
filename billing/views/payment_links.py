"""Payment links as pages: the buyer makes and revokes them on the invoice page; whoever
holds one sees that invoice and how to pay it (billing/payment_links.py)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from billing import invoices as invoice_rules
from billing import line_words, payment_links
from billing.payment_link_models import PaymentLink
from billing.views.common import BUYER, bp, load_invoice
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.i18n import current_language
from marketplace.models import Membership


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


@bp.app_template_global("payment_links_of")
def payment_links_of(invoice: Any) -> list[tuple[PaymentLink, str]]:
    """The live links of an invoice with their URLs (for its buyer's invoice page)."""
    now = utcnow()
    links = db.session.scalars(
        sa.select(PaymentLink)
        .where(
            PaymentLink.invoice_id == invoice.id,
            PaymentLink.revoked_at.is_(None),
            PaymentLink.expires_at > now,
        )
        .order_by(PaymentLink.id)
    )
    return [
        (
            link,
            url_for(
                "billing.shared_invoice",
                invoice_id=invoice.id,
                token=payment_links.token_for(link, _secret()),
                _external=True,
            ),
        )
        for link in links
    ]


@bp.post("/invoices/<int:invoice_id>/payment-links")
@org_required(BUYER)
def create_payment_link(invoice_id: int) -> ResponseReturnValue:
    invoice = load_invoice(invoice_id)
    if invoice.buyer_id != g.actor.organization.id:
        abort(403)
    payment_links.create(db.session, invoice, actor=g.actor, now=utcnow(), secret_key=_secret())
    db.session.commit()
    flash(_("Payment link made: copy it below and send it to whoever pays."), "success")
    return redirect(url_for("billing.invoice", invoice_id=invoice.id) + "#payment-links")


@bp.post("/payment-links/<int:link_id>/revoke")
@org_required(BUYER)
def revoke_payment_link(link_id: int) -> ResponseReturnValue:
    link = db.session.get(PaymentLink, link_id)
    if link is None or link.invoice.buyer_id != g.actor.organization.id:
        abort(404)
    payment_links.revoke(db.session, link, actor=g.actor, now=utcnow())
    db.session.commit()
    flash(_("Payment link revoked."), "info")
    return redirect(url_for("billing.invoice", invoice_id=link.invoice_id) + "#payment-links")


@bp.get("/invoices/<int:invoice_id>/shared/<token>")
def shared_invoice(invoice_id: int, token: str) -> ResponseReturnValue:
    """No sign-in: the token is the permission, for this invoice only."""
    link = payment_links.resolve(db.session, invoice_id, token, now=utcnow(), secret_key=_secret())
    if link is None:
        abort(404)
    invoice = link.invoice
    is_member = current_user.is_authenticated and (
        db.session.scalar(
            sa.select(Membership.id).where(
                Membership.user_id == current_user.id,
                Membership.organization_id == invoice.buyer_id,
            )
        )
        is not None
    )
    config = current_app.config
    response = current_app.make_response(
        render_template(
            "billing/shared_invoice.html",
            invoice=invoice,
            words=line_words.invoice_words(db.session, invoice, english=current_language() == "en"),
            amount_due=invoice_rules.amount_due(invoice),
            is_member=is_member,
            bank={
                "account_name": config["BANK_ACCOUNT_NAME"],
                "bank_name": config["BANK_NAME"],
                "account_number": config["BANK_ACCOUNT_NUMBER"],
            },
        )
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays out of Referer
    return response
