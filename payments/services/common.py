"""What every flow shares: idempotency keys, the lock order, and reading Stripe's objects."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from payments import stripe_client
from payments.models import Payment
from shop.models import Order


def idempotency_key(*parts: object) -> str:
    """A Stripe idempotency key from our own rows ("refund-42"), with the deployment's prefix
    (STRIPE_IDEMPOTENCY_PREFIX) so that databases sharing one Stripe account never collide."""
    key = "-".join(str(part) for part in parts)
    prefix = settings.STRIPE_IDEMPOTENCY_PREFIX
    return f"{prefix}-{key}" if prefix else key


def in_flight_window() -> timedelta:
    """The longest a send can still be on its way to Stripe (every retry timing out), and a
    margin: until then what it sent (a refund, a dispute answer) is left alone, since Stripe may
    yet act on it."""
    return timedelta(seconds=stripe_client.worst_case_seconds() + 5)


def plain(obj: Any) -> dict[str, Any]:
    """Stripe SDK objects and webhook payloads, both as plain dicts."""
    if isinstance(obj, Mapping):
        return dict(obj)
    return obj.to_dict()


def from_timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int) else None


def lock_payment(*, payment_id: int, order_id: int | None = None) -> Payment:
    """Lock the payment's order, then the payment (always in that order), and return it fresh.

    The order a payment belongs to never changes, so reading it before taking the locks is safe
    (and a caller that has read it already passes `order_id`, saving the look-up).
    """
    if order_id is None:
        order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
    Order.objects.select_for_update().filter(pk=order_id).exists()
    return Payment.objects.select_for_update().select_related("order").get(pk=payment_id)


def lock_payment_of_intent(intent_id: str) -> Payment | None:
    """Lock the payment of a PaymentIntent (its order first), or None if no payment has it.

    A payment's PaymentIntent id is written once and never changes, so the row found here is
    the one the PaymentIntent's facts are about, before and after the locks.
    """
    ids = payment_ids_of_intent(intent_id)
    return None if ids is None else lock_payment(payment_id=ids[0], order_id=ids[1])


def payment_ids_of_intent(intent_id: str) -> tuple[int, int] | None:
    """The (payment, order) ids of a PaymentIntent's payment, or None: one indexed read."""
    return (
        Payment.objects.filter(stripe_payment_intent_id=intent_id)
        .values_list("pk", "order_id")
        .order_by()
        .first()
    )


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Whether this process may run the job `name` now: on PostgreSQL a session advisory lock,
    held until the block ends, so two hosts never run it at once (the other gets False). On
    SQLite (one demo process) always True."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        (mine,) = cursor.fetchone()
    try:
        yield bool(mine)
    finally:
        if mine:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
