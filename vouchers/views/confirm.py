"""The confirmation step of a large action (vouchers/confirmations.py): when a service
answers ConfirmationNeeded, the page states the amount and posts the same form again with
that amount as ``confirm_fen``. Without it, or with another amount, nothing happens."""

from __future__ import annotations

from flask import render_template, request
from flask.typing import ResponseReturnValue

from vouchers.confirmations import ConfirmationNeeded
from vouchers.forms import ConfirmForm


def confirmation_page(
    error: ConfirmationNeeded, *, title: str, back_url: str
) -> ResponseReturnValue:
    """Ask again, stating the amount; every field the officer sent goes along unchanged."""
    carried = [
        (name, value)
        for name, values in request.form.lists()
        if name not in ("csrf_token", "confirm_fen")
        for value in values
    ]
    return render_template(
        "vouchers/confirm.html",
        title=title,
        message=str(error.message),
        amount_fen=error.amount_fen,
        action=request.path,
        carried=carried,
        back_url=back_url,
        form=ConfirmForm(formdata=None),
    ), 200
