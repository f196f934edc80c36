"""Demo and benchmark data: users with known passwords, orders, payments, refunds, webhook events.

Everything is derived from a payment's index `i` (its PaymentIntent id is `pi_demo_<i>`), so a
second run finds what the first made and only adds what is missing: seeding twice duplicates
nothing, and `--payments 1000000` after a default run only adds the difference. On PostgreSQL
the rows are streamed in with COPY, the indexes of empty tables built once after the load
(payments.demo_copy); on SQLite they are written with `bulk_create` in batches.

Demo payments are written to the database directly; `seed_stand_in` then brings the first
`STAND_IN_PAYMENTS` of them into the offline stand-in (its /_sandbox/import/payments), so that
Stripe knows them as the app does and refresh and refund work on every payment the default demo
shows. Their webhook events are real events (the objects as Stripe sends them), so that
replaying one applies it. Live payments (`seed_live_payments`) go through the checkout's path.
"""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from bisect import bisect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection, models, transaction
from django.utils import timezone

from payments import money
from payments.models import Payment, Refund, StripeWebhookEvent
from shop.models import CustomUser, Order

DEMO_PREFIX = "pi_demo_"
BATCH_SIZE = 2000


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    email: str
    role: str  # "admin", "Finance", "Support" or "customer"


DEMO_USERS = [
    DemoUser("admin", "admin-demo-pass", "admin@example.com", "admin"),
    DemoUser("finance", "finance-demo-pass", "finance@example.com", "Finance"),
    DemoUser("support", "support-demo-pass", "support@example.com", "Support"),
    DemoUser("alice", "alice-demo-pass", "alice@example.com", "customer"),
    DemoUser("bob", "bob-demo-pass", "bob@example.com", "customer"),
]

# (currency, weight, typical amount range in minor units as Stripe counts them)
CURRENCIES = [
    ("EUR", 60, (500, 50_000)),
    ("USD", 20, (500, 50_000)),
    ("GBP", 10, (500, 40_000)),
    ("JPY", 6, (500, 60_000)),
    ("KWD", 4, (1_000, 150_000)),
]
# (status, weight)
STATUSES = [
    (Payment.Status.SUCCEEDED, 62),
    (Payment.Status.FAILED, 10),
    (Payment.Status.PENDING, 6),
    (Payment.Status.PROCESSING, 3),
    (Payment.Status.CANCELLED, 5),
    (Payment.Status.PARTIALLY_REFUNDED, 7),
    (Payment.Status.REFUNDED, 7),
]
METHODS = [
    (Payment.Method.CARD, 80),
    (Payment.Method.WALLET, 12),
    (Payment.Method.BANK_TRANSFER, 8),
]
DECLINES = [
    ("card_declined", "Your card was declined."),
    ("insufficient_funds", "Your card has insufficient funds."),
    ("expired_card", "Your card has expired."),
]
BRANDS = [("visa", "4242"), ("mastercard", "4444"), ("amex", "8431"), ("visa", "1881")]
REASONS = [r.value for r in Refund.Reason]


def _pick(rng: random.Random, weighted: list) -> object:
    return rng.choices([w[0] for w in weighted], weights=[w[1] for w in weighted])[0]


def ensure_users() -> dict[str, CustomUser]:
    """Create (or reset to the documented passwords) the five demo users."""
    users = {}
    for demo in DEMO_USERS:
        user, _ = CustomUser.objects.get_or_create(
            username=demo.username, defaults={"email": demo.email}
        )
        user.email = demo.email
        user.is_staff = demo.role == "admin"
        user.is_superuser = demo.role == "admin"
        user.set_password(demo.password)
        user.save()
        if demo.role in ("Finance", "Support"):
            user.groups.add(Group.objects.get(name=demo.role))
        users[demo.username] = user
    return users


def extra_customers(count: int) -> list[CustomUser]:
    """Many customers make search by email realistic at volume; created once, by name."""
    names = [f"customer{n:05d}" for n in range(count)]
    existing = set(CustomUser.objects.filter(username__in=names).values_list("username", flat=True))
    CustomUser.objects.bulk_create(
        [
            CustomUser(username=name, email=f"{name}@example.com", password="!")  # noqa: S106
            for name in names
            if name not in existing
        ],
        batch_size=BATCH_SIZE,
    )
    return list(CustomUser.objects.filter(username__in=names).order_by("username"))


