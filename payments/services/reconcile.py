"""Repair: bring payments and refunds up to date with Stripe, when webhooks were missed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from payments import money, stripe_client
from payments.models import Dispute, Payment, Refund
from payments.services import transitions
from payments.services.common import lock_payment, plain
from payments.services.disputes import dispute_apply, dispute_payment_id
from payments.services.intents import payment_record_intent
from payments.services.refunds import refund_settle, refunds_apply

logger = logging.getLogger(__name__)


def payment_sync_from_stripe(
    *,
    payment_id: int,
    intent: Any = None,
    observed_at: datetime | None = None,
    settle_refunds: bool = False,
    with_disputes: bool = False,
) -> Payment:
    """Fetch the payment's PaymentIntent and refunds (`with_disputes`: and disputes) from Stripe
    and record what they say.

    `intent`, when given, is the payment's PaymentIntent listed from Stripe at `observed_at`.
    With `settle_refunds` (finance's refresh, reconcile; never a customer's status check), each
    refund Stripe has not confirmed is settled (`refunds.refund_settle`): found at Stripe, or sent
    again with its own idempotency key, never twice.
    """
    payment = Payment.objects.get(pk=payment_id)
    intent_id = payment.stripe_payment_intent_id
    if intent is None:
        observed_at = timezone.now()  # before asking: the facts are at least this fresh
        intent = stripe_client.payment_intent_retrieve(intent_id)
    payment_record_intent(intent, observed_at=observed_at or timezone.now())
    payment.refresh_from_db(fields=["status"])
    if payment.status in transitions.PAID:
        # What Stripe holds first: a refund it made whose answer we missed is matched by the
        # local id in its metadata, and is then not sent again.
        refunds = stripe_client.refund_list(payment_intent_id=intent_id)
        with transaction.atomic():
            refunds_apply(lock_payment(payment_id=payment_id), refunds)
        if settle_refunds:
            for refund_id in payment.refunds.filter(Refund.UNANSWERED).values_list("pk", flat=True):
                refund_settle(refund_id=refund_id)
        if with_disputes:
            disputes_record(list(stripe_client.dispute_list(payment_intent_id=intent_id)))
    return Payment.objects.select_related("order", "user").get(pk=payment_id)


def disputes_record(disputes: Iterable[Any], *, observed_at: datetime | None = None) -> int:
    """Record disputes listed from Stripe (a missed charge.dispute.* event repaired) on their
    payments; returns how many were ours. Each under its payment's lock, like the events."""
    ours = 0
    for item in disputes:
        obj = plain(item)
        payment_id = dispute_payment_id(obj)
        if payment_id is None:
            continue  # not ours
        ours += 1
        with transaction.atomic():
            dispute_apply(
                lock_payment(payment_id=payment_id), obj, observed_at=observed_at or timezone.now()
            )
    return ours


def payment_status_check(*, payment_id: int, just_confirmed: bool = False) -> Payment:
    """A customer's status check: the database's answer, unless the payment is not final and was
    last synced from Stripe longer ago than PAYMENTS_STATUS_FRESH_SECONDS (or, `just_confirmed`,
    the customer has just confirmed it in the browser: the API's confirm, called once after
    Stripe.js). Then one Stripe call, shared by the checks that arrive meanwhile (they wait for
    its answer), so polling customers do not spend the rate budget refunds need. Never settles
    refunds (that is finance's and the sweep's)."""
    asked_at = timezone.now()
    fresh_for = 0.0 if just_confirmed else float(settings.PAYMENTS_STATUS_FRESH_SECONDS)

    def current() -> Payment | None:
        payment = Payment.objects.select_related("order", "user").get(pk=payment_id)
        if payment.status in (*transitions.PAID, transitions.CANCELLED):
            return payment
        synced = payment.stripe_synced_at
        return (
            payment
            if synced is not None and synced > asked_at - timedelta(seconds=fresh_for)
            else None
        )

    answer = current()
    if answer is not None:
        return answer
    key = f"payments:status-sync:{payment_id}"
    wait = stripe_client.worst_case_seconds() + 1
    if cache.add(key, 1, timeout=wait):
        try:
            # Another check may have asked Stripe between our read and our turn.
            return current() or payment_sync_from_stripe(payment_id=payment_id)
        finally:
            cache.delete(key)
    deadline = time.monotonic() + wait
    while cache.get(key) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    return Payment.objects.select_related("order", "user").get(pk=payment_id)


def _books(payment: Payment) -> dict[str, Any]:
    """A payment's books as the audit trail records them, before and after (JSON)."""
    refunds = payment.refunds.order_by("pk").values_list("pk", "stripe_refund_id", "status")
    return {
        "status": payment.status,
        "amount_refunded": str(money.to_decimal(payment.amount_refunded, payment.currency)),
        "stripe_charge_id": payment.stripe_charge_id or "",
        "dispute_status": payment.dispute_status,
        "refunds": {
            str(pk): {"status": status, "stripe_refund_id": stripe_id or ""}
            for pk, stripe_id, status in refunds
        },
    }


def _books_line(before: dict[str, Any], after: dict[str, Any], currency: str) -> str:
    return (
        f"{before['status']} -> {after['status']}, "
        f"refunded {before['amount_refunded']} -> {after['amount_refunded']} {currency}, "
        f"refunds {len(before['refunds'])} -> {len(after['refunds'])}"
    )


