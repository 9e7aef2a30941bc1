import math
import pickle
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.money import (
    MAX_FEN,
    Money,
    MoneyParseError,
    apply_basis_points,
    format_fen,
    parse_unit_price_fen,
    parse_yuan,
    round_half_up,
    vat_part,
)

# No example database: the tests must not write a .hypothesis folder into the tree.
properties = settings(database=None, deadline=None)

fen_amounts = st.integers(min_value=-MAX_FEN, max_value=MAX_FEN)
any_fen = st.integers(min_value=-(10**30), max_value=10**30)


def reference_half_up(exact: Fraction) -> int:
    """Round a rational to the nearest int, halves away from zero."""
    magnitude = math.floor(abs(exact) + Fraction(1, 2))
    return -magnitude if exact < 0 else magnitude


# --- Money ---------------------------------------------------------------------------------


def test_money_holds_fen_and_has_a_readable_repr():
    money = Money(123450)
    assert money.fen == 123450
    assert repr(money) == "Money(fen=123450)"
    assert Money.zero() == Money(0)


@pytest.mark.parametrize(
    ("fen", "text", "bare"),
    [
        (123450, "¥1,234.50", "1,234.50"),
        (-1200, "-¥12.00", "-12.00"),
        (0, "¥0.00", "0.00"),
        (5, "¥0.05", "0.05"),
        (-5, "-¥0.05", "-0.05"),
        (123456789012, "¥1,234,567,890.12", "1,234,567,890.12"),
    ],
)
def test_format(fen, text, bare):
    assert Money(fen).format() == text
    assert str(Money(fen)) == text
    assert Money(fen).format(symbol=False) == bare
    assert format_fen(fen) == text
    assert format_fen(fen, symbol=False) == bare


@pytest.mark.parametrize(
    ("fen", "yuan"),
    [(123450, "1234.50"), (0, "0.00"), (-5, "-0.05"), (100, "1.00")],
)
def test_yuan_is_an_exact_decimal_with_two_places(fen, yuan):
    assert Money(fen).yuan == Decimal(yuan)
    assert Money(fen).yuan.as_tuple().exponent == -2


def test_yuan_of_a_huge_amount_is_not_rounded():
    assert str(Money(10**40 + 1).yuan) == "1" + "0" * 38 + ".01"


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("1234.5", 123450),
        ("12", 1200),
        ("-0.05", -5),
        ("1.230", 123),
        (12, 1200),
        (-3, -300),
        (Decimal("12.3"), 1230),
        (Decimal("1.2300"), 123),
        (Decimal("1E+3"), 100000),
    ],
)
def test_from_yuan(value, fen):
    assert Money.from_yuan(value) == Money(fen)


@pytest.mark.parametrize(
    "value",
    ["1.234", "abc", "", " 12", "1_000", "1e3", "NaN", Decimal("0.001"), Decimal("NaN")],
)
def test_from_yuan_refuses_what_is_not_whole_fen(value):
    with pytest.raises(ValueError):
        Money.from_yuan(value)


def test_from_yuan_refuses_infinity():
    with pytest.raises(ValueError):
        Money.from_yuan(Decimal("Infinity"))


def test_arithmetic():
    assert Money(150) + Money(50) == Money(200)
    assert Money(150) - Money(200) == Money(-50)
    assert -Money(150) == Money(-150)
    assert +Money(150) == Money(150)
    assert abs(Money(-150)) == Money(150)
    assert Money(150) * 3 == Money(450)
    assert 3 * Money(150) == Money(450)
    assert Money(150) * -1 == Money(-150)
    assert sum([Money(1), Money(2), Money(3)]) == Money(6)
    assert sum([], Money.zero()) == Money(0)


def test_comparisons_and_truth():
    assert Money(1) < Money(2) <= Money(2) < Money(3)
    assert Money(3) > Money(-3) >= Money(-3)
    assert max(Money(1), Money(7), Money(-9)) == Money(7)
    assert sorted([Money(3), Money(-1), Money(2)]) == [Money(-1), Money(2), Money(3)]
    assert not Money(0)
    assert Money(1)
    assert Money(-1)


def test_money_is_immutable_hashable_and_picklable():
    money = Money(5)
    with pytest.raises(AttributeError):
        money.fen = 6  # type: ignore[misc]
    assert len({Money(5), Money(5), Money(6)}) == 2
    assert pickle.loads(pickle.dumps(money)) == money


def test_money_is_not_an_int():
    assert Money(5) != 5
    with pytest.raises(TypeError):
        Money(5) + 5
    with pytest.raises(TypeError):
        assert Money(5) < 6
    with pytest.raises(TypeError):
        Money(5) * Money(2)
    with pytest.raises(TypeError):
        sum([Money(1)], 1)


