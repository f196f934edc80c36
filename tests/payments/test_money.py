from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments import money
from payments.money import InvalidAmount, UnsupportedCurrency

TWO_DECIMAL = sorted(
    money.STRIPE_CURRENCIES - money.ZERO_DECIMAL_CURRENCIES - money.THREE_DECIMAL_CURRENCIES
)
PLAIN_ZERO_DECIMAL = sorted(money.ZERO_DECIMAL_CURRENCIES - money.STRIPE_X100_ZERO_DECIMAL)


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("99.99", "EUR", 9999),
        ("0.50", "usd", 50),
        ("1000", "JPY", 1000),
        ("1000", "KRW", 1000),
        ("12.340", "KWD", 12340),
        ("12.34", "KWD", 12340),
        ("0.01", "BHD", 10),
        ("500", "ISK", 50000),
        ("2500", "UGX", 250000),
        ("1234567.89", "EUR", 123456789),
    ],
)
def test_it_converts_to_stripe_minor_units(amount, currency, minor):
    assert money.to_minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [
        (9999, "EUR", "99.99"),
        (1000, "JPY", "1000"),
        (12340, "KWD", "12.340"),
        (50000, "ISK", "500"),
        (1, "GBP", "0.01"),
    ],
)
def test_it_converts_from_stripe_minor_units(minor, currency, amount):
    result = money.from_minor_units(minor, currency)
    assert result == Decimal(amount)
    assert str(result) == amount


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("10.001", "EUR", "at most 2 decimal places"),
        ("12.5", "JPY", "whole units"),
        ("1.5", "ISK", "whole units"),
        ("12.3456", "KWD", "at most 3 decimal places"),
        ("12.345", "KWD", "multiples of 0.010"),
        ("abc", "EUR", "not a valid amount"),
        ("NaN", "EUR", "not a valid amount"),
        ("Infinity", "EUR", "not a valid amount"),
        ("1e30", "EUR", "too large"),
    ],
)
def test_it_rejects_amounts_it_cannot_represent_exactly(amount, currency, message):
    with pytest.raises(InvalidAmount, match=message):
        money.to_minor_units(amount, currency)


def test_it_refuses_floats():
    with pytest.raises(InvalidAmount, match="not floating-point"):
        money.to_minor_units(0.1, "EUR")  # type: ignore[arg-type]


def test_it_refuses_stripe_amounts_that_are_not_integers():
    with pytest.raises(InvalidAmount):
        money.from_minor_units(99.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount, match="multiples of 100"):
        money.from_minor_units(12345, "ISK")


def test_it_rejects_unknown_currencies():
    with pytest.raises(UnsupportedCurrency):
        money.to_minor_units(Decimal("1"), "XYZ")
    with pytest.raises(UnsupportedCurrency):
        money.exponent("")


def test_it_knows_each_currency_exponent():
    assert money.exponent("EUR") == 2
    assert money.exponent("jpy") == 0
    assert money.exponent("KWD") == 3
    assert money.exponent("ISK") == 0


def test_it_formats_amounts_for_people():
    assert money.format_amount(Decimal("1234.5"), "EUR") == "EUR 1,234.50"
    assert money.format_amount(Decimal("1000"), "JPY") == "JPY 1,000"
    assert money.format_amount(Decimal("12.340"), "KWD") == "KWD 12.340"
    # Database values carry three places whatever the currency.
    assert money.format_amount(Decimal("99.990"), "EUR") == "EUR 99.99"


def test_to_decimal_quantizes_to_the_currency():
    assert str(money.to_decimal("99.9", "EUR")) == "99.90"
    assert str(money.to_decimal("99.900", "EUR")) == "99.90"
    assert str(money.to_decimal(1000, "JPY")) == "1000"


minor_units = st.integers(min_value=0, max_value=99_999_999)


@given(minor=minor_units, currency=st.sampled_from(TWO_DECIMAL + PLAIN_ZERO_DECIMAL))
def test_round_trip_from_stripe_is_exact(minor, currency):
    assert money.to_minor_units(money.from_minor_units(minor, currency), currency) == minor


@given(
    tens=st.integers(min_value=0, max_value=9_999_999),
    currency=st.sampled_from(["KWD", "BHD", "JOD", "OMR", "TND"]),
)
def test_round_trip_three_decimal_currencies(tens, currency):
    minor = tens * 10  # Stripe only accepts three-decimal amounts ending in 0
    assert money.to_minor_units(money.from_minor_units(minor, currency), currency) == minor


@given(units=st.integers(min_value=0, max_value=999_999), currency=st.sampled_from(["ISK", "UGX"]))
def test_round_trip_x100_currencies(units, currency):
    minor = money.to_minor_units(Decimal(units), currency)
    assert minor == units * 100
    assert money.from_minor_units(minor, currency) == units


@given(
    amount=st.decimals(min_value=0, max_value=Decimal("999999.99"), places=2),
    currency=st.sampled_from(TWO_DECIMAL),
)
def test_round_trip_from_decimal_is_exact(amount, currency):
    assert money.from_minor_units(money.to_minor_units(amount, currency), currency) == amount


@given(amount=st.decimals(min_value=0, max_value=1000, places=6))
def test_it_never_rounds_silently(amount):
    """Either the conversion is exact, or it refuses: never a cent gained or lost."""
    try:
        minor = money.to_minor_units(amount, "EUR")
    except InvalidAmount:
        assert amount != amount.quantize(Decimal("0.01"))
    else:
        assert Decimal(minor) / 100 == amount
