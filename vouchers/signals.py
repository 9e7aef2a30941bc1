"""What the vouchers package tells the packages built on it, without importing them
(billing books the ledger of a paid settlement; see marketplace's app factory)."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent with the settlement as sender and ``session=``, ``now=`` once its bank payment is
# recorded, inside the same transaction.
settlement_paid = _signals.signal("settlement-paid")
