"""System checks: configurations that would let money go wrong refuse to start."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


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
