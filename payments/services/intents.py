"""Recording what Stripe says of a PaymentIntent and its charge on the payment that is its row."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction

from payments import money
from payments.models import Payment
from payments.services import transitions
from payments.services.common import lock_payment_of_intent, plain
from shop.models import Order

logger = logging.getLogger(__name__)

# What applying a PaymentIntent's facts may change: saved alone, so that a webhook never rewrites
# the amounts or the refund totals that another writer holds.
INTENT_FIELDS = [
    "status",
    "stripe_synced_at",
    "failure_code",
    "failure_message",
    "stripe_charge_id",
    "card_brand",
    "card_last4",
    "amount_remaining",
    "updated_at",
]


def intent_fields_snapshot(payment: Payment) -> dict[str, Any]:
    """The INTENT_FIELDS of a payment as they are now, to save only what applying changed."""
    return {name: getattr(payment, name) for name in INTENT_FIELDS}


def intent_fields_changed(payment: Payment, before: Mapping[str, Any]) -> list[str]:
    """The INTENT_FIELDS that differ from `before` (not counting `updated_at`)."""
    return [
        name
        for name, value in before.items()
        if name != "updated_at" and getattr(payment, name) != value
    ]


def payment_save_changed(payment: Payment, before: Mapping[str, Any]) -> list[str]:
    """Save the INTENT_FIELDS that differ from `before` (and `updated_at` with them), nothing
    if none do: an event that repeats what is known writes no payment row. Returns them."""
    changed = intent_fields_changed(payment, before)
    if changed:
        payment.save(update_fields=[*changed, "updated_at"])
    return changed


def payment_apply_intent(payment: Payment, intent: Any, *, observed_at: datetime) -> bool:
    """Bring a (locked) payment up to date with its PaymentIntent seen at `observed_at`.

    The one transition function: webhooks, the API's confirm/status, "refresh from Stripe" and
    reconcile all call it, and it decides through `transitions.payment_after`, so the same facts
    always give the same state. Refuses (WrongPaymentIntent) another PaymentIntent's facts. The
    caller saves (`INTENT_FIELDS`). Returns whether the status changed.
    """
    facts = transitions.intent_facts(plain(intent))
    before = transitions.PaymentState(
        intent_id=payment.stripe_payment_intent_id,
        status=payment.status,
        synced_at=payment.stripe_synced_at,
        failure_code=payment.failure_code,
        failure_message=payment.failure_message,
    )
    after = transitions.payment_after(before, facts, observed_at)
    payment.status = after.status
    payment.stripe_synced_at = after.synced_at
    payment.failure_code, payment.failure_message = after.failure_code, after.failure_message
    changed = after.status != before.status
    recorded = (
        None
        if payment.amount_remaining is None
        else money.to_minor_units(payment.amount_remaining, payment.currency)
    )
    remaining = transitions.amount_remaining_after(payment.status, recorded, facts.amount_remaining)
    payment.amount_remaining = (
        None if remaining is None else money.from_minor_units(remaining, payment.currency)
    )
    if changed:
        logger.info(
            "payment %s: %s -> %s (%s)", payment.pk, before.status, after.status, facts.intent_id
        )

    if facts.charge is not None:
        payment_apply_charge(payment, facts.charge)
    elif facts.charge_id and (
        facts.status == transitions.SUCCEEDED or not payment.stripe_charge_id
    ):
        # A declined try's charge is replaced by the charge that paid.
        payment.stripe_charge_id = facts.charge_id

    if changed and payment.status == transitions.SUCCEEDED:
        # Refunds may have been heard of before the payment's success.
        payment.status = transitions.payment_status_with_refunds(
            payment.status, payment.amount, payment.amount_refunded
        )
    if payment.status in transitions.PAID and payment.order.status != Order.Status.PAID:
        payment.order.status = Order.Status.PAID
        payment.order.save(update_fields=["status"])
    return changed


def payment_apply_charge(payment: Payment, charge: Mapping[str, Any]) -> None:
    """Record a charge's facts (id, card) on a locked payment; the caller saves."""
    if charge.get("status") == "failed":
        return
    payment.stripe_charge_id = charge.get("id") or payment.stripe_charge_id
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    payment.card_brand = card.get("brand") or payment.card_brand
    payment.card_last4 = card.get("last4") or payment.card_last4


def payment_record_intent(intent: Any, *, observed_at: datetime) -> Payment | None:
    """Apply a PaymentIntent to its own payment, under its locks; None if it is not ours."""
    intent_id = str(plain(intent)["id"])
    with transaction.atomic():
        payment = lock_payment_of_intent(intent_id)
        if payment is None:
            return None
        payment_apply_intent(payment, intent, observed_at=observed_at)
        payment.save(update_fields=INTENT_FIELDS)
        return payment