@pytest.mark.parametrize("fen", [True, False, "12", Decimal(12), None, 1.0])
def test_money_refuses_non_int_fen(fen):
    with pytest.raises(TypeError):
        Money(fen)


def test_money_refuses_bool_factor():
    with pytest.raises(TypeError):
        Money(5) * True


@properties
@given(fen_amounts, fen_amounts)
def test_addition_and_subtraction_agree_with_int_arithmetic(a, b):
    assert (Money(a) + Money(b)).fen == a + b
    assert (Money(a) - Money(b)).fen == a - b
    assert (-Money(a)).fen == -a
    assert abs(Money(a)).fen == abs(a)
    assert (Money(a) < Money(b)) == (a < b)
    assert (Money(a) == Money(b)) == (a == b)


@properties
@given(st.lists(fen_amounts, max_size=20), st.integers(-1000, 1000))
def test_sum_and_multiplication_agree_with_int_arithmetic(amounts, factor):
    # Pass the start: sum() of an empty list is the int 0, not Money.
    assert sum((Money(fen) for fen in amounts), Money.zero()) == Money(sum(amounts))
    if amounts:
        assert sum(Money(fen) for fen in amounts) == Money(sum(amounts))
    for fen in amounts:
        assert Money(fen) * factor == factor * Money(fen) == Money(fen * factor)


@properties
@given(any_fen)
def test_yuan_and_from_yuan_round_trip(fen):
    assert Money.from_yuan(Money(fen).yuan) == Money(fen)
    assert Money.from_yuan(str(Money(fen).yuan)) == Money(fen)


# --- parse_yuan ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1,234.5", 123450),
        ("1,234.50", 123450),
        ("1234.5", 123450),
        ("1,234,567.89", 123456789),
        ("12", 1200),
        ("0", 0),
        ("0.05", 5),
        (".5", 50),
        ("5.", 500),
        ("007", 700),
        ("1.230", 123),
        ("¥12", 1200),
        ("￥12", 1200),
        ("¥ 12", 1200),
        ("￥１２.３", 1230),
        ("１２３", 12300),
        ("1，234.5", 123450),
        ("１，２３４．５", 123450),
        ("12元", 1200),
        ("12 元", 1200),
        ("CNY12", 1200),
        ("CNY 1,000", 100000),
        ("RMB 12.30", 1230),
        ("rmb12", 1200),
        ("  12.5 \t", 1250),
        ("\u300012\u3000", 1200),
        ("¥1,234.50元", 123450),
    ],
)
def test_parse_yuan_accepts(text, fen):
    assert parse_yuan(text) == Money(fen)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an amount."),
        ("   ", "Enter an amount."),
        ("abc", "Enter an amount such as 1,234.50."),
        (".", "Enter an amount such as 1,234.50."),
        ("¥", "Enter an amount such as 1,234.50."),
        ("元", "Enter an amount such as 1,234.50."),
        ("-", "Enter an amount such as 1,234.50."),
        ("1e3", "Enter an amount such as 1,234.50."),
        ("1E3", "Enter an amount such as 1,234.50."),
        ("NaN", "Enter an amount such as 1,234.50."),
        ("Infinity", "Enter an amount such as 1,234.50."),
        ("inf", "Enter an amount such as 1,234.50."),
        ("1,23,4", "Enter an amount such as 1,234.50."),
        ("12,34", "Enter an amount such as 1,234.50."),
        ("1,2345", "Enter an amount such as 1,234.50."),
        (",123", "Enter an amount such as 1,234.50."),
        ("0,123", "Enter an amount such as 1,234.50."),
        ("1,234.5,6", "Enter an amount such as 1,234.50."),
        ("1.2.3", "Enter an amount such as 1,234.50."),
        ("1 234", "Enter an amount such as 1,234.50."),
        ("1_000", "Enter an amount such as 1,234.50."),
        ("+5", "Enter an amount such as 1,234.50."),
        ("--5", "Enter an amount such as 1,234.50."),
        ("−5", "Enter an amount such as 1,234.50."),  # U+2212 is not a hyphen-minus
        ("12。5", "Enter an amount such as 1,234.50."),
        ("١٢", "Enter an amount such as 1,234.50."),  # Arabic-Indic digits
        ("USD 12", "Enter an amount such as 1,234.50."),
        ("12¥", "Enter an amount such as 1,234.50."),
        ("1.234", "Amounts have at most two decimal places (fen)."),
        ("0.001", "Amounts have at most two decimal places (fen)."),
        ("-5", "The amount cannot be negative."),
        ("-¥5", "The amount cannot be negative."),
        ("¥-5", "The amount cannot be negative."),
        ("10,000,000,000,000.01", "The amount can be at most ¥10,000,000,000,000.00."),
        ("9" * 5000, "The amount can be at most ¥10,000,000,000,000.00."),
    ],
)
def test_parse_yuan_rejects(text, message):
    with pytest.raises(MoneyParseError) as caught:
        parse_yuan(text)
    assert str(caught.value) == message
    assert str(caught.value.message) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("-5", -500), ("-¥12.00", -1200), ("¥-12", -1200), ("-0", 0), ("－１２", -1200)],
)
def test_parse_yuan_accepts_negative_when_allowed(text, fen):
    assert parse_yuan(text, allow_negative=True) == Money(fen)


