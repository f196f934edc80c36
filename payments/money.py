"""Exact money: the one place that knows currency exponents and Stripe's minor units.

Amounts live in the database and in the app as `Decimal` in major units (EUR 99.99, JPY 1000,
KWD 12.340). Stripe speaks integers in the currency's "smallest unit", with its own rules:

- zero-decimal currencies (JPY, KRW, ...) are sent as whole units: JPY 1000 -> 1000;
- three-decimal currencies (BHD, JOD, KWD, OMR, TND) are sent in thousandths, and Stripe requires
  the last digit to be 0 (so KWD 12.345 cannot be charged; KWD 12.340 -> 12340);
- ISK and UGX are zero-decimal, yet Stripe wants them multiplied by 100 (ISK 500 -> 50000);
- everything else has two decimals: EUR 99.99 -> 9999.

Nothing here rounds. An amount more precise than its currency allows is an `InvalidAmount` with a
message fit to show the person who typed it. Floats are refused outright.

Source: https://docs.stripe.com/currencies (zero-decimal, three-decimal and special cases).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
        "VUV", "XAF", "XOF", "XPF", "ISK",
    }
)  # fmt: skip
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
# Zero-decimal for people, but Stripe's API still takes them x100 (and the last two digits 00).
STRIPE_X100_ZERO_DECIMAL = frozenset({"ISK", "UGX"})

# Currencies Stripe can charge in (presentment currencies), from Stripe's currency list.
STRIPE_CURRENCIES = frozenset(
    """
    USD AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CVE CZK DJF DKK DOP DZD EGP ETB EUR FJD FKP GBP GEL GIP
    GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR ISK JMD JOD JPY KES KGS KHR KMF KRW KWD KYD KZT
    LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR
    NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SEK SGD SHP SLE SOS SRD
    STD SZL THB TJS TND TOP TRY TTD TWD TZS UAH UGX UYU UZS VND VUV WST XAF XCD XOF XPF YER ZAR
    ZMW
    """.split()
)


class InvalidAmount(ValueError):
    """An amount that cannot be represented exactly in its currency (or is not money at all)."""


class UnsupportedCurrency(ValueError):
    """A currency code Stripe does not charge in."""


def normalize_currency(currency: str) -> str:
    """Return the upper-case ISO code, or raise `UnsupportedCurrency`."""
    code = (currency or "").strip().upper()
    if code not in STRIPE_CURRENCIES:
        raise UnsupportedCurrency(f"{currency!r} is not a currency Stripe supports.")
    return code


def exponent(currency: str) -> int:
    """Digits after the decimal point people use for this currency (JPY 0, EUR 2, KWD 3)."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def _as_decimal(amount: Decimal | int | str) -> Decimal:
    if isinstance(amount, float):
        raise InvalidAmount("Amounts must be exact decimals, not floating-point numbers.")
    if isinstance(amount, bool):
        raise InvalidAmount("Amounts must be numbers.")
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise InvalidAmount(f"{amount!r} is not a valid amount.") from None
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not a valid amount.")
    return value


def _places(value: Decimal) -> int:
    """Significant decimal places: 1.50 -> 1, 2 -> 0, 1E+2 -> 0."""
    exp = value.normalize().as_tuple().exponent
    assert isinstance(exp, int)  # finite, checked by _as_decimal
    return max(0, -exp)


def to_decimal(amount: Decimal | int | str, currency: str) -> Decimal:
    """Parse and check an amount in major units, quantized to the currency's exponent.

    "99.9" EUR -> Decimal("99.90"); "1000" JPY -> Decimal("1000"); "12.5" JPY -> InvalidAmount.
    Negative and zero amounts are allowed here; callers that need a positive amount say so.
    """
    value = _as_decimal(amount)
    places = exponent(currency)
    if _places(value) > places:
        code = normalize_currency(currency)
        unit = "whole units" if places == 0 else f"{places} decimal places"
        raise InvalidAmount(f"{code} amounts can have at most {unit}; {value} has more.")
    try:
        return value.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than decimal arithmetic carries (1E+30)
        raise InvalidAmount(f"{value} is too large an amount.") from None


def to_minor_units(amount: Decimal | int | str, currency: str) -> int:
    """Major-unit amount -> the integer Stripe expects for `amount`."""
    code = normalize_currency(currency)
    value = to_decimal(amount, code)
    if code in STRIPE_X100_ZERO_DECIMAL:
        return int(value) * 100
    minor = int(value.scaleb(exponent(code)))
    if code in THREE_DECIMAL_CURRENCIES and minor % 10:
        raise InvalidAmount(
            f"Stripe charges {code} in multiples of 0.010; {value} cannot be charged exactly."
        )
    return minor


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Stripe's integer amount -> exact major units (EUR 9999 -> Decimal("99.99"))."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise InvalidAmount(f"Stripe amounts are integers, got {minor!r}.")
    code = normalize_currency(currency)
    if code in STRIPE_X100_ZERO_DECIMAL:
        if minor % 100:
            raise InvalidAmount(f"Stripe {code} amounts are multiples of 100, got {minor}.")
        return Decimal(minor // 100)
    places = exponent(code)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def format_amount(amount: Decimal, currency: str) -> str:
    """Human form used on pages and in confirmations: 'EUR 1,234.50', 'JPY 1,000'."""
    code = normalize_currency(currency)
    value = Decimal(amount).quantize(Decimal(1).scaleb(-exponent(code)))
    return f"{code} {value:,}"


def amounts_by_currency(text: str) -> dict[str, Decimal]:
    """Parse "EUR:500,USD:500,JPY:75000" into {"EUR": Decimal("500.00"), ...}, exactly.

    Every amount must be positive and exact in its currency (no JPY 0.5), and every currency
    Stripe's and given once; blank text is an empty dict. Raises ValueError saying what is wrong.
    """
    amounts: dict[str, Decimal] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        code, sep, raw = item.partition(":")
        if not sep or not code.strip() or not raw.strip():
            raise ValueError(f"{item!r} is not CURRENCY:AMOUNT (for example EUR:500).")
        try:
            currency = normalize_currency(code)
            value = to_decimal(raw.strip(), currency)
        except (UnsupportedCurrency, InvalidAmount) as exc:
            raise ValueError(f"{item!r}: {exc}") from None
        if value <= 0:
            raise ValueError(f"{item!r}: the amount must be more than zero.")
        if currency in amounts:
            raise ValueError(f"{currency} is given twice.")
        amounts[currency] = value
    return amounts
