"""Refund: hold the amount, send it to Stripe once, and settle every unknown outcome by asking.

The life of a refund of ours:

1. `refund_create` checks the amount under the payment's row lock and writes a pending refund
   that holds it (`Payment.amount_refunded`; a check constraint keeps the total within the
   payment), stamped `sent_at` before anything is sent. That commits; then `_refund_send` asks
   Stripe, with `refund-<id>` as idempotency key and our id in the refund's metadata. A refund
   at or above its currency's PAYMENTS_REFUND_APPROVAL_THRESHOLD is written awaiting approval
   instead, holding its amount with nothing sent, until a second person approves it (then it is
   sent exactly so) or rejects it (services.approvals).
2. Stripe's answer is classified once, by payments.stripe_client: made (a refund object),
   refused (Stripe said no and no attempt can have acted: the refund fails and the amount is
   free again), unsent (nothing ran at Stripe) or unknown (an attempt may have acted). Unsent and
   unknown keep the refund pending with its amount held, and `last_send_error` says why.
3. `refund_settle` is the one path that sends a refund again, used by a retried request, the
   back-office's "refresh from Stripe", reconcile and the sweep (`refunds_settle_unanswered`).
   Once no send can still be in flight it lists the PaymentIntent's refunds at Stripe first and
   matches ours by the id in their metadata (which holds beyond Stripe's 24-hour idempotency
   window); only if Stripe has none does it send again, with the same key.

A refund's status only moves forward (services.transitions): whichever path hears Stripe first,
a later, older answer never undoes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from payments import money, stripe_client
from payments.models import Payment, Refund
from payments.services import transitions
from payments.services.common import (
    from_timestamp,
    idempotency_key,
    in_flight_window,
    lock_payment,
    plain,
)
from payments.services.disputes import refund_blocked_by_dispute
from payments.services.errors import (
    RefundAmountInvalid,
    RefundExceedsRemaining,
    RefundNotAllowed,
    RefundPending,
    RefundRefused,
    RefundRejected,
    RefundStale,
    RefundStillWaiting,
    RefundTokenReused,
)
from payments.stripe_client import Outcome, PaymentProviderError
from shop.models import CustomUser

logger = logging.getLogger(__name__)

# Stripe's own reasons; "other" is ours alone, sent without a reason.
_STRIPE_REASONS: dict[str, stripe_client.RefundReason] = {
    "requested_by_customer": "requested_by_customer",
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
}


# --- Asking for a refund ----------------------------------------------------------------------


def refund_create(
    *,
    payment_id: int,
    amount: Decimal | str | None,
    reason: str,
    description: str = "",
    created_by: CustomUser | None,
    request_token: str | None = None,
    expected_amount_refunded: Decimal | None = None,
) -> Refund:
    """Refund `amount` of a payment (None: all that remains) and return the refund Stripe made.

    Safe against double clicks, two tabs, two finance users at once and retries: the amount is
    checked and held under the payment's row lock; with `expected_amount_refunded` (what the
    person saw when reviewing) any refund made since is a `RefundStale`; the same
    `request_token` from the same person answers as the first request did (settling it with
    Stripe first if its outcome was never known), while the same token for a different refund is
    a `RefundTokenReused`; and the same refund asked again without the token while the first
    still waits for Stripe is a `RefundStillWaiting`.

    Raises `RefundRefused` (nothing was refunded, the refund is on record as failed),
    `RefundPending` (Stripe's answer is not known: the refund stays pending, its amount held) and
    the other `RefundError`s.

    A refund at or above its currency's PAYMENTS_REFUND_APPROVAL_THRESHOLD is held and returned
    awaiting approval, with nothing sent (services.approvals sends it once approved).
    """
    if reason not in Refund.Reason.values:
        raise RefundAmountInvalid(f"Unknown refund reason {reason!r}.")
    with transaction.atomic():
        payment = lock_payment(payment_id=payment_id)
        # Looked up under the lock: a concurrent twin has either committed or not started.
        first = (
            Refund.objects.filter(created_by=created_by, request_token=request_token).first()
            if request_token
            else None
        )
        if first is None:
            refund = _refund_reserve(
                payment,
                amount=amount,
                reason=reason,
                description=description,
                created_by=created_by,
                request_token=request_token,
                expected_amount_refunded=expected_amount_refunded,
            )
            _audit_requested(refund, payment, created_by)
        else:
            _check_same_refund(first, payment, amount, reason)
    if first is not None:
        _wait_for_a_send_under_way(first.pk)
        return refund_answer(refund_settle(refund_id=first.pk, actor=created_by))
    if refund.status == Refund.Status.AWAITING_APPROVAL:
        return refund  # held, and sent only once a second person approves (services.approvals)
    return refund_answer(_refund_send(refund.pk, actor=created_by))


def _audit_requested(refund: Refund, payment: Payment, created_by: CustomUser | None) -> None:
    amount = money.format_amount(refund.amount, payment.currency)
    awaiting = refund.status == Refund.Status.AWAITING_APPROVAL
    audit_record(
        action=AuditEntry.Action.REFUND_REQUESTED,
        summary=f"Refund #{refund.pk} of {amount} requested"
        + (", awaiting approval by a second person" if awaiting else ""),
        object_type="refund",
        object_id=refund.pk,
        payment_id=payment.pk,
        actor=created_by,
        before={},
        after={
            "status": refund.status,
            "amount": str(refund.amount),
            "currency": payment.currency,
            "reason": refund.reason,
            "description": refund.description,
        },
    )


# An identical refund (same caller, payment, amount and reason) asked for again without a token
# within this long is taken for a blind retry, and refused with the first refund's number.
REPEAT_WINDOW = timedelta(minutes=10)

# How long a repeated request (a double click) waits for the first one's send to come back.
REPEAT_WAIT_SECONDS = 5.0


def _wait_for_a_send_under_way(refund_id: int) -> None:
    """A second click while the first request is still talking to Stripe: wait a moment for its
    outcome, so that the second answers what happened rather than "not known yet"."""
    deadline = time.monotonic() + REPEAT_WAIT_SECONDS
    while time.monotonic() < deadline:
        refund = Refund.objects.get(pk=refund_id)
        under_way = (
            refund.is_unanswered
            and refund.sent_at is not None
            and not refund.last_send_error  # no outcome recorded for the latest send yet
            and refund.sent_at > timezone.now() - in_flight_window()
        )
        if not under_way:
            return
        time.sleep(0.1)


def refund_answer(refund: Refund) -> Refund:
    """What asking for this refund comes to: the refund if Stripe made it; `RefundRefused` if it
    was not made; `RefundPending` while Stripe's answer is not known. A repeated request gets the
    same answer as the first, once the first's outcome is known."""
    amount = money.format_amount(refund.amount, refund.payment.currency)
    if refund.stripe_refund_id or refund.status == Refund.Status.AWAITING_APPROVAL:
        return refund
    if refund.status == Refund.Status.REJECTED:
        who = refund.rejected_by.email if refund.rejected_by else "a second person"
        raise RefundRejected(
            f"Refund #{refund.pk} of {amount} was rejected by {who}: "
            f"{(refund.failure_reason or 'no reason given').rstrip('.')}. Nothing was refunded.",
            refund=refund,
        )
    if refund.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
        raise RefundRefused(
            f"Refund #{refund.pk} of {amount} was not made: {refund.failure_reason} "
            "Nothing was refunded.",
            refund=refund,
        )
    raise RefundPending(
        f"Stripe has not confirmed refund #{refund.pk} of {amount} "
        f"({refund.last_send_error or 'no answer yet'}). It stays pending, holding that amount, "
        "until Stripe's answer is known. Retrying this same request (the same Idempotency-Key) "
        "or refreshing the payment asks Stripe and never refunds twice. Do not refund again: "
        "the same refund asked for anew is refused while this one waits, and for 10 minutes "
        "after.",
        refund=refund,
    )


def _refund_reserve(
    payment: Payment,
    *,
    amount: Decimal | str | None,
    reason: str,
    description: str,
    created_by: CustomUser | None,
    request_token: str | None,
    expected_amount_refunded: Decimal | None,
) -> Refund:
    """Check and hold the amount of a new refund on a locked payment."""
    if payment.status not in Payment.REFUNDABLE_STATUSES:
        raise RefundNotAllowed(
            f"Payment #{payment.pk} is {payment.get_status_display().lower()}; "
            "only a paid payment can be refunded."
        )
    dispute = refund_blocked_by_dispute(payment)
    if dispute is not None:
        raise RefundNotAllowed(
            f"Payment #{payment.pk} is disputed ({dispute.reason.replace('_', ' ')}, "
            f"{dispute.get_status_display().lower()}): Stripe refuses to refund a disputed "
            "charge. Answer or accept the dispute instead."
        )
    if expected_amount_refunded is not None and payment.amount_refunded != expected_amount_refunded:
        raise RefundStale(
            f"Payment #{payment.pk} changed since this refund was reviewed: "
            f"{money.format_amount(payment.amount_refunded, payment.currency)} is now refunded "
            "or pending. Review the refund again."
        )
    remaining = payment.amount - payment.amount_refunded
    value = None if amount is None or amount == "" else _refund_amount(amount, payment.currency)
    if not request_token:  # with a token, a retry is known by it; another token, another refund
        _refuse_a_twin_of_a_waiting_refund(payment, value, reason, created_by)
    if remaining <= 0:
        raise RefundNotAllowed(f"Payment #{payment.pk} is already fully refunded.")
    value = remaining if value is None else value
    if value > remaining:
        raise RefundExceedsRemaining(
            f"Only {money.format_amount(remaining, payment.currency)} of "
            f"{payment.amount_display} remains refundable."
        )
    threshold = settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD.get(payment.currency)
    awaiting = transitions.refund_needs_approval(value, threshold)
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                payment=payment,
                amount=value,
                # Awaiting a second person: held, and nothing may be in flight.
                status=Refund.Status.AWAITING_APPROVAL if awaiting else Refund.Status.PENDING,
                reason=reason,
                description=description,
                created_by=created_by,
                request_token=request_token or None,
                # From here on a send may be in flight (never for one awaiting approval).
                sent_at=None if awaiting else timezone.now(),
                send_count=0 if awaiting else 1,
            )
    except IntegrityError:
        raise RefundTokenReused("This refund request was already submitted.") from None
    _refund_totals_update(payment)
    return refund


