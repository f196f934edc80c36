"""Hear: record each verified Stripe event once, and apply it exactly once, in any order."""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from payments import queue, stripe_client
from payments.models import Payment, StripeWebhookEvent, StripeWebhookRefusal
from payments.services.common import (
    from_timestamp,
    lock_payment,
    payment_ids_of_intent,
    plain,
)
from payments.services.disputes import DISPUTE_EVENTS, dispute_apply, dispute_payment_id
from payments.services.errors import WebhookProcessingFailed
from payments.services.intents import (
    intent_fields_changed,
    intent_fields_snapshot,
    payment_apply_charge,
    payment_apply_intent,
    payment_save_changed,
)
from payments.services.refunds import refunds_apply

logger = logging.getLogger(__name__)

_PAYMENT_INTENT_EVENTS = {
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "payment_intent.processing",
    # A bank transfer: its instructions, then each part of the money that arrives.
    "payment_intent.requires_action",
    "payment_intent.partially_funded",
}
_CHARGE_EVENTS = {"charge.succeeded", "charge.refunded"}
# Since API 2024-10-28 the refund.* events cover refunds of every payment method;
# charge.refund.updated only some. Both are applied (a refund's state only moves forward).
_REFUND_EVENTS = {"charge.refund.updated", "refund.created", "refund.updated", "refund.failed"}
HANDLED_EVENT_TYPES = _PAYMENT_INTENT_EVENTS | _CHARGE_EVENTS | _REFUND_EVENTS | DISPUTE_EVENTS
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


# Stripe's events were all created after 2010 and before 2100; anything else is not one.
_CREATED_RANGE = (1_262_304_000, 4_102_444_800)


def webhook_event_problem(data: Any, payload: bytes) -> str | None:
    """Why a verified body is no event this app can store, or None. Checked before anything is
    written, so that a malformed event is a 400 with its reason, never a 500 that Stripe would
    retry for three days."""
    if b"\\u0000" in payload.lower() or b"\x00" in payload:
        return "the event contains a NUL character"
    if _SURROGATE_ESCAPE.search(payload) and _has_lone_surrogate(data):
        return "the event contains an unpaired UTF-16 surrogate (no Unicode text)"
    if not isinstance(data, Mapping):
        return "the event is not a JSON object"
    event_id, event_type = data.get("id"), data.get("type")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 255:
        return "`id` is not a string of 1 to 255 characters"
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
        return "`type` is not a string of 1 to 100 characters"
    created = data.get("created")
    if not isinstance(created, int) or isinstance(created, bool):
        return "`created` is not a Unix timestamp"
    if not _CREATED_RANGE[0] <= created <= _CREATED_RANGE[1]:
        return "`created` is not a time Stripe can have sent"
    version = data.get("api_version")
    if version is not None and (not isinstance(version, str) or len(version) > 64):
        return "`api_version` is not a string of at most 64 characters"
    inner = data.get("data")
    if not isinstance(inner, Mapping) or not isinstance(inner.get("object"), Mapping):
        return "`data.object` is not an object"
    object_id = inner["object"].get("id")
    if object_id is not None and (not isinstance(object_id, str) or len(object_id) > 255):
        return "`data.object.id` is not a string of at most 255 characters"
    return None


# `\ud800`-`\udfff` escapes: JSON allows them alone, but no text (nor PostgreSQL's jsonb) does.
# The cheap byte search runs on every delivery; the walk only when an escape is there.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF]")


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, Mapping):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


def _text(value: Any, limit: int) -> str:
    """A refused event's id or type as storable text: cut, no NUL, no unpaired surrogate."""
    if not isinstance(value, str):
        return ""
    text = value[:limit].replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


def webhook_refusal_record(*, payload: bytes, data: Any, reason: str) -> StripeWebhookRefusal:
    """Keep a trace of a signed delivery refused as malformed (never its body)."""
    fields = data if isinstance(data, Mapping) else {}
    event_id, event_type = fields.get("id"), fields.get("type")
    return StripeWebhookRefusal.objects.create(
        reason=reason[:255],
        stripe_event_id=_text(event_id, 255),
        event_type=_text(event_type, 100),
        body_sha256=hashlib.sha256(payload).hexdigest(),
        body_bytes=len(payload),
    )


