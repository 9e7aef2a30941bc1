"""Money in integer fen (CNY), parsing of yuan typed by people, and fen rounding.

Amounts are whole fen in a small value object; floats never touch money. User input goes
through one strict grammar and then `Decimal(str)`. Fractional fen exist only as `Decimal`
unit prices, and every computed amount is rounded half away from zero to whole fen with
exact integer arithmetic (Decimal arithmetic would round silently at 28 digits).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l

FEN_PER_YUAN = 100
BASIS_POINTS_PER_UNIT = 10_000
MAX_FEN = 10**15  # ¥10 trillion: far above any real amount, far below BigInteger
UNIT_PRICE_MAX_PLACES = 6

_ENTER_AMOUNT = _l("Enter an amount such as 1,234.50.")
_EMPTY_AMOUNT = _l("Enter an amount.")
_TOO_MANY_PLACES = _l("Amounts have at most two decimal places (fen).")
_NEGATIVE_AMOUNT = _l("The amount cannot be negative.")
_ENTER_UNIT_PRICE = _l("Enter a unit price in fen such as 0.5.")
_EMPTY_UNIT_PRICE = _l("Enter a unit price in fen.")
_UNIT_PRICE_PLACES = _l("Unit prices have at most six decimal places.")
_NEGATIVE_UNIT_PRICE = _l("The unit price cannot be negative.")

# Whole part: plain digits, or "," separators in groups of three after a 1-3 digit head.
_WHOLE = r"(?P<whole>[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]*)"
_FRACTION = r"(?:\.(?P<fraction>[0-9]*))?"
# Applied after NFKC, so "￥" is "¥", "，" is "," and full-width digits are ASCII.
_YUAN_PATTERN = re.compile(
    r"(?P<sign>-?)(?:(?:¥|CNY|RMB)\s*(?P<sign_after_prefix>-?))?" + _WHOLE + _FRACTION + r"\s*元?",
    re.IGNORECASE,
)
_UNIT_PRICE_PATTERN = re.compile(r"(?P<sign>-?)" + _WHOLE + _FRACTION)
_DECIMAL_LITERAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class MoneyParseError(ValueError):
    """Input that is not an amount; `message` is a lazy, translatable sentence for the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require_int(value: object, name: str) -> int:
    # bool is an int subclass, but True fen is always a bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator (> 0) rounded to the nearest int, halves away from zero."""
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of CNY in whole fen (1 yuan = 100 fen)."""

    fen: int

    def __post_init__(self) -> None:
        _require_int(self.fen, "Money.fen")

    @classmethod
    def zero(cls) -> Money:
        return cls(0)

    @classmethod
    def from_yuan(cls, value: str | int | Decimal) -> Money:
        """Exact yuan ("12.34", 12, Decimal("12.3")) to Money; ValueError below a fen."""
        if isinstance(value, str):
            if not _DECIMAL_LITERAL.fullmatch(value):
                raise ValueError(f"{value!r} is not a decimal number of yuan")
            value = Decimal(value)
        elif isinstance(value, Decimal):
            if not value.is_finite():
                raise ValueError(f"{value!r} is not a finite amount")
        else:
            return cls(_require_int(value, "yuan") * FEN_PER_YUAN)
        numerator, denominator = value.as_integer_ratio()
        fen, remainder = divmod(numerator * FEN_PER_YUAN, denominator)
        if remainder:
            raise ValueError(f"{value!r} yuan is not a whole number of fen")
        return cls(fen)

    @property
    def yuan(self) -> Decimal:
        """Exact yuan with two places: Money(123450).yuan == Decimal("1234.50")."""
        return Decimal(f"{self.fen}E-2")

    def format(self, *, symbol: bool = True) -> str:
        """Display as "¥1,234.50", "-¥12.00", "¥0.00"; without the symbol as "1,234.50"."""
        yuan, fen = divmod(abs(self.fen), FEN_PER_YUAN)
        sign = "-" if self.fen < 0 else ""
        return f"{sign}{'¥' if symbol else ''}{yuan:,}.{fen:02d}"

    def __str__(self) -> str:
        return self.format()

    def __add__(self, other: object) -> Money:
        if isinstance(other, Money):
            return Money(self.fen + other.fen)
        return NotImplemented

    def __radd__(self, other: object) -> Money:
        # sum() starts from the int 0; any other non-Money operand is refused.
        if type(other) is int and other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: object) -> Money:
        if isinstance(other, Money):
            return Money(self.fen - other.fen)
        return NotImplemented

    def __neg__(self) -> Money:
        return Money(-self.fen)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.fen))

    def __mul__(self, other: object) -> Money:
        if isinstance(other, bool) or not isinstance(other, int):
            return NotImplemented
        return Money(self.fen * other)

    __rmul__ = __mul__

    def __bool__(self) -> bool:
        return self.fen != 0


def format_fen(fen: int, *, symbol: bool = True) -> str:
    """format_fen(123450) == "¥1,234.50"."""
    return Money(fen).format(symbol=symbol)


def _normalize(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    return unicodedata.normalize("NFKC", text).strip()


def _digits(match: re.Match[str]) -> tuple[str, str] | None:
    """Whole digits (separators removed) and fraction digits, or None if there are none."""
    whole = match["whole"].replace(",", "")
    fraction = match["fraction"] or ""
    if not whole and not fraction:
        return None
    return whole, fraction


def parse_yuan(text: str, *, allow_negative: bool = False, max_fen: int = MAX_FEN) -> Money:
    """Parse an amount of yuan typed by a person, e.g. "¥1,234.5", "１２元", "RMB 12.30".

    Raises MoneyParseError (a ValueError) with a translatable message for the user.
    """
    _require_int(max_fen, "max_fen")
    normalized = _normalize(text)
    if not normalized:
        raise MoneyParseError(_EMPTY_AMOUNT)
    match = _YUAN_PATTERN.fullmatch(normalized)
    digits = _digits(match) if match else None
    if match is None or digits is None or (match["sign"] and match["sign_after_prefix"]):
        raise MoneyParseError(_ENTER_AMOUNT)
    whole, fraction = digits
    fraction = fraction.rstrip("0")  # "1.230" is exactly 123 fen
    if len(fraction) > 2:
        raise MoneyParseError(_TOO_MANY_PLACES)
    sign = match["sign"] or match["sign_after_prefix"] or ""
    if sign and not allow_negative:
        raise MoneyParseError(_NEGATIVE_AMOUNT)
    too_large = _l("The amount can be at most %(maximum)s.", maximum=format_fen(max_fen))
    # Refuse absurdly long digit strings before converting them.
    if len(whole.lstrip("0")) > len(str(max_fen)):
        raise MoneyParseError(too_large)
    money = Money.from_yuan(Decimal(f"{sign}{whole or '0'}.{fraction or '0'}"))
    if abs(money.fen) > max_fen:
        raise MoneyParseError(too_large)
    return money


def parse_unit_price_fen(text: str, *, max_fen: int = MAX_FEN) -> Decimal:
    """Parse a non-negative unit price in fen that may be fractional: "0.5", "12", "0.0125".

    At most six decimal places; returned without trailing zeros ("12.50" -> Decimal("12.5")).
    """
    _require_int(max_fen, "max_fen")
    normalized = _normalize(text)
    if not normalized:
        raise MoneyParseError(_EMPTY_UNIT_PRICE)
    match = _UNIT_PRICE_PATTERN.fullmatch(normalized)
    digits = _digits(match) if match else None
    if match is None or digits is None:
        raise MoneyParseError(_ENTER_UNIT_PRICE)
    whole, fraction = digits
    fraction = fraction.rstrip("0")
    if len(fraction) > UNIT_PRICE_MAX_PLACES:
        raise MoneyParseError(_UNIT_PRICE_PLACES)
    if match["sign"]:
        raise MoneyParseError(_NEGATIVE_UNIT_PRICE)
    whole = whole.lstrip("0") or "0"
    too_large = _l("The unit price can be at most %(maximum)s fen.", maximum=f"{max_fen:,}")
    if len(whole) > len(str(max_fen)):
        raise MoneyParseError(too_large)
    price = Decimal(f"{whole}.{fraction}" if fraction else whole)
    if price > max_fen:
        raise MoneyParseError(too_large)
    return price


def round_half_up(value: Decimal | int) -> int:
    """A fen amount to whole fen, halves away from zero: 2.5 -> 3, -2.5 -> -3."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot round {value!r} to fen")
        return _divide_half_up(*value.as_integer_ratio())
    return _require_int(value, "value")


def apply_basis_points(fen: int, basis_points: int) -> int:
    """fen x basis_points / 10,000, rounded half up: apply_basis_points(1005, 500) == 50."""
    _require_int(fen, "fen")
    _require_int(basis_points, "basis_points")
    return _divide_half_up(fen * basis_points, BASIS_POINTS_PER_UNIT)


def vat_part(gross_fen: int, rate_basis_points: int) -> int:
    """The VAT inside a tax-inclusive amount, rounded half up: ¥106.00 at 6% holds ¥6.00.

    The net amount is gross_fen - vat_part(...), so the two always add up to the gross.
    """
    _require_int(gross_fen, "gross_fen")
    _require_int(rate_basis_points, "rate_basis_points")
    if rate_basis_points < 0:
        raise ValueError(f"a VAT rate cannot be negative: {rate_basis_points} basis points")
    return _divide_half_up(gross_fen * rate_basis_points, BASIS_POINTS_PER_UNIT + rate_basis_points)