def _refuse_a_twin_of_a_waiting_refund(
    payment: Payment, amount: Decimal | None, reason: str, created_by: CustomUser | None
) -> None:
    """The same refund asked for again without a token (a retry that cannot say it is one) while
    Stripe has not answered the first, or while the first awaits approval: sending it would
    refund twice if the first was made (or is approved)."""
    pending = Refund.UNANSWERED | Q(status=Refund.Status.AWAITING_APPROVAL)
    if amount is not None:
        # Settled since, for the same amount: a caller who got "not known yet" and retries
        # blindly must not refund twice because Stripe's answer arrived in between.
        recently = timezone.now() - REPEAT_WINDOW
        pending |= Q(status__in=Refund.COUNTED_STATUSES, created_at__gte=recently)
    waiting = payment.refunds.filter(pending, created_by=created_by, reason=reason)
    if amount is not None:
        waiting = waiting.filter(amount=amount)
    twin = waiting.order_by("created_at", "pk").first()
    if twin is None:
        return
    held = money.format_amount(twin.amount, payment.currency)
    if not twin.is_unanswered and twin.status != Refund.Status.AWAITING_APPROVAL:
        minutes = int(REPEAT_WINDOW.total_seconds() // 60)
        raise RefundStillWaiting(
            f"Refund #{twin.pk} of {held} was asked for moments ago and is "
            f"{twin.get_status_display().lower()}. The same refund asked for again within "
            f"{minutes} minutes without an Idempotency-Key is taken for a retry and refused; to "
            "refund the same amount again, send a new Idempotency-Key.",
            refund=twin,
        )
    if twin.status == Refund.Status.AWAITING_APPROVAL:
        raise RefundStillWaiting(
            f"Refund #{twin.pk} of {held} awaits approval by a second person and holds that "
            "amount. Do not refund again: it is sent once approved.",
            refund=twin,
        )
    raise RefundStillWaiting(
        f"Refund #{twin.pk} of {held} is still "
        "waiting for Stripe's answer and holds that amount. Refresh the payment to ask Stripe "
        "about it before refunding again.",
        refund=twin,
    )


def _check_same_refund(
    first: Refund, payment: Payment, amount: Decimal | str | None, reason: str
) -> None:
    """A reused request token must name the same refund, or it is a mistake, not a retry."""
    same_amount = amount is None or amount == "" or _same_amount(amount, first.amount, payment)
    if first.payment_id != payment.pk or first.reason != reason or not same_amount:
        raise RefundTokenReused(
            f"This request token was already used for refund #{first.pk} "
            f"(payment #{first.payment_id}); use a new one for a different refund."
        )


def _same_amount(amount: Decimal | str, held: Decimal, payment: Payment) -> bool:
    try:
        return money.to_decimal(amount, payment.currency) == held
    except money.InvalidAmount:
        return False


def _refund_amount(amount: Decimal | str, currency: str) -> Decimal:
    try:
        value = money.to_decimal(amount, currency)
        money.to_minor_units(value, currency)  # e.g. KWD must end in 0 at Stripe
    except money.InvalidAmount as exc:
        raise RefundAmountInvalid(str(exc)) from exc
    if value <= 0:
        raise RefundAmountInvalid("The refund amount must be more than zero.")
    return value


# --- Sending, and what Stripe's answer means ------------------------------------------------------


def _refund_send(refund_id: int, *, actor: CustomUser | None = None) -> Refund:
    """Ask Stripe for a refund already held in our books, and record the outcome (and, in the
    same transaction, the audit trail's "sent" entry, by `actor`: None for a job).

    Called only when no earlier send of this refund can have acted: its first send (on asking,
    or on approval), or after Stripe's list of the PaymentIntent's refunds showed it absent with
    nothing in flight (`refund_settle`). That is what lets a refusal here free the amount.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    payment = refund.payment
    try:
        answer = stripe_client.refund_create(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount=refund.amount,
            currency=payment.currency,
            reason=_STRIPE_REASONS.get(refund.reason),
            metadata={
                "refund_id": str(refund.pk),
                "payment_id": str(payment.pk),
                "order_id": str(payment.order_id),
                "reason": refund.reason,
            },
            idempotency_key=idempotency_key("refund", refund.pk),
        )
    except PaymentProviderError as exc:
        return _record_unsuccessful_send(refund_id, exc, actor=actor)
    with transaction.atomic():
        locked = lock_payment(payment_id=payment.pk)
        before = Refund.objects.values_list("status", flat=True).get(pk=refund_id)
        refunds_apply(locked, [answer])
        sent = Refund.objects.select_related("payment").get(pk=refund_id)
        _audit_sent(sent, before=before, outcome="made", actor=actor)
    return sent


def _audit_sent(refund: Refund, *, before: str, outcome: str, actor: CustomUser | None) -> None:
    amount = money.format_amount(refund.amount, refund.payment.currency)
    audit_record(
        action=AuditEntry.Action.REFUND_SENT,
        summary=f"Refund #{refund.pk} of {amount} sent to Stripe ({outcome}): "
        f"{before} -> {refund.status}",
        object_type="refund",
        object_id=refund.pk,
        payment_id=refund.payment_id,
        actor=actor,
        before={"status": before},
        after={
            "status": refund.status,
            "outcome": outcome,
            "stripe_refund_id": refund.stripe_refund_id or "",
            "send_count": refund.send_count,
            "failure_reason": refund.failure_reason,
            "last_send_error": refund.last_send_error,
        },
    )


def _record_unsuccessful_send(
    refund_id: int, exc: PaymentProviderError, *, actor: CustomUser | None = None
) -> Refund:
    """Record a send that did not come back with a refund, by what it may have done."""
    with transaction.atomic():
        payment = lock_payment(
            payment_id=Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
        )
        refund = Refund.objects.select_related("payment").get(pk=refund_id)
        before = refund.status
        if not refund.is_unanswered:
            # Stripe's answer arrived another way (the webhook): it stands.
            _audit_sent(refund, before=before, outcome=exc.outcome, actor=actor)
            return refund
        if exc.outcome == Outcome.REFUSED:
            refund.status = Refund.Status.FAILED
            refund.failure_reason = _refusal_reason(exc)
            refund.last_send_error = ""
            refund.sent_at = None
            refund.save(update_fields=["status", "failure_reason", "last_send_error", "sent_at"])
            _refund_totals_update(payment)
            logger.warning("refund %s refused by Stripe: %s", refund.pk, exc)
        else:
            refund.last_send_error = _unanswered_reason(exc)
            if exc.outcome == Outcome.UNSENT:
                refund.sent_at = None  # nothing can be in flight: it may be sent again at once
            refund.save(update_fields=["last_send_error", "sent_at", "updated_at"])
            logger.warning(
                "refund %s: Stripe's answer unknown (%s): %s", refund.pk, exc.outcome, exc
            )
        _audit_sent(refund, before=before, outcome=exc.outcome, actor=actor)
        return refund


def _refusal_reason(exc: PaymentProviderError) -> str:
    if isinstance(exc, stripe_client.IdempotencyConflict):
        # Same key, other parameters: another database shares this Stripe account with the same
        # keys. A person must look; a new refund from this database could collide again.
        return (
            "Stripe refused its idempotency key, which was already used for a different request: "
            "most likely another database sharing this Stripe account without its own "
            "STRIPE_IDEMPOTENCY_PREFIX. Needs a person to check Stripe and the settings."
        )
    if exc.code == "resource_missing":
        return f"Not found at Stripe ({exc.stripe_message})."
    return f"Stripe refused it: {exc.stripe_message}".rstrip(".") + "."


def _unanswered_reason(exc: PaymentProviderError) -> str:
    if exc.outcome == Outcome.UNSENT:
        return f"Stripe could not be asked ({type(exc).__name__}); nothing was sent"
    return f"no answer from Stripe ({type(exc).__name__}); it may have been made"


# --- Settling: the one path that sends a refund again ---------------------------------------------


def refund_settle(*, refund_id: int, actor: CustomUser | None = None) -> Refund:
    """Find out what became of a refund Stripe has not confirmed, and send it if it was not made.

    Does nothing while a send of it may still be in flight (Stripe may yet act on it). Otherwise
    claims it (so that a concurrent settler leaves it alone), lists the PaymentIntent's refunds at
    Stripe and records them (ours is matched by the id in its metadata); if Stripe still has no
    refund of ours, sends it again with the same idempotency key. Returns the refund as it now is.
    `actor`: who asked (None for a job), for the audit trail's entry of a send.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if not refund.is_unanswered:
        return refund
    now = timezone.now()
    claimed = (
        Refund.objects.filter(Refund.UNANSWERED, pk=refund_id)
        .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=now - in_flight_window()))
        .update(sent_at=now, last_send_error="")
    )
    if not claimed:
        return refund  # a send may still be on its way: Stripe's answer or the webhook decides
    try:
        at_stripe = stripe_client.refund_list(
            payment_intent_id=refund.payment.stripe_payment_intent_id
        )
    except PaymentProviderError as exc:
        # Only a read failed: nothing was sent, so nothing can be in flight.
        Refund.objects.filter(pk=refund_id).update(
            sent_at=None, last_send_error=_unanswered_reason(exc), updated_at=timezone.now()
        )
        return Refund.objects.select_related("payment").get(pk=refund_id)
    with transaction.atomic():
        refunds_apply(lock_payment(payment_id=refund.payment_id), at_stripe)
    refund = Refund.objects.select_related("payment").get(pk=refund_id)
    if not refund.is_unanswered:
        return refund  # Stripe had it (or Stripe's refunds leave no room for it)
    Refund.objects.filter(pk=refund_id).update(send_count=F("send_count") + 1)
    logger.info("refund %s: not at Stripe, sending it again (same key)", refund_id)
    return _refund_send(refund_id, actor=actor)


