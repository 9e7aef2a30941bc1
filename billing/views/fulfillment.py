"""The sign-up handoff button on the contract page (the buyer's next step after starting a
plan): 前往服务商开通 sends the buyer to the vendor's fulfillment URL with a one-time token
(billing/fulfillment.py)."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, url_for
from flask.typing import ResponseReturnValue

from billing import fulfillment
from billing.views.common import BUYER, bp, load_contract, require_buyer
from marketplace.auth import org_required
from marketplace.db import db, utcnow
from marketplace.errors import DomainError


@bp.post("/contracts/<int:contract_id>/fulfillment")
@org_required(BUYER, write=True)
def fulfillment_handoff(contract_id: int) -> ResponseReturnValue:
    contract = load_contract(contract_id)
    require_buyer(contract)
    try:
        with db.session.begin_nested():
            target = fulfillment.issue(
                db.session,
                contract,
                actor=g.actor,
                now=utcnow(),
                minutes=int(current_app.config["FULFILLMENT_TOKEN_MINUTES"]),
            )
    except DomainError as error:
        flash(str(error.message), "danger")
        return redirect(url_for("billing.contract", contract_id=contract.id))
    return redirect(target, code=303)