def test_parse_yuan_rejects_two_minus_signs_even_when_negative_allowed():
    with pytest.raises(MoneyParseError):
        parse_yuan("-¥-5", allow_negative=True)


def test_parse_yuan_max_fen():
    assert parse_yuan("100", max_fen=10_000) == Money(10_000)
    assert parse_yuan("-100", max_fen=10_000, allow_negative=True) == Money(-10_000)
    with pytest.raises(MoneyParseError, match=r"at most ¥100\.00"):
        parse_yuan("100.01", max_fen=10_000)
    with pytest.raises(MoneyParseError, match=r"at most ¥100\.00"):
        parse_yuan("-100.01", max_fen=10_000, allow_negative=True)
    assert parse_yuan("0000000000000000000000012") == Money(1200)


def test_parse_yuan_refuses_non_strings():
    for value in (12, 12.5, Decimal("12"), b"12", None):
        with pytest.raises(TypeError):
            parse_yuan(value)


@properties
@given(fen_amounts)
def test_parse_yuan_round_trips_format(fen):
    money = Money(fen)
    assert parse_yuan(money.format(), allow_negative=True) == money
    assert parse_yuan(money.format(symbol=False), allow_negative=True) == money
    assert parse_yuan(str(money.yuan), allow_negative=True) == money
    if fen >= 0:
        assert parse_yuan(money.format()) == money
    else:
        with pytest.raises(MoneyParseError):
            parse_yuan(money.format())


@properties
@given(st.text(max_size=30))
def test_parse_yuan_only_raises_money_parse_error(text):
    try:
        money = parse_yuan(text, allow_negative=True)
    except MoneyParseError:
        return
    assert abs(money.fen) <= MAX_FEN


# --- parse_unit_price_fen ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "price"),
    [
        ("0.5", "0.5"),
        ("12", "12"),
        ("0.0125", "0.0125"),
        ("0.000001", "0.000001"),
        ("12.50", "12.5"),
        ("0.10000000", "0.1"),
        (".5", "0.5"),
        ("0", "0"),
        ("1,000", "1000"),
        (" ０．５ ", "0.5"),
    ],
)
def test_parse_unit_price_fen_accepts(text, price):
    parsed = parse_unit_price_fen(text)
    assert isinstance(parsed, Decimal)
    assert parsed == Decimal(price)
    assert str(parsed) == price


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a unit price in fen."),
        ("abc", "Enter a unit price in fen such as 0.5."),
        (".", "Enter a unit price in fen such as 0.5."),
        ("NaN", "Enter a unit price in fen such as 0.5."),
        ("Infinity", "Enter a unit price in fen such as 0.5."),
        ("1e-3", "Enter a unit price in fen such as 0.5."),
        ("¥1", "Enter a unit price in fen such as 0.5."),
        ("1,00", "Enter a unit price in fen such as 0.5."),
        ("0.0000001", "Unit prices have at most six decimal places."),
        ("-0.5", "The unit price cannot be negative."),
        ("1" * 5000, "The unit price can be at most 1,000,000,000,000,000 fen."),
    ],
)
def test_parse_unit_price_fen_rejects(text, message):
    with pytest.raises(MoneyParseError) as caught:
        parse_unit_price_fen(text)
    assert str(caught.value) == message


def test_parse_unit_price_fen_refuses_non_strings():
    with pytest.raises(TypeError):
        parse_unit_price_fen(0.5)


# --- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fen"),
    [
        ("2.5", 3),
        ("-2.5", -3),
        ("2.4999999", 2),
        ("0.5", 1),
        ("-0.5", -1),
        ("0.4", 0),
        ("-0.4", 0),
        ("12", 12),
        ("1E+2", 100),
        ("-0", 0),
    ],
)
def test_round_half_up(value, fen):
    assert round_half_up(Decimal(value)) == fen


def test_round_half_up_is_exact_beyond_decimal_precision():
    # 30 significant digits: a Decimal context of 28 would round this first.
    assert round_half_up(Decimal("12345678901234567890123456789.5")) == (
        12345678901234567890123456790
    )


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_round_half_up_refuses_non_finite(value):
    with pytest.raises(ValueError):
        round_half_up(value)


