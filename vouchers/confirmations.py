"""Large actions are confirmed by a person who has seen the amount: publishing a program
(its budget), approving an application above a threshold, approving a settlement batch.

The confirmation is the amount itself, sent back with the action (``confirm_fen``): a
request without it, or with another amount (the figure changed since the page was shown),
is answered with :class:`ConfirmationNeeded`, which states the amount, and nothing
happens. The web pages turn that answer into a confirmation step."""

from __future__ import annotations

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from marketplace.errors import DomainError
from marketplace.money import format_fen

# Approvals above this (fen) need a confirmation; config VOUCHER_CONFIRM_APPROVAL_ABOVE_FEN
# (marketplace/config.py) sets it; this is the value outside an app.
DEFAULT_APPROVAL_THRESHOLD_FEN = 10_000_000  # ¥100,000


class ConfirmationNeeded(DomainError):
    status = 409
    code = "confirmation_required"

    def __init__(self, amount_fen: int, message: object) -> None:
        super().__init__(message, field="confirm_fen")
        self.amount_fen = amount_fen


def approval_threshold_fen() -> int:
    if not has_app_context():
        return DEFAULT_APPROVAL_THRESHOLD_FEN
    return int(
        current_app.config.get("VOUCHER_CONFIRM_APPROVAL_ABOVE_FEN", DEFAULT_APPROVAL_THRESHOLD_FEN)
    )


def require(amount_fen: int, confirm_fen: int | None, message: object) -> None:
    """Go on only when ``confirm_fen`` is exactly ``amount_fen``."""
    if confirm_fen is None or isinstance(confirm_fen, bool) or confirm_fen != amount_fen:
        raise ConfirmationNeeded(amount_fen, message)


def require_for_publish(budget_fen: int, confirm_fen: int | None) -> None:
    require(
        budget_fen,
        confirm_fen,
        _l(
            "Publishing opens a budget of %(amount)s to applications. Confirm the amount.",
            amount=format_fen(budget_fen),
        ),
    )


def require_for_approval(amount_fen: int, confirm_fen: int | None) -> None:
    if amount_fen <= approval_threshold_fen():
        return
    require(
        amount_fen,
        confirm_fen,
        _l("You are approving %(amount)s. Confirm the amount.", amount=format_fen(amount_fen)),
    )


def require_for_settlement(total_fen: int, confirm_fen: int | None) -> None:
    require(
        total_fen,
        confirm_fen,
        _l(
            "Approving the batch commits %(amount)s to the vendor. Confirm the amount.",
            amount=format_fen(total_fen),
        ),
    )
