"""System checks: configurations that would let money go wrong refuse to start."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

from payments import money


@register()
def idempotency_prefix_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Every database sharing a Stripe account needs its own idempotency prefix: "refund-80"
    from two databases is one key to Stripe, and the second refund would be refused (or, for a
    PaymentIntent, answered with the other database's)."""
    if settings.DEBUG or settings.STRIPE_IDEMPOTENCY_PREFIX:
        return []
    return [
        Error(
            "STRIPE_IDEMPOTENCY_PREFIX is not set.",
            hint="Give this deployment its own prefix (for example 'shop-prod'), different from "
            "every other database (staging, a developer's) that uses the same Stripe account.",
            id="payments.E001",
        )
    ]


@register()
def refund_approval_threshold_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """PAYMENTS_REFUND_APPROVAL_THRESHOLD must map currencies to exact positive amounts: a
    threshold that is a float or a string would compare wrongly, and let a large refund through
    without a second person."""
    thresholds = getattr(settings, "PAYMENTS_REFUND_APPROVAL_THRESHOLD", {})
    problems = []
    if not isinstance(thresholds, dict):
        problems.append(f"it is a {type(thresholds).__name__}, not a dict")
        thresholds = {}
    for currency, amount in thresholds.items():
        try:
            exact = isinstance(amount, Decimal) and money.to_decimal(amount, currency) == amount
        except (money.InvalidAmount, money.UnsupportedCurrency, TypeError):
            exact = False
        if currency != str(currency).upper() or not exact or amount <= 0:
            problems.append(f"{currency!r}: {amount!r} is not a positive exact amount")
    if not problems:
        return []
    return [
        Error(
            "PAYMENTS_REFUND_APPROVAL_THRESHOLD is malformed: " + "; ".join(problems) + ".",
            hint="Map upper-case currency codes to positive Decimal amounts in the currency's "
            "precision, as the environment form EUR:500,USD:500,JPY:75000 gives.",
            id="payments.E002",
        )
    ]