@dataclass
class _Seeded:
    """One demo payment and what hangs off it, as field values by attname (no model instances:
    at a million payments building those would cost more than writing the rows). The order's and
    the payment's ids, and the links between them, are filled in by whichever path writes them."""

    order: dict[str, Any]
    payment: dict[str, Any]
    refunds: list[dict[str, Any]]
    events: list[dict[str, Any]]


# The weighted picks, drawn as `rng.choices(values, weights)[0]` draws them (the same arithmetic
# on the same one random number, without the list it builds each time): the data stays what it
# always was, at a third of the cost.
@dataclass(frozen=True)
class _Pick:
    values: list
    cumulative: list[int]
    total: float

    @classmethod
    def of(cls, weighted: list) -> _Pick:
        cumulative = list(accumulate(w[1] for w in weighted))
        return cls([w[0] for w in weighted], cumulative, cumulative[-1] + 0.0)

    def draw(self, rng: random.Random) -> str:
        index = bisect(self.cumulative, rng.random() * self.total, 0, len(self.values) - 1)
        return str(self.values[index])


_CURRENCY_PICK, _STATUS_PICK, _METHOD_PICK = (
    _Pick.of(CURRENCIES),
    _Pick.of(STATUSES),
    _Pick.of(METHODS),
)
_CURRENCY_RANGES = {c[0]: c[2] for c in CURRENCIES}
_PAID = (Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED, Payment.Status.REFUNDED)


