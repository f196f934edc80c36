"""A digest of everything the demo seeder wrote, independent of database ids and of when it ran,
so that two seeding paths (or two versions of the seeder) can be compared exactly."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from payments.demo_data import DEMO_PREFIX
from payments.models import Payment, Refund, StripeWebhookEvent


def _without_customer_id(data: dict, customer_id: str) -> dict:
    """The event's data with the customer's id (made from a database id) replaced by a name."""
    obj = data["data"]["object"]
    if obj.get("customer") == customer_id:
        data = {**data, "data": {"object": {**obj, "customer": "<the payment's customer>"}}}
    return data


def _t(value: datetime | None, now: datetime) -> float | None:
    return None if value is None else (value - now).total_seconds()


def seeded_rows(now: datetime) -> list:
    """Every demo payment with its order, refunds and events, as plain values (times relative to
    the seed's `now`, the customer by username)."""
    payments = (
        Payment.objects.filter(stripe_payment_intent_id__startswith=DEMO_PREFIX)
        .select_related("order", "user")
        .order_by("stripe_payment_intent_id")
    )
    refunds: dict[int, list] = {}
    for r in Refund.objects.filter(payment__in=payments).order_by("id"):
        refunds.setdefault(r.payment_id, []).append(
            [
                r.stripe_refund_id,
                str(r.amount),
                r.status,
                r.reason,
                r.description,
                r.failure_reason,
                r.created_by_id,
                _t(r.created_at, now),
            ]
        )
    events: dict[int, list] = {}
    customer_ids = dict(payments.values_list("pk", "stripe_customer_id"))
    for e in StripeWebhookEvent.objects.filter(payment__in=payments).order_by("id"):
        data = _without_customer_id(e.data, customer_ids[e.payment_id])
        events.setdefault(e.payment_id, []).append(
            [
                e.stripe_event_id,
                e.event_type,
                e.api_version,
                data,
                e.processed,
                e.status,
                e.stripe_object_id,
                e.livemode,
                _t(e.stripe_created_at, now),
                _t(e.received_at, now),
                _t(e.processed_at, now),
                e.processing_error,
                e.delivery_count,
                e.attempts,
                e.next_attempt_at,
            ]
        )
    rows = []
    for p in payments:
        o = p.order
        assert p.stripe_customer_id == f"cus_demo_{p.user_id:06d}"
        rows.append(
            [
                p.stripe_payment_intent_id,
                p.user.username,
                o.user_id == p.user_id,
                o.current_payment_id == p.pk,
                str(o.total),
                o.currency,
                o.status,
                _t(o.created_at, now),
                p.stripe_charge_id,
                str(p.amount),
                p.currency,
                p.status,
                p.payment_method,
                str(p.amount_refunded),
                p.amount_remaining,
                p.dispute_status,
                p.card_brand,
                p.card_last4,
                p.failure_code,
                p.failure_message,
                _t(p.created_at, now),
                p.intent_attempt,
                _t(p.stripe_synced_at, now),
                refunds.get(p.pk, []),
                events.get(p.pk, []),
            ]
        )
    return rows


def digest(now: datetime) -> str:
    text = json.dumps(seeded_rows(now), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()