@properties
@given(st.integers(-(10**24), 10**24), st.integers(0, 6))
def test_round_half_up_matches_integer_reference(units, places):
    value = Decimal(f"{units}E-{places}")
    scale = 10**places
    quotient, remainder = divmod(abs(units), scale)
    expected = quotient + (1 if 2 * remainder >= scale else 0)
    expected = -expected if units < 0 else expected
    assert round_half_up(value) == expected
    assert round_half_up(value) == reference_half_up(Fraction(units, scale))


@properties
@given(st.integers(-(10**15), 10**15), st.integers(0, 6))
def test_round_half_up_agrees_with_decimal_quantize(units, places):
    value = Decimal(f"{units}E-{places}")
    assert round_half_up(value) == int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize(
    ("fen", "basis_points", "expected"),
    [
        (1005, 500, 50),  # 50.25
        (1010, 500, 51),  # 50.5 rounds up
        (-1010, 500, -51),  # and away from zero
        (10000, 1, 1),
        (4999, 1, 0),
        (5000, 1, 1),
        (123456, 10000, 123456),
        (123456, 0, 0),
    ],
)
def test_apply_basis_points(fen, basis_points, expected):
    assert apply_basis_points(fen, basis_points) == expected


@properties
@given(any_fen, st.integers(-20000, 20000))
def test_apply_basis_points_is_round_half_up_of_the_exact_rational(fen, basis_points):
    expected = reference_half_up(Fraction(fen * basis_points, 10000))
    assert apply_basis_points(fen, basis_points) == expected


@pytest.mark.parametrize(
    ("gross", "rate", "vat"),
    [
        (10600, 600, 600),  # ¥106.00 at 6% holds ¥6.00
        (11300, 1300, 1300),
        (10900, 900, 900),
        (100, 600, 6),  # 5.66 -> 6
        (53, 600, 3),  # 3.0 exactly
        (9, 600, 1),  # 0.509 -> 1
        (8, 600, 0),  # 0.453 -> 0
        (-10600, 600, -600),  # credit notes carry negative VAT
        (10600, 0, 0),
        (0, 600, 0),
    ],
)
def test_vat_part(gross, rate, vat):
    assert vat_part(gross, rate) == vat


def test_vat_part_refuses_negative_rate():
    with pytest.raises(ValueError):
        vat_part(10600, -600)


def test_net_is_gross_minus_vat_not_separately_rounded():
    # Exact VAT 26.5 and exact net 26.5: rounding both would invent a fen.
    gross, rate = 53, 10000
    assert Fraction(gross * rate, 10000 + rate) == Fraction(53, 2)
    assert vat_part(gross, rate) == 27
    assert gross - vat_part(gross, rate) == 26


@properties
@given(any_fen, st.integers(0, 10000))
def test_vat_part_and_net_add_up_and_vat_is_within_half_a_fen(gross, rate):
    vat = vat_part(gross, rate)
    net = gross - vat
    exact = Fraction(gross * rate, 10000 + rate)
    assert vat + net == gross
    assert abs(vat - exact) <= Fraction(1, 2)
    assert vat == reference_half_up(exact)
    assert vat_part(-gross, rate) == -vat
    if gross >= 0:
        assert 0 <= vat <= gross


# --- floats never touch money --------------------------------------------------------------

FLOAT_CALLS = [
    pytest.param(lambda x: Money(x), id="Money"),
    pytest.param(lambda x: Money(100) + x, id="Money + float"),
    pytest.param(lambda x: x + Money(100), id="float + Money"),
    pytest.param(lambda x: Money(100) - x, id="Money - float"),
    pytest.param(lambda x: x - Money(100), id="float - Money"),
    pytest.param(lambda x: Money(100) * x, id="Money * float"),
    pytest.param(lambda x: x * Money(100), id="float * Money"),
    pytest.param(lambda x: Money(100) < x, id="Money < float"),
    pytest.param(lambda x: sum([Money(100)], x), id="sum from float"),
    pytest.param(lambda x: Money.from_yuan(x), id="from_yuan"),
    pytest.param(lambda x: format_fen(x), id="format_fen"),
    pytest.param(lambda x: parse_yuan(x), id="parse_yuan"),
    pytest.param(lambda x: parse_yuan("12", max_fen=x), id="parse_yuan max_fen"),
    pytest.param(lambda x: parse_unit_price_fen(x), id="parse_unit_price_fen"),
    pytest.param(lambda x: round_half_up(x), id="round_half_up"),
    pytest.param(lambda x: apply_basis_points(x, 500), id="apply_basis_points fen"),
    pytest.param(lambda x: apply_basis_points(1000, x), id="apply_basis_points rate"),
    pytest.param(lambda x: vat_part(x, 600), id="vat_part gross"),
    pytest.param(lambda x: vat_part(10600, x), id="vat_part rate"),
]


@pytest.mark.parametrize("call", FLOAT_CALLS)
@properties
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_floats_are_refused_everywhere(call, value):
    with pytest.raises(TypeError):
        call(value)
