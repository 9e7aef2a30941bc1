"""What billing's money code tells the modules built on it, without importing them
(vouchers applied to an invoice go back when the invoice's money does; the app factory
connects ``billing.voucher_payments``)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent with the invoice as sender and ``session=``, ``reason=`` ("void" or "refund"),
# ``now=``, ``actor=`` (None for a system job) once the invoice was voided or everything
# paid on it was refunded, inside the same transaction, before the customer credit it
# took goes back to the buyer's balance.
invoice_money_returned = _signals.signal("invoice-money-returned")
