"""Hear: record each verified Stripe event once, and apply it exactly once, in any order."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from payments import stripe_client
from payments.models import Payment, StripeWebhookEvent
from payments.services.common import from_timestamp, lock_payment_of_intent, plain
from payments.services.errors import WebhookProcessingFailed
from payments.services.intents import INTENT_FIELDS, payment_apply_charge, payment_apply_intent
from payments.services.refunds import refunds_apply

logger = logging.getLogger(__name__)

_PAYMENT_INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
}
_CHARGE_EVENTS = {"charge.succeeded", "charge.refunded"}
_REFUND_EVENTS = {"charge.refund.updated"}
HANDLED_EVENT_TYPES = _PAYMENT_INTENT_EVENTS | _CHARGE_EVENTS | _REFUND_EVENTS
_DONE = (
    StripeWebhookEvent.Status.PROCESSED,
    StripeWebhookEvent.Status.IGNORED,
    StripeWebhookEvent.Status.UNMATCHED,
)


def _event_object(data: Mapping[str, Any]) -> dict[str, Any]:
    return dict((data.get("data") or {}).get("object") or {})


def _event_payment_intent_id(event_type: str, obj: Mapping[str, Any]) -> str | None:
    """The PaymentIntent an event is about: the object itself, or the charge's/refund's."""
    if event_type in _PAYMENT_INTENT_EVENTS:
        return obj.get("id")
    pi = obj.get("payment_intent")
    return pi.get("id") if isinstance(pi, Mapping) else pi


def _without_client_secret(data: dict[str, Any]) -> dict[str, Any]:
    """The event as stored and shown to staff: a PaymentIntent's client secret lets whoever holds
    it confirm the payment, so it is not kept."""
    obj = (data.get("data") or {}).get("object")
    if isinstance(obj, Mapping) and "client_secret" in obj:
        data = {**data, "data": {**data["data"], "object": {**obj, "client_secret": None}}}
    return data


def webhook_event_receive(*, event: Any) -> StripeWebhookEvent:
    """Record a verified event once, and apply it unless a copy already was.

    A repeated delivery only counts the delivery. A copy of an event that failed (or was never
    finished) is applied again: that is Stripe's retry doing its job. Raises
    `WebhookProcessingFailed` when applying raises.
    """
    data = _without_client_secret(plain(event))
    obj = _event_object(data)
    row, created = StripeWebhookEvent.objects.get_or_create(
        stripe_event_id=data["id"],
        defaults={
            "event_type": data.get("type", ""),
            "data": data,
            "stripe_object_id": obj.get("id", ""),
            "livemode": bool(data.get("livemode")),
            "stripe_created_at": from_timestamp(data.get("created")),
        },
    )
    if not created:
        StripeWebhookEvent.objects.filter(pk=row.pk).update(delivery_count=F("delivery_count") + 1)
        if row.status in _DONE:
            return row
    return webhook_event_process(event_id=row.pk)


def webhook_event_process(*, event_id: int, force: bool = False) -> StripeWebhookEvent:
    """Apply a recorded event to our books, exactly once (`force` re-applies: a replay).

    Holds the event's row lock, then the payment's (order first), so concurrent copies of an
    event, and different events for one payment, apply one after another. Whatever Stripe must
    be asked (the refunds of a refunded charge) is fetched before any lock is taken. A failure is
    kept on the event (status failed, with the error; never stamped processed).
    """
    row = StripeWebhookEvent.objects.get(pk=event_id)
    obj = _event_object(row.data)
    observed_at = row.stripe_created_at or timezone.now()
    Outcome = StripeWebhookEvent.Status
    try:
        if row.event_type not in HANDLED_EVENT_TYPES:
            return _webhook_event_finish(event_id, Outcome.IGNORED, None, force)
        pi_id = _event_payment_intent_id(row.event_type, obj)
        known = pi_id and Payment.objects.filter(stripe_payment_intent_id=pi_id).exists()
        if not known:
            return _webhook_event_finish(event_id, Outcome.UNMATCHED, None, force)
        refunds = None
        if row.event_type == "charge.refunded":
            # Recent API versions no longer embed a charge's refunds: ask Stripe for all of them.
            refunds = stripe_client.refund_list(payment_intent_id=str(pi_id))
        with transaction.atomic():
            locked = StripeWebhookEvent.objects.select_for_update().get(pk=event_id)
            if locked.status in _DONE and not force:
                return locked  # a concurrent copy applied it first
            payment = lock_payment_of_intent(str(pi_id))
            assert payment is not None  # payments are never deleted (PROTECT)
            if row.event_type in _PAYMENT_INTENT_EVENTS:
                payment_apply_intent(payment, obj, observed_at=observed_at)
                payment.save(update_fields=INTENT_FIELDS)
            elif row.event_type == "charge.succeeded":
                payment_apply_charge(payment, obj)
                payment.save(update_fields=INTENT_FIELDS)
            elif row.event_type == "charge.refunded":
                payment_apply_charge(payment, obj)
                payment.save(update_fields=INTENT_FIELDS)
                refunds_apply(payment, refunds or [])
            else:  # charge.refund.updated
                refunds_apply(payment, [obj])
            return _webhook_event_finish(event_id, Outcome.PROCESSED, payment, force)
    except Exception as exc:
        logger.exception("webhook event %s (%s) failed", row.stripe_event_id, row.event_type)
        failed = StripeWebhookEvent.objects.filter(pk=event_id)
        if not force:  # a concurrent copy that did apply it keeps its outcome
            failed = failed.exclude(status__in=_DONE)
        failed.update(
            status=Outcome.FAILED,
            processed=False,
            processed_at=None,
            processing_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise WebhookProcessingFailed(f"Event {row.stripe_event_id} could not be applied.") from exc


def _webhook_event_finish(
    event_id: int, outcome: str, payment: Payment | None, force: bool
) -> StripeWebhookEvent:
    with transaction.atomic():
        row = StripeWebhookEvent.objects.select_for_update().get(pk=event_id)
        if row.status in _DONE and not force:
            return row
        row.status = outcome
        row.processed = True
        row.processed_at = timezone.now()
        row.processing_error = ""
        if payment is not None:
            row.payment = payment
        row.save(
            update_fields=["status", "processed", "processed_at", "processing_error", "payment"]
        )
        return row


def webhook_event_replay(*, event_id: int) -> StripeWebhookEvent:
    """Apply a recorded event again (an operator's replay; safe, since applying is idempotent)."""
    return webhook_event_process(event_id=event_id, force=True)