def refunds_settle_unanswered(*, now: datetime | None = None) -> tuple[list[str], list[str]]:
    """The sweep: settle every refund Stripe has not confirmed and no send of which can still be
    in flight, whatever the payment's age. Returns a line per refund settled or sent, and a line
    per refund that is still waiting (Stripe failing again); safe to run twice at once."""
    cutoff = (now or timezone.now()) - in_flight_window()
    due = (
        Refund.objects.filter(Refund.UNANSWERED)
        .filter(Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff))
        .order_by("created_at", "pk")
        .values_list("pk", "payment_id", "payment__amount_refunded", "payment__currency")
    )
    settled, waiting = [], []
    # Per payment, the refunds settled and its amount refunded, before and after: the run's
    # audit entry (a run that settled nothing records nothing: beat sweeps every minute).
    before: dict[str, dict[str, Any]] = {}
    after: dict[str, dict[str, Any]] = {}
    for refund_id, payment_id, amount_refunded, currency in list(due):
        try:
            refund = refund_settle(refund_id=refund_id)
        except Exception as exc:  # one refund's trouble must not stop the sweep
            logger.exception("sweep: refund %s could not be settled", refund_id)
            waiting.append(f"refund #{refund_id}: not settled: {type(exc).__name__}: {exc}")
            continue
        if refund.is_unanswered:
            waiting.append(f"refund #{refund.pk}: still waiting: {refund.last_send_error}")
        else:
            settled.append(
                f"refund #{refund.pk} of payment #{refund.payment_id}: pending -> "
                f"{refund.status} ({refund.stripe_refund_id or refund.failure_reason})"
            )
            held_then = str(money.to_decimal(amount_refunded, currency))
            held_now = str(money.to_decimal(refund.payment.amount_refunded, currency))
            prior = before.setdefault(
                str(payment_id), {"amount_refunded": held_then, "refunds": {}}
            )
            prior["refunds"][str(refund_id)] = {"status": Refund.Status.PENDING}
            current = after.setdefault(str(payment_id), {"refunds": {}})
            current["amount_refunded"] = held_now
            current["refunds"][str(refund_id)] = {
                "status": refund.status,
                "stripe_refund_id": refund.stripe_refund_id or "",
                "failure_reason": refund.failure_reason or "",
            }
    if settled:
        audit_record(
            action=AuditEntry.Action.SWEEP_RUN,
            summary="\n".join(
                [
                    f"Refund sweep: {len(settled)} settled, {len(waiting)} still waiting",
                    *settled,
                    *waiting,
                ]
            ),
            object_type="job",
            object_id="refund_sweep",
            before={"payments": before},
            after={"payments": after},
        )
    return settled, waiting


