"""Paying an invoice: by the saved card (with 3-D Secure confirmed in the browser through
Stripe.js) or by bank transfer (对公转账) with the invoice's transfer reference; and the
page that saves a card. Card pages exist only when a Stripe key is configured."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
import stripe
from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from billing import invoices as invoice_rules
from billing import voucher_payments
from billing.forms import ActionForm, FinishCardPaymentForm, FinishCardSetupForm
from billing.models import Invoice
from billing.payment_models import Payment, PaymentMethodKind, PaymentStatus, StripeCustomer
from billing.payments import card_payments, gateway, saved_cards
from billing.payments.card_payments import CardResult
from billing.views.common import (
    BUYER,
    bp,
    card_payments_enabled,
    card_setup_enabled,
    load_invoice,
    require_buyer,
)
from billing.views.invoices import invoice_document, is_payable
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError
from marketplace.views.flash import attempt
from marketplace.views.site import safe_next
from vouchers import redemptions


def saved_card(org_id: int) -> StripeCustomer | None:
    record = db.session.get(StripeCustomer, org_id)
    return record if record is not None and record.payment_method_id else None


def _payable_invoice(invoice_id: int) -> Invoice:
    invoice = load_invoice(invoice_id)
    require_buyer(invoice)
    return invoice


@bp.get("/invoices/<int:invoice_id>/pay")
@org_required(BUYER)
def pay(invoice_id: int) -> ResponseReturnValue:
    invoice = _payable_invoice(invoice_id)
    if not is_payable(invoice):
        flash(_("Nothing is due on invoice %(number)s.", number=invoice.number), "info")
        return redirect(url_for("billing.invoice", invoice_id=invoice.id))
    config = current_app.config
    failed = [p for p in invoice.payments if p.status is PaymentStatus.FAILED]
    return render_template(
        "billing/pay.html",
        **invoice_document(invoice),
        **_voucher_choices(invoice),
        card_enabled=card_payments_enabled(),
        card_setup_enabled=card_setup_enabled(),
        card=saved_card(invoice.buyer_id),
        last_failure=failed[-1] if failed else None,
        pay_form=ActionForm(),
        bank={
            "account_name": config["BANK_ACCOUNT_NAME"],
            "bank_name": config["BANK_NAME"],
            "account_number": config["BANK_ACCOUNT_NUMBER"],
        },
    )


def _voucher_choices(invoice: Invoice) -> dict[str, Any]:
    """The buyer's usable vouchers with what each would pay on this invoice, and those
    already applied. Vouchers are offered until money was paid or credited on it."""
    now = utcnow()
    applied = voucher_payments.redemptions_of(db.session, invoice)
    offered = (
        g.actor.role.can_write
        and invoice_rules.amount_paid(invoice) == 0
        and invoice_rules.amount_credited(invoice) == 0
    )
    used = {r.voucher_id for r in applied if r.status.value == "active"}
    codes = redemptions.usable_codes(db.session, invoice.buyer_id, now) if offered else []
    quote = voucher_payments.best_quote(db.session, invoice, codes, now=now) if codes else None
    return {
        "voucher_quote": quote,
        "voucher_used": used,
        "voucher_redemptions": applied,
    }


@bp.post("/invoices/<int:invoice_id>/pay/vouchers")
@org_required(BUYER, write=True)
def pay_with_vouchers(invoice_id: int) -> ResponseReturnValue:
    invoice = _payable_invoice(invoice_id)
    form = ActionForm()
    codes = [code for code in request.form.getlist("vouchers") if code.strip()][:10]
    if not form.validate_on_submit():
        flash(_("The form expired. Please submit it again."), "danger")
    elif not codes:
        flash(_("Choose at least one voucher."), "danger")
    else:
        applied: list[int] = []
        done = attempt(
            lambda: applied.append(
                voucher_payments.apply(
                    db.session, invoice, codes=codes, actor=g.actor, now=utcnow()
                )
            ),
            _("Your vouchers were applied."),
        )
        if done and invoice_rules.amount_due(invoice) <= 0:
            return redirect(url_for("billing.invoice", invoice_id=invoice.id))
    return redirect(url_for("billing.pay", invoice_id=invoice.id))


@bp.post("/invoices/<int:invoice_id>/pay/card")
@org_required(BUYER, write=True)
def pay_by_card(invoice_id: int) -> ResponseReturnValue:
    invoice = _payable_invoice(invoice_id)
    client = gateway.stripe_client()
    if client is None:
        abort(404)
    form = ActionForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please submit it again."), "danger")
        return redirect(url_for("billing.pay", invoice_id=invoice.id))
    try:
        # Not in a savepoint: the payment commits its attempt before Stripe is called.
        result = card_payments.pay_by_card(
            db.session, client, invoice, now=utcnow(), off_session=False
        )
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "danger")
        return redirect(url_for("billing.pay", invoice_id=invoice.id))
    except stripe.StripeError:
        db.session.rollback()
        flash(_("The card service refused the payment; nothing was charged."), "danger")
        return redirect(url_for("billing.pay", invoice_id=invoice.id))
    return _after_card_result(invoice, result)


def _after_card_result(invoice: Invoice, result: CardResult) -> ResponseReturnValue:
    if result.succeeded:
        flash(_("Thank you: the payment succeeded."), "success")
        return redirect(url_for("billing.invoice", invoice_id=invoice.id))
    if result.needs_action and result.client_secret:
        # 200, not a redirect: the page carries the client secret to Stripe.js.
        return render_template(
            "billing/confirm_card.html",
            invoice=invoice,
            payment=result.payment,
            client_secret=result.client_secret,
            publishable_key=current_app.config.get("STRIPE_PUBLISHABLE_KEY") or "",
            stripe_js_url=current_app.config["STRIPE_JS_URL"],
            finish_form=FinishCardPaymentForm(formdata=None, payment_id=str(result.payment.id)),
        )
    if result.payment.status is not PaymentStatus.FAILED:  # a failure shows on the pay page
        flash(_("The payment is being processed. This page updates once it is done."), "info")
    return redirect(url_for("billing.pay", invoice_id=invoice.id))


@bp.post("/invoices/<int:invoice_id>/pay/card/finish")
@org_required(BUYER, write=True)
def finish_card_payment(invoice_id: int) -> ResponseReturnValue:
    invoice = _payable_invoice(invoice_id)
    client = gateway.stripe_client()
    if client is None:
        abort(404)
    form = FinishCardPaymentForm()
    if not form.validate_on_submit():
        abort(400)
    payment = db.session.scalar(
        sa.select(Payment).where(
            Payment.id == int(form.payment_id.data or 0),
            Payment.invoice_id == invoice.id,
            Payment.method == PaymentMethodKind.CARD,
        )
    )
    if payment is None:
        abort(404)
    try:
        result = card_payments.refresh_card_payment(db.session, client, payment, now=utcnow())
    except DomainError as error:
        db.session.rollback()
        flash(str(error.message), "danger")
        return redirect(url_for("billing.pay", invoice_id=invoice.id))
    if result.needs_action:
        flash(_("The payment still waits for your bank's confirmation."), "warning")
        return redirect(url_for("billing.pay", invoice_id=invoice.id))
    return _after_card_result(invoice, result)


# --- the saved card -------------------------------------------------------------------------


@bp.route("/card", methods=["GET", "POST"])
@org_required(BUYER, write=True)
def card() -> ResponseReturnValue:
    client = gateway.stripe_client()
    if client is None or not card_setup_enabled():
        abort(404)
    org = g.actor.organization
    form = FinishCardSetupForm()
    next_url = safe_next(request.values.get("next"), "")
    if request.method == "POST":
        if form.validate_on_submit():
            # Not in a savepoint: the card setup commits before each call to Stripe.
            try:
                record = saved_cards.finish_card_setup(
                    db.session, client, org, (form.setup_intent.data or "").strip(), actor=g.actor
                )
            except DomainError as error:
                db.session.rollback()
                flash(str(error.message), "danger")
            except stripe.StripeError:
                db.session.rollback()
                flash(_("The card service refused the card; nothing was saved."), "danger")
            else:
                flash(
                    _(
                        "Card %(brand)s ending in %(last4)s is saved.",
                        brand=(record.card_brand or "").upper(),
                        last4=record.card_last4,
                    ),
                    "success",
                )
                return redirect(next_url or url_for("billing.card"))
        else:
            flash(_("The card was not confirmed."), "danger")
    try:
        client_secret = saved_cards.begin_card_setup(db.session, client, org)
    except (DomainError, stripe.StripeError):
        db.session.rollback()
        return render_template("billing/card.html", unavailable=True, card=saved_card(org.id)), 503
    return render_template(
        "billing/card.html",
        unavailable=False,
        card=saved_card(org.id),
        client_secret=client_secret,
        publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"],
        stripe_js_url=current_app.config["STRIPE_JS_URL"],
        form=FinishCardSetupForm(formdata=None, next=next_url),
        next_url=next_url,
    )
