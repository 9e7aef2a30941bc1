"""The buyer's "accept delivery" (验收) button on a contract page."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from billing import delivery
from billing.delivery_models import DeliveryAcceptance
from billing.models import Contract
from billing.views.common import BUYER, bp, load_contract, require_buyer
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError


@bp.app_template_global()
def delivery_acceptance(contract: Contract) -> DeliveryAcceptance | None:
    return delivery.acceptance_of(db.session, contract)


@bp.app_template_global()
def may_accept_delivery(contract: Contract) -> bool:
    return delivery.can_accept(db.session, contract, g.actor)


@bp.post("/contracts/<int:contract_id>/accept-delivery")
@org_required(BUYER, write=True)
def accept_delivery(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    require_buyer(contract)
    try:
        with db.session.begin_nested():
            delivery.accept_delivery(
                db.session,
                contract,
                actor=g.actor,
                note=request.form.get("note", "")[: delivery.MAX_NOTE],
                now=utcnow(),
            )
    except DomainError as error:
        flash(str(error.message), "danger")
    else:
        flash(_("Delivery accepted. Thank you."), "success")
    return redirect(url_for("billing.contract", contract_id=contract.id))