# --- Recording what Stripe holds ------------------------------------------------------------------


# What refunds_apply writes on a refund already recorded.
_STRIPE_FACT_FIELDS = [
    "stripe_refund_id",
    "amount",
    "status",
    "failure_reason",
    "last_send_error",
    "sent_at",
    "updated_at",
]


def refunds_apply(
    payment: Payment, stripe_refunds: Iterable[Any], *, unsaved: Iterable[str] = ()
) -> list[Refund]:
    """Record refunds as Stripe holds them, for a locked payment; returns the rows touched.

    Matches by Stripe id, then by the local id we put in the refund's metadata (a refund whose
    creation answer we never recorded); anything else was made outside the app (Stripe's
    Dashboard) and is added. Then recomputes what has been refunded. `unsaved` names payment
    fields the caller changed and has not saved: they go in the same UPDATE as the totals.
    """
    touched = []
    for item in stripe_refunds:
        facts = plain(item)
        refund = Refund.objects.filter(stripe_refund_id=facts["id"]).first()
        local_id = str((facts.get("metadata") or {}).get("refund_id") or "")
        if refund is None and local_id.isdigit():
            # Never one awaiting approval or rejected: those were never sent.
            refund = (
                Refund.objects.filter(pk=int(local_id), payment=payment, stripe_refund_id=None)
                .exclude(status__in=[Refund.Status.AWAITING_APPROVAL, Refund.Status.REJECTED])
                .first()
            )
        heard_before = refund is not None and refund.stripe_refund_id is not None
        if refund is None:
            refund = Refund(
                payment=payment,
                reason=str(facts.get("reason") or "")
                if facts.get("reason") in _STRIPE_REASONS
                else "",
                description="Refunded outside the app",
                created_at=from_timestamp(facts.get("created")) or timezone.now(),
            )
        if refund.payment_id != payment.pk:
            logger.warning("refund %s belongs to another payment; not applied", facts["id"])
            continue
        refund.stripe_refund_id = facts["id"]
        refund.amount = money.from_minor_units(facts["amount"], payment.currency)
        refund.status = transitions.refund_after(
            refund.status, str(facts["status"]), heard_before=heard_before
        )
        if refund.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
            refund.failure_reason = (
                facts.get("failure_reason") or refund.failure_reason or "Stripe reported it failed."
            )
        else:
            refund.failure_reason = ""
        refund.last_send_error = ""
        refund.sent_at = None
        if refund.pk is None:
            refund.save()
        else:  # what Stripe's facts set, never the rest of a row another writer may hold
            refund.save(update_fields=_STRIPE_FACT_FIELDS)
        touched.append(refund)
    _refund_totals_update(payment, unsaved=unsaved)
    return touched