def webhook_event_receive(*, event: Any, payload: bytes | None = None) -> StripeWebhookEvent:
    """Record a verified event once, then have it applied unless a copy already was.

    With a worker (CELERY_BROKER_URL) the event table is the queue: the row is stored due now,
    the worker is woken once the row is committed (payments.queue), and the row is returned as it
    is (pending): the webhook answers at once, and no Stripe call happens in the request. Without
    one (the demo) it is applied here, as before, and `WebhookProcessingFailed` is raised when
    applying raises, so that Stripe retries. A repeated delivery only counts the delivery; a copy
    of an event not applied yet is applied (or the worker woken) again.

    `payload` is the verified body `event` was parsed from: stored as received (PostgreSQL reads
    it as jsonb) unless a client secret had to be taken out of it.
    """
    parsed = plain(event)
    data = _without_client_secret(parsed)
    as_received = payload if data is parsed else None
    row, created = _record(data, as_received)
    if not created and row.status in _DONE:
        return row
    if queue.inline():
        return webhook_event_process(event_id=row.pk)
    queue.webhook_events_due()
    return row


def _record(data: dict[str, Any], payload: bytes | None) -> tuple[StripeWebhookEvent, bool]:
    """Store a verified event, or count one more delivery of it: one statement on PostgreSQL
    (an upsert), so that intake is no slower than the least a webhook can do. `payload`, if
    given, is `data` as Stripe sent it, stored without serialising `data` again."""
    obj = _event_object(data)
    now = timezone.now()
    fields = {
        "event_type": data.get("type", ""),
        "api_version": data.get("api_version") or "",
        "data": data,
        "stripe_object_id": obj.get("id", ""),
        "livemode": bool(data.get("livemode")),
        "stripe_created_at": from_timestamp(data.get("created")),
        "received_at": now,
        "next_attempt_at": now,
    }
    if connection.vendor != "postgresql":
        row, created = StripeWebhookEvent.objects.get_or_create(
            stripe_event_id=data["id"], defaults=fields
        )
        if not created:
            StripeWebhookEvent.objects.filter(pk=row.pk).update(
                delivery_count=F("delivery_count") + 1
            )
        return row, created
    table = connection.ops.quote_name(StripeWebhookEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (stripe_event_id, event_type, api_version, data, processed, "  # noqa: S608 (our table's name)
            "status, stripe_object_id, livemode, stripe_created_at, received_at, "
            "processing_error, delivery_count, attempts, next_attempt_at) "
            "VALUES (%s, %s, %s, %s::jsonb, false, 'pending', %s, %s, %s, %s, '', 1, 0, %s) "
            "ON CONFLICT (stripe_event_id) DO UPDATE "
            f"SET delivery_count = {table}.delivery_count + 1 "
            "RETURNING id, status, (xmax = 0)",
            [
                data["id"],
                fields["event_type"],
                fields["api_version"],
                _as_json_text(data, payload),
                fields["stripe_object_id"],
                fields["livemode"],
                fields["stripe_created_at"],
                now,
                now,
            ],
        )
        pk, status, created = cursor.fetchone()
    return StripeWebhookEvent(pk=pk, stripe_event_id=data["id"], status=status), bool(created)


def _as_json_text(data: dict[str, Any], payload: bytes | None) -> str:
    if payload is not None:
        with suppress(UnicodeDecodeError):  # JSON in UTF-16 or -32 parses too: serialise that
            return payload.decode()
    return json.dumps(data)


def webhook_event_process(*, event_id: int, force: bool = False) -> StripeWebhookEvent:
    """Apply a recorded event to our books, exactly once (`force` re-applies: a replay).

    Holds the event's row lock, then the payment's (order first), so concurrent copies of an
    event, and different events for one payment, apply one after another. Whatever Stripe must
    be asked (the refunds of a refunded charge) is fetched before any lock is taken. A failure is
    kept on the event (status failed, with the error; never stamped processed).

    The payload is read once (here); the locked re-read takes only the status, and every write is
    an UPDATE of the columns that changed: a payment_intent.succeeded is 7 statements.
    """
    row = StripeWebhookEvent.objects.get(pk=event_id)
    obj = _event_object(row.data)
    observed_at = row.stripe_created_at or timezone.now()
    Outcome = StripeWebhookEvent.Status
    try:
        if row.event_type not in HANDLED_EVENT_TYPES:
            return _webhook_event_finish(row, Outcome.IGNORED, None, force)
        if row.event_type in DISPUTE_EVENTS:
            return _dispute_event_process(row, obj, observed_at, force)
        pi_id = _event_payment_intent_id(row.event_type, obj)
        ids = payment_ids_of_intent(str(pi_id)) if pi_id else None
        if ids is None:
            return _webhook_event_finish(row, Outcome.UNMATCHED, None, force)
        refunds = None
        if row.event_type == "charge.refunded":
            # Recent API versions no longer embed a charge's refunds: ask Stripe for all of them.
            refunds = stripe_client.refund_list(payment_intent_id=str(pi_id))
        pinned = not row.api_version or row.api_version == stripe_client.API_VERSION
        if not pinned:
            # Rendered at another API version (the endpoint's or the account's default): its
            # fields need not mean what this code reads. Ask for the objects at ours instead.
            observed_at = timezone.now()
            intent = stripe_client.payment_intent_retrieve(str(pi_id))
            refunds = stripe_client.refund_list(payment_intent_id=str(pi_id))
        with transaction.atomic():
            status_before = _lock_event(row.pk)
            if status_before in _DONE and not force:
                row.status = status_before
                return row  # a concurrent copy applied it first
            payment = lock_payment(payment_id=ids[0], order_id=ids[1])
            before = intent_fields_snapshot(payment)
            if not pinned:
                payment_apply_intent(payment, intent, observed_at=observed_at)
                unsaved = intent_fields_changed(payment, before)
                refunds_apply(payment, refunds or [], unsaved=unsaved)
            elif row.event_type in _PAYMENT_INTENT_EVENTS:
                payment_apply_intent(payment, obj, observed_at=observed_at)
                payment_save_changed(payment, before)
            elif row.event_type == "charge.succeeded":
                payment_apply_charge(payment, obj)
                payment_save_changed(payment, before)
            elif row.event_type == "charge.refunded":
                # The charge's facts and the refund totals: one UPDATE of the payment.
                payment_apply_charge(payment, obj)
                unsaved = intent_fields_changed(payment, before)
                refunds_apply(payment, refunds or [], unsaved=unsaved)
            else:  # charge.refund.updated, refund.*
                refunds_apply(payment, [obj])
            return _finish_locked(row, status_before, Outcome.PROCESSED, payment, force)
    except Exception as exc:
        logger.exception("webhook event %s (%s) failed", row.stripe_event_id, row.event_type)
        retry_in = _retry_in(row.attempts + 1, exc)
        failed = StripeWebhookEvent.objects.filter(pk=event_id)
        if not force:  # a concurrent copy that did apply it keeps its outcome
            failed = failed.exclude(status__in=_DONE)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        with transaction.atomic():
            failed.update(
                status=Outcome.FAILED,
                processed=False,
                processed_at=None,
                processing_error=error,
                attempts=F("attempts") + 1,
                next_attempt_at=None if retry_in is None else timezone.now() + _seconds(retry_in),
            )
            if force:
                _audit_replay(row, row.status, Outcome.FAILED, error)
        raise WebhookProcessingFailed(
            f"Event {row.stripe_event_id} could not be applied.", retry_in=retry_in
        ) from exc


def _lock_event(event_id: int) -> str:
    """Lock an event's row (inside a transaction) and return its status as it now is: the
    status only, the payload having been read already."""
    return str(
        StripeWebhookEvent.objects.select_for_update()
        .filter(pk=event_id)
        .values_list("status", flat=True)
        .get()
    )


def _dispute_event_process(
    row: StripeWebhookEvent, obj: dict[str, Any], observed_at: datetime, force: bool
) -> StripeWebhookEvent:
    """A charge.dispute.* event: the dispute as it then was, recorded on its payment's lock."""
    Outcome = StripeWebhookEvent.Status
    payment_id = dispute_payment_id(obj)
    if payment_id is None:
        return _webhook_event_finish(row, Outcome.UNMATCHED, None, force)
    if row.api_version and row.api_version != stripe_client.API_VERSION:
        observed_at = timezone.now()  # another version's fields: ask for the dispute at ours
        obj = plain(stripe_client.dispute_retrieve(str(obj["id"])))
    with transaction.atomic():
        status_before = _lock_event(row.pk)
        if status_before in _DONE and not force:
            row.status = status_before
            return row
        payment = lock_payment(payment_id=payment_id)
        dispute_apply(payment, obj, observed_at=observed_at, event_type=row.event_type)
        return _finish_locked(row, status_before, Outcome.PROCESSED, payment, force)


# An event that fails for another reason than Stripe being busy or away (a bug, a row that
# cannot take it) is tried this many times, then left failed for a person to replay.
MAX_ATTEMPTS = 5


def _retry_in(attempts: int, exc: Exception) -> float | None:
    """Seconds until a failed event is due again: exponential back-off (2 s, 4 s, ... 10 min) with
    jitter. Stripe busy (429) or unreachable is retried for as long as it takes."""
    transient = isinstance(exc, stripe_client.RateLimited | stripe_client.ProviderUnavailable)
    if not transient and attempts >= MAX_ATTEMPTS:
        return None
    ceiling = min(600.0, 2.0**attempts)
    return random.uniform(ceiling / 2, ceiling)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def webhook_events_apply_due(*, batch: int = 50, now: datetime | None = None) -> int:
    """Apply every event that is due (recorded, or failed and due for a retry): the worker's
    loop. Claims a batch at a time (SKIP LOCKED, so workers share the work) by moving the claimed
    events' due time PAYMENTS_EVENT_REQUEUE_AFTER_SECONDS ahead: if this worker dies, they are
    due again then and another worker takes them. Returns how many were applied."""
    applied = 0
    while True:
        claimed = _claim_due(batch, now=now)
        if not claimed:
            return applied
        for event_id in claimed:
            with suppress(WebhookProcessingFailed):  # kept failed, due again after back-off
                webhook_event_process(event_id=event_id)
                applied += 1


def _due(now: datetime) -> Any:
    return StripeWebhookEvent.objects.filter(
        status__in=[StripeWebhookEvent.Status.PENDING, StripeWebhookEvent.Status.FAILED],
        next_attempt_at__isnull=False,
        next_attempt_at__lte=now,
    )


def _claim_due(batch: int, *, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    until = now + _seconds(float(settings.PAYMENTS_EVENT_REQUEUE_AFTER_SECONDS))
    with transaction.atomic():
        ids = list(
            _due(now)
            .order_by("next_attempt_at")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:batch]
        )
        StripeWebhookEvent.objects.filter(pk__in=ids).update(next_attempt_at=until)
    return ids


def webhook_events_next_due() -> datetime | None:
    """When the next event not applied yet is due (a retry's back-off), if any."""
    return (
        StripeWebhookEvent.objects.filter(
            status__in=[StripeWebhookEvent.Status.PENDING, StripeWebhookEvent.Status.FAILED],
            next_attempt_at__isnull=False,
        )
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def _webhook_event_finish(
    row: StripeWebhookEvent, outcome: str, payment: Payment | None, force: bool
) -> StripeWebhookEvent:
    """Record an outcome reached without the event's lock (ignored, unmatched): take it now."""
    with transaction.atomic():
        status_before = _lock_event(row.pk)
        if status_before in _DONE and not force:
            row.status = status_before
            return row
        return _finish_locked(row, status_before, outcome, payment, force)


def _finish_locked(
    row: StripeWebhookEvent,
    status_before: str,
    outcome: str,
    payment: Payment | None,
    force: bool,
) -> StripeWebhookEvent:
    """Record an event's outcome, its row locked by the caller's transaction: one UPDATE of the
    outcome's columns (never the payload), no savepoint."""
    changes: dict[str, Any] = {
        "status": outcome,
        "processed": True,
        "processed_at": timezone.now(),
        "processing_error": "",
        "next_attempt_at": None,
    }
    if payment is not None:
        changes["payment"] = payment
    StripeWebhookEvent.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, **changes)
    for name, value in changes.items():
        setattr(row, name, value)
    row.attempts += 1
    if force:  # a replay: its audit entry, in the transaction that records its outcome
        _audit_replay(row, status_before, outcome)
    return row


def webhook_event_replay(*, event_id: int) -> StripeWebhookEvent:
    """Apply a recorded event again (an operator's replay; safe, since applying is idempotent).
    Each replay is on the audit trail: who (the request's user, or the command), the event, its
    status before -> after, in the transaction that records the outcome."""
    return webhook_event_process(event_id=event_id, force=True)


def _audit_replay(row: StripeWebhookEvent, before: str, after: str, error: str = "") -> None:
    outcome = f"failed again: {error}" if error else after
    audit_record(
        action=AuditEntry.Action.WEBHOOK_REPLAYED,
        summary=f"Webhook event {row.stripe_event_id} ({row.event_type}) replayed: {outcome}",
        object_type="webhook_event",
        object_id=row.stripe_event_id,
        payment_id=row.payment_id,
        before={"status": before},
        after={"status": after, **({"processing_error": error} if error else {})},
    )