def payment_refresh_from_stripe(*, payment_id: int, settle_refunds: bool = False) -> Payment:
    """A person's "refresh from Stripe": `payment_sync_from_stripe`, then an audit entry with
    the payment's books before -> after (who and from where: the request being served).

    The sync commits in steps around its Stripe calls (no transaction is held across one), so
    the entry follows its last step. A refresh that fails is recorded only if it changed
    something before failing."""
    payment = Payment.objects.get(pk=payment_id)
    before = _books(payment)
    try:
        payment = payment_sync_from_stripe(
            payment_id=payment_id, settle_refunds=settle_refunds, with_disputes=True
        )
    except Exception as exc:
        after = _books(Payment.objects.get(pk=payment_id))
        if after != before:
            _audit_refresh(payment, before, after, failure=f"{type(exc).__name__}: {exc}")
        raise
    _audit_refresh(payment, before, _books(payment))
    return payment


def _audit_refresh(
    payment: Payment, before: dict[str, Any], after: dict[str, Any], failure: str = ""
) -> None:
    changed = _books_line(before, after, payment.currency) if after != before else "no change"
    summary = f"Payment #{payment.pk} refreshed from Stripe: {changed}"
    audit_record(
        action=AuditEntry.Action.PAYMENT_REFRESHED,
        summary=f"{summary} (then failed: {failure})" if failure else summary,
        object_type="payment",
        object_id=payment.pk,
        payment_id=payment.pk,
        before=before,
        after=after,
    )


def _reconcile_disputes(
    since: datetime,
    started: datetime,
    changes: list[str],
    changed_before: dict[str, Any],
    changed_after: dict[str, Any],
) -> None:
    """Disputes created since `since`, and every dispute of ours still open (their news may be
    what was missed), as Stripe now has them."""
    open_ids = Dispute.objects.exclude(status__in=Dispute.FINAL_STATUSES).values_list(
        "stripe_dispute_id", flat=True
    )
    listed = list(stripe_client.dispute_list(created_gte=since))
    known = {plain(d)["id"] for d in listed}
    listed += [stripe_client.dispute_retrieve(dp) for dp in open_ids if dp not in known]
    touched = {pid for d in listed if (pid := dispute_payment_id(plain(d))) is not None}
    snapshot = {p.pk: _books(p) for p in Payment.objects.filter(pk__in=touched)}
    disputes_record(listed, observed_at=started)
    for payment in Payment.objects.filter(pk__in=touched):
        pk, was, now = payment.pk, snapshot[payment.pk], _books(payment)
        if now != was and str(pk) not in changed_after:
            changes.append(
                f"payment #{pk} ({payment.stripe_payment_intent_id}): dispute "
                f"{was['dispute_status'] or 'none'} -> {now['dispute_status']}"
            )
            changed_before[str(pk)] = was
            changed_after[str(pk)] = now


def payments_reconcile(
    *, since: datetime, progress: Any = None
) -> tuple[int, list[str], list[str]]:
    """Repair what missed webhooks left stale: every PaymentIntent created since `since`, and
    every payment with a refund created since then (Dashboard refunds on older payments).

    Returns how many of ours were checked, a line per payment that changed, and a line per
    payment that could not be checked (the others are still done). Running it again right after
    changes nothing, since the same facts give the same state.
    """
    started = timezone.now()  # what is listed from here on is at least this fresh
    checked, changes, errors = 0, [], []
    seen: set[str] = set()
    # Per changed payment, its books before and after: the run's audit entry.
    changed_before: dict[str, Any] = {}
    changed_after: dict[str, Any] = {}

    def check(intent_id: str, intent: Any = None) -> None:
        nonlocal checked
        if progress is not None:
            progress()
        if intent_id in seen:
            return
        seen.add(intent_id)
        payment = Payment.objects.filter(stripe_payment_intent_id=intent_id).first()
        if payment is None:
            return  # not ours (another system on the same Stripe account)
        checked += 1
        before = _books(payment)
        try:
            payment = payment_sync_from_stripe(
                payment_id=payment.pk,
                intent=intent,
                observed_at=started if intent is not None else None,
                settle_refunds=True,
            )
        except Exception as exc:  # one payment's trouble must not stop the run
            logger.exception("reconcile: payment %s (%s) not checked", payment.pk, intent_id)
            errors.append(f"payment #{payment.pk} ({intent_id}): not checked: {exc}")
            return
        after = _books(payment)
        if after != before:
            changes.append(
                f"payment #{payment.pk} ({intent_id}): "
                + _books_line(before, after, payment.currency)
            )
            changed_before[str(payment.pk)] = before
            changed_after[str(payment.pk)] = after

    try:
        for intent in stripe_client.payment_intent_list(created_gte=since):
            check(intent.id, intent)
        for refund in stripe_client.refund_list_since(created_gte=since):
            if refund.payment_intent:
                check(str(refund.payment_intent))
        _reconcile_disputes(since, started, changes, changed_before, changed_after)
    finally:
        # One entry per run that changed something (also when the listing failed part way);
        # a run that changed nothing records nothing (beat runs one every 15 minutes).
        if changes:
            lines = [
                f"Reconcile since {since:%Y-%m-%d %H:%M}: {checked} payments checked, "
                f"{len(changes)} changed, {len(errors)} not checked",
                *changes,
                *errors,
            ]
            audit_record(
                action=AuditEntry.Action.RECONCILE_RUN,
                summary="\n".join(lines),
                object_type="job",
                object_id="reconcile",
                before={"payments": changed_before},
                after={"payments": changed_after},
            )
    return checked, changes, errors