def _refund_totals_update(payment: Payment, *, unsaved: Iterable[str] = ()) -> None:
    """Derive `amount_refunded` and the refund status from the refund rows (payment locked),
    and save them with the `unsaved` fields, in one UPDATE; none if nothing changed (a copy of
    what is known writes no payment row).

    An unanswered refund that Stripe's reported refunds leave no room for
    (transitions.refunds_without_room) is not freed, since only Stripe can say whether it was
    made; it stays pending for the sweep to settle, and counts in the books once it fits.
    """
    rows = list(
        payment.refunds.filter(status__in=Refund.COUNTED_STATUSES)
        .order_by("created_at", "pk")
        .values_list("pk", "amount", "stripe_refund_id", "status")
    )
    awaiting_status = Refund.Status.AWAITING_APPROVAL
    known = sum((amount for _, amount, stripe_id, _ in rows if stripe_id), Decimal("0"))
    unanswered = [
        transitions.Unanswered(pk, amount)
        for pk, amount, stripe_id, status in rows
        if not stripe_id and status != awaiting_status
    ]
    without_room = transitions.refunds_without_room(payment.amount, known, unanswered)
    if without_room:
        # Not freed: Stripe may have made it (a refund we count may have failed there since).
        # The sweep asks Stripe; until then the books count it only once it fits.
        Refund.objects.filter(Refund.UNANSWERED, pk__in=without_room).update(
            last_send_error="Stripe's refunds of this payment leave no room for it beside them; "
            "it stays pending until Stripe says whether it was made",
            updated_at=timezone.now(),
        )
        logger.warning(
            "payment %s: refunds %s have no room beside Stripe's; held until settled",
            payment.pk,
            without_room,
        )
    sent = known + sum(
        (u.amount for u in unanswered if u.refund_id not in without_room), Decimal("0")
    )
    # Refunds awaiting approval hold their amount in the room left (oldest first). Only refunds
    # made outside the app (Stripe's Dashboard) can take that room meanwhile: one that no longer
    # fits can never be made, and is rejected, by no one, freeing its amount.
    awaiting = [
        transitions.Unanswered(pk, amount)
        for pk, amount, _, status in rows
        if status == awaiting_status
    ]
    no_room = transitions.refunds_without_room(payment.amount, sent, awaiting)
    if no_room:
        Refund.objects.filter(pk__in=no_room, status=awaiting_status).update(
            status=Refund.Status.REJECTED,
            failure_reason="The payment was refunded meanwhile and no longer has room for it.",
            rejected_at=timezone.now(),
            updated_at=timezone.now(),
        )
        logger.warning("payment %s: awaiting refunds %s no longer fit", payment.pk, no_room)
        for refund_id in no_room:
            audit_record(
                action=AuditEntry.Action.REFUND_REJECTED,
                summary=f"Refund #{refund_id} rejected: the payment was refunded meanwhile",
                object_type="refund",
                object_id=refund_id,
                payment_id=payment.pk,
                before={"status": awaiting_status},
                after={"status": Refund.Status.REJECTED},
            )
    held = sum((a.amount for a in awaiting if a.refund_id not in no_room), Decimal("0"))
    totals_before = (payment.amount_refunded, payment.status)
    payment.amount_refunded = sent + held
    # The status follows what was sent: a refund awaiting approval is not (yet) at Stripe.
    payment.status = transitions.payment_status_with_refunds(payment.status, payment.amount, sent)
    changed = [
        name
        for name, value in zip(("amount_refunded", "status"), totals_before, strict=True)
        if getattr(payment, name) != value
    ]
    changed += [name for name in unsaved if name not in changed and name != "updated_at"]
    if changed:
        payment.save(update_fields=[*changed, "updated_at"])
