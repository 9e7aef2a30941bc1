"""The documented maxima of quantities and prices (DESIGN.md section 4: "Quantities and
amounts have documented maxima (422 beyond them)").

They are chosen so that the largest period a plan can bill fits the stored types with
room to spare: a period's quantity times the highest unit price is at most
``MAX_LINE_FEN`` (10^17 fen), ninety times below PostgreSQL's ``bigint`` (9.2 x 10^18)
and far inside ``Numeric(24, 6)``. Listing validation bounds the prices, usage ingestion
bounds the quantities, and rating refuses anything beyond them (a row changed behind the
application's back), so an out-of-range figure never reaches the database.
"""

from __future__ import annotations

from decimal import Decimal

# One usage event (POST /api/v1/usage-events): beyond it the event is rejected
# ``quantity_too_large``.
MAX_EVENT_QUANTITY = Decimal(10) ** 10
# A contract's usage in one billing period: an event that would take the period's total
# beyond it is rejected ``period_quantity_too_large``. Also the highest tier bound, free
# units and the price calculator's quantity.
MAX_PERIOD_QUANTITY = 10**10
# A unit price (a usage tier, an outcome's price or value per unit): ¥100,000 a unit.
MAX_UNIT_FEN = Decimal(10) ** 7
# A fixed price (subscription, base fee, outcome cap, spend cap): ¥10 billion.
MAX_PRICE_FEN = 10**12
# One invoice line and one invoice: what the largest period can cost.
MAX_LINE_FEN = MAX_PERIOD_QUANTITY * int(MAX_UNIT_FEN)
MAX_INVOICE_FEN = 2 * MAX_LINE_FEN
# The earliest moment a usage event may carry: older ones are typing errors (year 1).
EARLIEST_EVENT_YEAR = 2000


class LimitExceeded(ArithmeticError):
    """A figure beyond the documented maxima; ``code`` names which (for the run's error
    list and the API)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_amount(amount_fen: int, maximum: int = MAX_LINE_FEN) -> int:
    if abs(amount_fen) > maximum:
        raise LimitExceeded(
            "amount_too_large", f"{amount_fen} fen is beyond the maximum of {maximum} fen"
        )
    return amount_fen