def _build(i: int, customer_ids: list[int], now: datetime) -> _Seeded:
    rng = random.Random(i)
    user_id = customer_ids[i % len(customer_ids)]
    currency = _CURRENCY_PICK.draw(rng)
    low, high = _CURRENCY_RANGES[currency]
    minor = rng.randint(low, high)
    if currency == "KWD":
        minor -= minor % 10  # Stripe charges three-decimal currencies in multiples of 10
    amount = money.from_minor_units(minor, currency)
    status = _STATUS_PICK.draw(rng)
    method = _METHOD_PICK.draw(rng)
    created = now - timedelta(seconds=rng.randint(60, 90 * 24 * 3600))
    paid = status in _PAID
    if paid:
        order_status = Order.Status.PAID
    elif status == Payment.Status.CANCELLED:
        order_status = Order.Status.CANCELLED
    else:
        order_status = Order.Status.PENDING
    order = {
        "user_id": user_id,
        "total": amount,
        "currency": currency,
        "status": str(order_status),
        "created_at": created,
    }
    pi_id = f"{DEMO_PREFIX}{i:08d}"
    brand, last4 = BRANDS[i % len(BRANDS)] if method != Payment.Method.BANK_TRANSFER else ("", "")
    payment: dict[str, Any] = {
        "user_id": user_id,
        "stripe_payment_intent_id": pi_id,
        "stripe_customer_id": f"cus_demo_{user_id:06d}",
        "stripe_charge_id": f"ch_demo_{i:08d}" if paid else "",
        "amount": amount,
        "currency": currency,
        "status": status,
        "payment_method": method,
        "card_brand": brand,
        "card_last4": last4,
        "created_at": created,
        "stripe_synced_at": created + timedelta(seconds=5),
        "failure_code": "",
        "failure_message": "",
    }
    if status == Payment.Status.FAILED:
        payment["failure_code"], payment["failure_message"] = DECLINES[i % len(DECLINES)]

    refunds: list[dict[str, Any]] = []
    refund_at = created + timedelta(days=rng.randint(1, 10))
    if refund_at > now:
        refund_at = now
    succeeded = str(Refund.Status.SUCCEEDED)
    if status == Payment.Status.REFUNDED:
        refunds.append({"amount": amount, "status": succeeded, "failure_reason": ""})
    elif status == Payment.Status.PARTIALLY_REFUNDED:
        part_minor = max(1, minor // rng.choice([2, 3, 4, 5]))
        if currency == "KWD":
            part_minor = max(10, part_minor - part_minor % 10)
        refunds.append(
            {
                "amount": money.from_minor_units(part_minor, currency),
                "status": succeeded,
                "failure_reason": "",
            }
        )
    elif status == Payment.Status.SUCCEEDED and rng.random() < 0.03:
        # A refund Stripe could not make: on record, and the payment stays fully refundable.
        refunds.append(
            {
                "amount": amount,
                "status": str(Refund.Status.FAILED),
                "failure_reason": "expired_or_canceled_card",
            }
        )
    for n, refund in enumerate(refunds):
        refund["stripe_refund_id"] = f"re_demo_{i:08d}_{n}"
        refund["reason"] = rng.choice(REASONS)
        refund["description"] = "Demo refund"
        refund["created_at"] = refund_at
    payment["amount_refunded"] = sum(
        (r["amount"] for r in refunds if r["status"] == succeeded), Decimal("0")
    )

    events = [_event(i, 0, _event_type(status), _intent_object(payment, minor), created, rng)]
    if refunds:
        refunded_minor = money.to_minor_units(payment["amount_refunded"], currency)
        charge = _charge_object(payment, minor, refunded_minor)
        events.append(_event(i, 1, "charge.refunded", charge, refund_at, rng))
    return _Seeded(order, payment, refunds, events)


def _event_type(status: str) -> str:
    types: dict[str, str] = {
        Payment.Status.FAILED: "payment_intent.payment_failed",
        Payment.Status.CANCELLED: "payment_intent.canceled",
        Payment.Status.PENDING: "payment_intent.created",
        Payment.Status.PROCESSING: "payment_intent.processing",
    }
    return types.get(status, "payment_intent.succeeded")


# Our status -> the PaymentIntent's status at Stripe that gives it.
_STRIPE_STATUS: dict[str, str] = {
    Payment.Status.PENDING: "requires_payment_method",
    Payment.Status.PROCESSING: "processing",
    Payment.Status.FAILED: "requires_payment_method",
    Payment.Status.CANCELLED: "canceled",
}


def _intent_object(payment: Mapping[str, Any], minor: int) -> dict:
    """The PaymentIntent as Stripe's event carries it: enough to be applied (and replayed).
    `payment` is the payment's field values (`_field_values` of a saved one)."""
    error = None
    if payment["status"] == Payment.Status.FAILED:
        error = {
            "type": "card_error",
            "code": "card_declined",
            "decline_code": payment["failure_code"],
            "message": payment["failure_message"],
        }
    return {
        "id": payment["stripe_payment_intent_id"],
        "object": "payment_intent",
        "amount": minor,
        "currency": payment["currency"].lower(),
        "status": _STRIPE_STATUS.get(payment["status"], "succeeded"),
        "latest_charge": payment["stripe_charge_id"] or None,
        "last_payment_error": error,
        "customer": payment["stripe_customer_id"],
        "created": int(payment["created_at"].timestamp()),
        "livemode": False,
    }


def _charge_object(payment: Mapping[str, Any], minor: int, refunded_minor: int) -> dict:
    return {
        "id": payment["stripe_charge_id"],
        "object": "charge",
        "amount": minor,
        "amount_refunded": refunded_minor,
        "currency": payment["currency"].lower(),
        "payment_intent": payment["stripe_payment_intent_id"],
        "refunded": refunded_minor >= minor,
        "status": "succeeded",
        "payment_method_details": {
            "type": "card",
            "card": {"brand": payment["card_brand"], "last4": payment["card_last4"]},
        }
        if payment["card_last4"]
        else {"type": "customer_balance"},
        "livemode": False,
    }


def _field_values(instance: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def _event(
    i: int, n: int, event_type: str, obj: dict, at: datetime, rng: random.Random
) -> dict[str, Any]:
    """A real event, as Stripe would have sent it. A few PaymentIntent events are left failed
    by a passing database error, as a busy server might: replaying one applies it for real (a
    PaymentIntent's facts need nothing more from Stripe)."""
    roll = rng.random()
    status, error = StripeWebhookEvent.Status.PROCESSED, ""
    if event_type == "payment_intent.created":
        status = StripeWebhookEvent.Status.IGNORED
    elif roll < 0.01 and event_type.startswith("payment_intent."):
        status = StripeWebhookEvent.Status.FAILED
        error = "OperationalError: canceling statement due to lock timeout"
    event_id = f"evt_demo_{i:08d}_{n}"
    return {
        "stripe_event_id": event_id,
        "event_type": event_type,
        "data": {
            "id": event_id,
            "object": "event",
            "api_version": "2026-10-28.endive",
            "type": event_type,
            "created": int(at.timestamp()),
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": obj},
        },
        "processed": status != StripeWebhookEvent.Status.FAILED,
        "status": str(status),
        "stripe_object_id": obj["id"],
        "stripe_created_at": at,
        "received_at": at + timedelta(seconds=2),
        "processed_at": None if error else at + timedelta(seconds=2),
        "processing_error": error,
        "delivery_count": 3 if error else 1,
    }


def _batches(start: int, stop: int, size: int = BATCH_SIZE) -> Iterator[range]:
    for low in range(start, stop, size):
        yield range(low, min(low + size, stop))


def existing_count() -> int:
    return Payment.objects.filter(stripe_payment_intent_id__startswith=DEMO_PREFIX).count()


def seed_payments(
    target: int,
    customers: list[CustomUser],
    progress: Callable[[int], None] = lambda n: None,
    now: datetime | None = None,
) -> int:
    """Make sure `target` demo payments exist; returns how many were added.

    On PostgreSQL the rows are streamed in with COPY (payments.demo_copy); elsewhere (the SQLite
    demo) they are bulk-created in batches. Both write exactly the same rows."""
    now = now or timezone.now()
    customer_ids = [customer.pk for customer in customers]
    if connection.vendor == "postgresql":
        from payments import demo_copy

        return demo_copy.seed_payments(target, customer_ids, now=now, progress=progress)
    added = 0
    for batch in _batches(existing_count(), target):
        with transaction.atomic():
            _bulk_create([_build(i, customer_ids, now) for i in batch])
        added += len(batch)
        progress(len(batch))
    return added


def _bulk_create(seeded: list[_Seeded]) -> None:
    orders = Order.objects.bulk_create([Order(**s.order) for s in seeded])
    payments = Payment.objects.bulk_create(
        [Payment(order=order, **s.payment) for s, order in zip(seeded, orders, strict=True)]
    )
    for order, payment in zip(orders, payments, strict=True):
        order.current_payment = payment
    Order.objects.bulk_update(orders, ["current_payment"])
    Refund.objects.bulk_create(
        Refund(payment=payment, **refund)
        for s, payment in zip(seeded, payments, strict=True)
        for refund in s.refunds
    )
    StripeWebhookEvent.objects.bulk_create(
        StripeWebhookEvent(payment=payment, **event)
        for s, payment in zip(seeded, payments, strict=True)
        for event in s.events
    )


OPEN_ORDERS = [("49.90", "EUR"), ("120.00", "EUR"), ("3500", "JPY")]


def seed_open_orders(customers: list[CustomUser]) -> int:
    """Unpaid orders for each demo customer, so the checkout has something to pay.

    A customer gets them once, with nothing else to go by: one who has any order already (these,
    whatever became of them since: paid, refunded, cancelled, edited) gets none, so seeding again
    adds nothing."""
    created = 0
    for user in customers:
        with transaction.atomic():
            CustomUser.objects.select_for_update().filter(
                pk=user.pk
            ).first()  # one seeder at a time
            if Order.objects.filter(user=user).exists():
                continue
            for total, currency in OPEN_ORDERS:
                Order.objects.create(user=user, total=Decimal(total), currency=currency)
                created += 1
    return created


# A few of them are disputed (Stripe's test cards for it), so the disputes pages have work: the
# disputes arrive as Stripe's webhooks once the demo's server is up.
LIVE_CARDS = {
    1: "pm_card_createDispute",
    4: "pm_card_createDisputeInquiry",
    6: "pm_card_createDisputeProductNotReceived",
}
LIVE_ORDERS = [
    ("64.90", "EUR"),
    ("129.00", "EUR"),
    ("42.50", "USD"),
    ("8800", "JPY"),
    ("19.990", "KWD"),
    ("250.00", "EUR"),
    ("15.00", "GBP"),
    ("99.99", "EUR"),
]


def seed_live_payments(count: int, customers: list[CustomUser]) -> int:
    """Make sure `count` demo payments were really paid at Stripe (the stand-in in the demo), so
    that they can be refreshed and refunded; returns how many were added.

    Each goes the production way: services.payment_intent_create, a confirmation with Stripe's
    test card (what Stripe.js would do in the customer's browser), then a sync from Stripe.
    """
    from payments import services, stripe_client

    live = Payment.objects.filter(order__user__in=customers).exclude(
        stripe_payment_intent_id__startswith=DEMO_PREFIX
    )
    added = 0
    for n in range(live.count(), count):
        total, currency = LIVE_ORDERS[n % len(LIVE_ORDERS)]
        order = Order.objects.create(
            user=customers[n % len(customers)], total=Decimal(total), currency=currency
        )
        try:
            payment, _ = services.payment_intent_create(
                user=order.user, order_id=order.pk, payment_method=Payment.Method.CARD
            )
        except Exception:
            order.delete()  # nothing at Stripe yet: leave no unpaid demo order behind
            raise
        assert payment.stripe_payment_intent_id
        stripe_client.payment_intent_confirm(
            payment.stripe_payment_intent_id,
            payment_method=LIVE_CARDS.get(n, "pm_card_visa"),
            idempotency_key=services.idempotency_key("demo-confirm", payment.pk),
        )
        services.payment_sync_from_stripe(payment_id=payment.pk)
        added += 1
    return added


def extra_customer_count(payments: int) -> int:
    """Seeded history belongs to generated customers (about one per hundred payments, at least
    twenty), so that alice and bob start with nothing but unpaid orders to check out."""
    return min(20_000, max(20, payments // 100))


# --- The stand-in ---------------------------------------------------------------------------------
# How many demo payments (the first, by index) are brought into the stand-in: every one of the
# default demo's 240, and a benchmark-sized seed stays fast (the rest stay local rows only).
STAND_IN_PAYMENTS = 10_000
STAND_IN_BATCH = 1000
_STRIPE_REFUND_STATUSES: dict[str, str] = {
    Refund.Status.PENDING: "pending",
    Refund.Status.SUCCEEDED: "succeeded",
    Refund.Status.FAILED: "failed",
    Refund.Status.CANCELED: "canceled",
}
_STRIPE_REFUND_REASONS = {"requested_by_customer", "duplicate", "fraudulent"}


class StandInUnavailable(Exception):
    """The stand-in could not be reached, or refused the import."""


def stand_in_payment(payment: Payment) -> dict:
    """A demo payment as the stand-in's import takes it: what Stripe holds for it."""
    minor = money.to_minor_units(payment.amount, payment.currency)
    intent = _intent_object(_field_values(payment), minor)
    item: dict = {
        "id": payment.stripe_payment_intent_id,
        "amount": minor,
        "currency": intent["currency"],
        "status": intent["status"],
        "created": intent["created"],
        "customer": payment.stripe_customer_id or None,
        "last_payment_error": intent["last_payment_error"],
    }
    if intent["status"] == "succeeded":
        card = {"brand": payment.card_brand, "last4": payment.card_last4}
        item["charge"] = {
            "id": payment.stripe_charge_id,
            "card": card if payment.card_last4 else None,
        }
        item["refunds"] = [
            {
                "id": refund.stripe_refund_id,
                "amount": money.to_minor_units(refund.amount, payment.currency),
                "status": _STRIPE_REFUND_STATUSES[refund.status],
                "reason": refund.reason if refund.reason in _STRIPE_REFUND_REASONS else None,
                "created": int(refund.created_at.timestamp()),
                "failure_reason": refund.failure_reason or None,
                "metadata": {"refund_id": str(refund.pk)},
            }
            for refund in sorted(payment.refunds.all(), key=lambda r: r.pk)
            if refund.stripe_refund_id and refund.status in _STRIPE_REFUND_STATUSES
        ]
    return item


def seed_stand_in(limit: int = STAND_IN_PAYMENTS) -> tuple[int, int]:
    """Make sure the first `limit` demo payments exist at the stand-in (STRIPE_API_BASE), with
    their charges and refunds; returns (imported, already there). The stand-in keeps what it
    already has: a demo payment refunded there since is not put back."""
    base = (settings.STRIPE_API_BASE or "").rstrip("/")
    if not base:
        raise StandInUnavailable("STRIPE_API_BASE is not set: Stripe itself has no import.")
    payments = (
        Payment.objects.filter(stripe_payment_intent_id__startswith=DEMO_PREFIX)
        .order_by("stripe_payment_intent_id")
        .prefetch_related("refunds")[:limit]
    )
    imported = existing = 0
    batch: list[dict] = []
    for payment in payments.iterator(chunk_size=STAND_IN_BATCH):
        batch.append(stand_in_payment(payment))
        if len(batch) == STAND_IN_BATCH:
            answer = _stand_in_import(base, batch)
            imported, existing, batch = imported + answer[0], existing + answer[1], []
    if batch:
        answer = _stand_in_import(base, batch)
        imported, existing = imported + answer[0], existing + answer[1]
    return imported, existing


def _stand_in_import(base: str, batch: list[dict]) -> tuple[int, int]:
    request = urllib.request.Request(  # noqa: S310 (the configured Stripe base, http or https)
        f"{base}/_sandbox/import/payments",
        data=json.dumps({"payments": batch}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            answer = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise StandInUnavailable(f"the stand-in refused the import ({exc.code}): {detail}") from exc
    except (OSError, ValueError) as exc:
        raise StandInUnavailable(f"the stand-in at {base} did not answer: {exc}") from exc
    return int(answer["imported"]), int(answer["existing"])
