"""Stripe's rules the stand-in enforces: currencies and their minimums, reasons, what can be
expanded, which payment methods an account can offer."""

from __future__ import annotations

from typing import Any

from .store import KINDS

Obj = dict[str, Any]

ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
# Stripe charges three-decimal currencies in thousandths that end in 0, and ISK and UGX (which
# it shows without decimals) in multiples of 100.
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
HUNDREDS = {"isk", "ugx"}


def amount_problem(amount: int, currency: str) -> str | None:
    """Why Stripe refuses this amount in minor units for the currency, or None."""
    if currency in THREE_DECIMAL and amount % 10:
        return f"Amounts in {currency.upper()} must end in 0 (a multiple of 10 thousandths)."
    if currency in HUNDREDS and amount % 100:
        return f"Amounts in {currency.upper()} must be a multiple of 100."
    return None


# Stripe's minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_AMOUNTS = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "chf": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "sgd": 50,
    "jpy": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "pln": 200,
    "czk": 1500,
    "huf": 17500,
    "hkd": 400,
    "mxn": 1000,
}
MAXIMUM_AMOUNT = 99_999_999
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
# API versions (date part) where PaymentIntent's payment method type parameters changed:
# https://docs.stripe.com/changelog/dahlia/2026-07-29/allowed-payment-method-types-parameter
# https://docs.stripe.com/changelog/endive/2026-09-30/removes-the-payment-method-types-parameter-from-payment-intents-and-setup-intents
ALLOWED_TYPES_ADDED = "2026-07-29"
PAYMENT_METHOD_TYPES_REMOVED = "2026-09-30"
# Currencies each non-card type settles in (a subset of Stripe's lists).
METHOD_CURRENCIES = {
    "sepa_debit": {"eur"},
    "customer_balance": {"eur", "gbp", "usd", "jpy", "mxn"},
}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
MODIFIABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
# What Stripe returns for a PaymentIntent fetched with a publishable key and its client secret.
PUBLISHABLE_PI_FIELDS = {
    "id",
    "object",
    "amount",
    "amount_details",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "processing",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
}
EXPANDABLE = {
    "payment_intent": {"customer", "payment_method", "latest_charge"},
    "charge": {"customer", "payment_intent", "refunds"},
    "refund": {"charge", "payment_intent"},
    "payment_method": {"customer"},
    "dispute": {"charge", "payment_intent"},
    "customer": set(),
    "event": set(),
}
PREFIX_KINDS = {
    "cus": "customer",
    "pm": "payment_method",
    "pi": "payment_intent",
    "ch": "charge",
    "py": "charge",
    "re": "refund",
    "pyr": "refund",
    "dp": "dispute",
    "evt": "event",
}
MISSING_PARAM = {
    "customer": "id",
    "payment_method": "payment_method",
    "payment_intent": "intent",
    "charge": "charge",
    "refund": "refund",
    "dispute": "dispute",
    "event": "id",
}
# Disputes: which statuses take evidence, which are decided, and Stripe's dispute fee.
DISPUTE_ANSWERABLE = ("needs_response", "warning_needs_response")
DISPUTE_OPEN = (*DISPUTE_ANSWERABLE, "under_review", "warning_under_review")
DISPUTE_CLOSED = ("won", "lost", "warning_closed", "prevented")
# Days a cardholder's bank gives the merchant to answer (Stripe's test disputes: 7).
DISPUTE_RESPONSE_DAYS = 7


def dispute_fee(currency: str) -> int:
    """Stripe's dispute fee, 15.00 in the charge's currency, in its minor units."""
    if currency in ZERO_DECIMAL:
        return 15
    if currency in THREE_DECIMAL:
        return 15_000
    return 1500


AUTH_FAILURE_MESSAGE = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
    "or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


# Bank transfers (customer_balance) are offered by accounts in these places, in their currency.
EU_COUNTRIES = {
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PT", "SI", "SK",
}  # fmt: skip
BANK_TRANSFER_CURRENCY = {"US": "usd", "GB": "gbp", "JP": "jpy", "MX": "mxn"}


def compatible(type_: str, currency: str, customer_id: str | None, account_country: str) -> bool:
    """Whether a payment method type can work for this currency, customer and account, as
    Stripe decides it (what `allowed_payment_method_types` silently drops otherwise)."""
    if type_ == "customer_balance":
        if customer_id is None:
            return False  # bank transfers credit a customer's balance
        local = (
            "eur"
            if account_country in EU_COUNTRIES
            else BANK_TRANSFER_CURRENCY.get(account_country)
        )
        return currency == local
    return currency in METHOD_CURRENCIES.get(type_, {currency})


assert set(EXPANDABLE) == set(KINDS)
