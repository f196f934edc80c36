"""Every state change of payments and refunds, and every call to Stripe, happens here.

Entry points (the API, the back-office, the webhook view, management commands) validate their
input and call one function of this module. Three rules hold throughout:

1. Locks are taken in one order: a webhook event's row, then the order's, then the payment's
   (`_lock_payment`), so requests touching the same payment queue up instead of deadlocking.
2. No database transaction is held open across a call to Stripe. What must be decided before the
   call (what remains refundable, which PaymentIntent attempt this is) is decided and committed
   first; Stripe is called with an idempotency key derived from our own rows, so a retry after a
   timeout or crash gets Stripe's first answer instead of a second charge or refund; the answer
   is then recorded under the lock again.
3. A payment's status is only ever moved by `payment_apply_intent` (facts from a PaymentIntent)
   and `_refund_totals_update` (facts from refunds), and only forwards.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from payments import money, stripe_client
from payments.models import Payment, Refund, StripeWebhookEvent
from payments.stripe_client import PaymentProviderError
from shop.models import CustomUser, Order

logger = logging.getLogger(__name__)

Status = Payment.Status


class ServiceError(Exception):
    """A request the rules refuse; `str()` is a message safe to show to whoever asked."""


class OrderNotPayable(ServiceError):
    """The order is paid, cancelled, or its total cannot be charged (409)."""


class CheckoutConflict(ServiceError):
    """A checkout for this order is already open in a way this request contradicts (409)."""


class RefundError(ServiceError):
    pass


class RefundNotAllowed(RefundError):
    """The payment cannot be refunded (not paid, already fully refunded) (409)."""


class RefundExceedsRemaining(RefundError):
    """More than what remains refundable was asked for (409)."""


class RefundAmountInvalid(RefundError):
    """Zero, negative, too precise for the currency, or not a number; or an unknown reason (400)."""


class RefundTokenReused(RefundError):
    """A request token already used for a different refund (409)."""


class RefundStale(RefundError):
    """The payment's refunds changed since this refund was reviewed (409): review it again."""


class RefundPending(RefundError):
    """Stripe did not confirm the refund: it stays pending, its amount held (503)."""

    def __init__(self, message: str, *, refund: Refund) -> None:
        super().__init__(message)
        self.refund = refund


class NotAtStripe(ServiceError):
    """The payment has no PaymentIntent at Stripe to refresh from (409)."""


# How each of our payment methods is asked of Stripe. Apple Pay and Google Pay are card wallets.
PAYMENT_METHOD_TYPES: dict[str, list[str]] = {
    Payment.Method.CARD: ["card"],
    Payment.Method.WALLET: ["card"],
    Payment.Method.BANK_TRANSFER: ["customer_balance"],
}

# Stripe's bank transfer type for each currency it takes bank transfers in.
BANK_TRANSFER_TYPES = {
    "EUR": "eu_bank_transfer",
    "GBP": "gb_bank_transfer",
    "JPY": "jp_bank_transfer",
    "MXN": "mx_bank_transfer",
    "USD": "us_bank_transfer",
}


def _bank_transfer(payment_method: str, order: Order) -> tuple[str, str | None] | None:
    """What Stripe needs to know of a bank transfer for this order, or None for other methods."""
    if payment_method != Payment.Method.BANK_TRANSFER:
        return None
    transfer_type = BANK_TRANSFER_TYPES.get(order.currency.upper())
    if transfer_type is None:
        raise OrderNotPayable(
            f"Bank transfers are not available in {order.currency}; pay order #{order.pk} "
            "by card or wallet."
        )
    country = (
        settings.PAYMENTS_BANK_TRANSFER_COUNTRY if transfer_type == "eu_bank_transfer" else None
    )
    return transfer_type, country


# Status changes a PaymentIntent may cause. Refund statuses are reached only through refunds.
_ALLOWED: dict[str, set[str]] = {
    Status.PENDING: {Status.PROCESSING, Status.SUCCEEDED, Status.FAILED, Status.CANCELLED},
    # A failed payment may still be paid with another card.
    Status.FAILED: {Status.PROCESSING, Status.SUCCEEDED, Status.CANCELLED},
    Status.PROCESSING: {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED},
}
# Stripe never leaves these states, so news of them can never be stale.
_FINAL_AT_STRIPE: set[str] = {Status.SUCCEEDED, Status.CANCELLED}
_PAID = (Status.SUCCEEDED, Status.PARTIALLY_REFUNDED, Status.REFUNDED)


def idempotency_key(*parts: object) -> str:
    """A Stripe idempotency key from our own rows ("refund-42"), with the deployment's prefix
    (STRIPE_IDEMPOTENCY_PREFIX) so that databases sharing one Stripe account never collide."""
    key = "-".join(str(part) for part in parts)
    prefix = settings.STRIPE_IDEMPOTENCY_PREFIX
    return f"{prefix}-{key}" if prefix else key


def _plain(obj: Any) -> dict[str, Any]:
    """Stripe SDK objects and webhook payloads, both as plain dicts."""
    if isinstance(obj, Mapping):
        return dict(obj)
    return obj.to_dict()


def _lock_payment(**lookup: Any) -> Payment:
    """Lock the payment's order, then the payment (always in that order), and return it fresh."""
    pk, order_id = Payment.objects.values_list("pk", "order_id").get(**lookup)
    Order.objects.select_for_update().filter(pk=order_id).exists()
    return Payment.objects.select_for_update().select_related("order").get(pk=pk)


# --- Pay ---------------------------------------------------------------------------------------


def _stripe_customer_id(user: CustomUser) -> str:
    """The user's Stripe Customer, created once: racing requests share one idempotency key."""
    if user.stripe_customer_id:
        return user.stripe_customer_id
    customer = stripe_client.customer_create(
        user_id=user.pk,
        email=user.email,
        name=user.get_full_name() or user.username,
        idempotency_key=idempotency_key("customer-user", user.pk),
    )
    CustomUser.objects.filter(pk=user.pk, stripe_customer_id="").update(
        stripe_customer_id=customer.id
    )
    user.stripe_customer_id = customer.id
    return customer.id


def payment_intent_create(
    *, user: CustomUser, order_id: int, payment_method: str
) -> tuple[Payment, str]:
    """Start (or resume) paying an order; returns the payment and the PaymentIntent's client secret.

    Asking again while the PaymentIntent is open returns that same PaymentIntent, so a retried or
    double-clicked checkout never creates a second charge. Raises `Order.DoesNotExist` for an
    order that is not the user's, `OrderNotPayable`, `CheckoutConflict`, `PaymentProviderError`.
    Nothing is written unless Stripe answered.
    """
    if payment_method not in PAYMENT_METHOD_TYPES:
        raise ServiceError(f"Unknown payment method {payment_method!r}.")
    order = Order.objects.get(pk=order_id, user=user)
    existing = Payment.objects.filter(order=order).first()
    attempt = 1
    if existing is not None:
        if existing.status in _PAID:
            raise OrderNotPayable(f"Order #{order.pk} is already paid.")
        if existing.payment_method != payment_method and existing.status != Status.CANCELLED:
            raise CheckoutConflict(
                f"A {existing.get_payment_method_display().lower()} checkout is already open for "
                f"order #{order.pk}; it cannot be switched to another payment method."
            )
        attempt = existing.intent_attempt + (existing.status == Status.CANCELLED)
    if order.status != Order.Status.PENDING:
        raise OrderNotPayable(f"Order #{order.pk} is {order.get_status_display().lower()}.")
    try:
        money.to_minor_units(order.total, order.currency)
    except ValueError as exc:  # InvalidAmount, UnsupportedCurrency
        raise OrderNotPayable(f"Order #{order.pk} cannot be charged: {exc}") from exc

    if (
        existing is not None
        and existing.status != Status.CANCELLED
        and existing.stripe_payment_intent_id
    ):
        observed_at = timezone.now()
        try:
            intent = stripe_client.payment_intent_retrieve(existing.stripe_payment_intent_id)
        except stripe_client.InvalidRequest as exc:
            if exc.code != "resource_missing":
                raise
            # Gone from Stripe (another account's key, a test-data reset): start afresh.
            intent = None
        if intent is not None and intent.status != "canceled":
            payment = _payment_record_intent(existing.pk, intent, observed_at)
            if payment.status in _PAID:  # paid at Stripe before its webhook reached us
                raise OrderNotPayable(f"Order #{order.pk} is already paid.")
            return payment, _client_secret(intent)
        if intent is not None:
            # Cancelled at Stripe before we heard: record it, then start the next attempt.
            _payment_record_intent(existing.pk, intent, observed_at)
        attempt += 1

    bank_transfer = _bank_transfer(payment_method, order)
    customer_id = _stripe_customer_id(user)
    # The order and the attempt, not a row of ours, key the create: two racing requests (or a
    # retry after a timeout) send the same key and get the same PaymentIntent back.
    try:
        intent = stripe_client.payment_intent_create(
            amount=order.total,
            currency=order.currency,
            customer_id=customer_id,
            payment_method_types=PAYMENT_METHOD_TYPES[payment_method],
            metadata={"order_id": str(order.pk), "user_id": str(user.pk)},
            description=f"Order #{order.pk}",
            idempotency_key=idempotency_key("order", order.pk, "pi", attempt),
            bank_transfer=bank_transfer,
        )
    except stripe_client.InvalidRequest as exc:
        if exc.code in ("amount_too_small", "amount_too_large"):
            raise OrderNotPayable(
                f"Order #{order.pk} cannot be charged: {exc.user_message}"
            ) from exc
        raise
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        payment = Payment.objects.filter(order=order).first() or Payment(order=order, user=user)
        if payment.stripe_payment_intent_id != intent.id:
            # New row, or the replacement for a cancelled PaymentIntent.
            payment.stripe_payment_intent_id = intent.id
            payment.intent_attempt = attempt
            payment.status = Status.PENDING
            payment.failure_code = payment.failure_message = ""
            payment.stripe_synced_at = None
        payment.amount = order.total
        payment.currency = order.currency
        payment.payment_method = payment_method
        payment.stripe_customer_id = customer_id
        # A replayed create answers Stripe's first response: its facts date from the creation.
        payment_apply_intent(
            payment, intent, observed_at=_from_timestamp(intent.created) or timezone.now()
        )
        payment.save()
    return payment, _client_secret(intent)


def _client_secret(intent: Any) -> str:
    secret = intent.client_secret
    if not secret:  # Stripe always sends it to the secret key's holder
        raise PaymentProviderError("Stripe sent a PaymentIntent without its client secret.")
    return str(secret)


def _payment_record_intent(payment_id: int, intent: Any, observed_at: datetime) -> Payment:
    with transaction.atomic():
        payment = _lock_payment(pk=payment_id)
        payment_apply_intent(payment, intent, observed_at=observed_at)
        payment.save()
        return payment


def _status_from_intent(intent: Mapping[str, Any]) -> str:
    status = intent["status"]
    if status == "succeeded":
        return Status.SUCCEEDED
    if status == "processing":
        return Status.PROCESSING
    if status == "canceled":
        return Status.CANCELLED
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        return Status.FAILED
    # requires_payment_method (fresh), requires_confirmation, requires_action (3-D Secure), ...
    return Status.PENDING


def payment_apply_intent(payment: Payment, intent: Any, *, observed_at: datetime) -> bool:
    """Bring a (locked) payment up to date with a PaymentIntent seen at `observed_at`.

    The one transition function: webhooks, the API's confirm/status, "refresh from Stripe" and
    reconcile all call it, so the same facts always give the same state. Status only moves
    forwards (a late `processing` never undoes `succeeded`; `cancelled` is final; a failed payment
    may still succeed with another card). Between the states Stripe can leave (pending, processing,
    failed) the newer observation wins; news of a final state (succeeded, canceled) always
    applies, however late. The caller saves. Returns whether the status changed.
    """
    facts = _plain(intent)
    new = _status_from_intent(facts)
    old = payment.status
    # Strictly newer: Stripe's event times are whole seconds, and of two facts from the same
    # second neither is known to be the later one.
    fresh = payment.stripe_synced_at is None or observed_at > payment.stripe_synced_at
    changed = new != old and new in _ALLOWED.get(old, set()) and (fresh or new in _FINAL_AT_STRIPE)
    if changed:
        payment.status = new
        if new == Status.FAILED:
            error = facts.get("last_payment_error") or {}
            payment.failure_code = error.get("decline_code") or error.get("code") or ""
            payment.failure_message = error.get("message") or ""
        logger.info("payment %s: %s -> %s (%s)", payment.pk, old, new, facts.get("id"))
    if fresh:
        payment.stripe_synced_at = observed_at
    succeeded = facts.get("status") == "succeeded"

    charge = facts.get("latest_charge")
    if isinstance(charge, str) and (succeeded or not payment.stripe_charge_id):
        # A declined attempt's charge is replaced by the charge that paid.
        payment.stripe_charge_id = charge
    elif isinstance(charge, Mapping):
        payment_apply_charge(payment, charge)

    if changed and new == Status.SUCCEEDED:
        _refund_status_update(payment)  # refunds may have been heard of before the payment
    if payment.status in _PAID and payment.order.status != Order.Status.PAID:
        payment.order.status = Order.Status.PAID
        payment.order.save(update_fields=["status"])
    return changed


def payment_sync_from_stripe(
    *,
    payment_id: int,
    intent: Any = None,
    observed_at: datetime | None = None,
    resend_unanswered_refunds: bool = False,
) -> Payment:
    """Fetch the payment's PaymentIntent and refunds from Stripe and record what they say.

    `intent`, when given, is a PaymentIntent listed from Stripe at `observed_at`. With
    `resend_unanswered_refunds` (finance's refresh, reconcile; never a customer's status check),
    refunds Stripe never answered for and still does not know are sent again with their own
    idempotency key, so Stripe either returns the refund it made or makes it now, never twice.
    """
    payment = Payment.objects.get(pk=payment_id)
    intent_id = payment.stripe_payment_intent_id
    if not intent_id:
        raise NotAtStripe(f"Payment #{payment.pk} has no PaymentIntent at Stripe.")
    if intent is None:
        observed_at = timezone.now()  # before asking: the facts are at least this fresh
        intent = stripe_client.payment_intent_retrieve(intent_id)
    with transaction.atomic():
        payment = _lock_payment(pk=payment_id)
        payment_apply_intent(payment, intent, observed_at=observed_at or timezone.now())
        payment.save()
    if payment.status in _PAID:
        # What Stripe holds first: a refund it made whose answer we missed is matched by the
        # local id in its metadata, and is then not sent again.
        refunds = stripe_client.refund_list(payment_intent_id=intent_id)
        with transaction.atomic():
            payment = _lock_payment(pk=payment_id)
            refunds_apply(payment, refunds)
        if resend_unanswered_refunds:
            for refund in payment.refunds.filter(stripe_refund_id=None):
                if _waiting_for_stripe(refund):
                    _refund_send(refund)
    payment.refresh_from_db()
    return payment


def _books(payment: Payment) -> tuple[Any, ...]:
    refunds = tuple(payment.refunds.order_by("pk").values_list("stripe_refund_id", "status"))
    return (payment.status, payment.amount_refunded, payment.stripe_charge_id, refunds)


def payments_reconcile(
    *, since: datetime, progress: Any = None
) -> tuple[int, list[str], list[str]]:
    """Repair what missed webhooks left stale: every PaymentIntent created since `since`, and
    every payment with a refund created since then (Dashboard refunds on older payments).

    Returns how many of ours were checked, a line per payment that changed, and a line per
    payment that could not be checked (Stripe failing for it: the others are still done).
    Running it again right after changes nothing, since the same facts give the same state.
    """
    started = timezone.now()  # what is listed from here on is at least this fresh
    checked, changes, errors = 0, [], []
    seen: set[str] = set()

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
                resend_unanswered_refunds=True,
            )
        except (PaymentProviderError, ServiceError) as exc:
            errors.append(f"payment #{payment.pk} ({intent_id}): not checked: {exc}")
            return
        after = _books(payment)
        if after != before:
            changes.append(
                f"payment #{payment.pk} ({intent_id}): {before[0]} -> {after[0]}, "
                f"refunded {before[1]} -> {after[1]} {payment.currency}, "
                f"refunds {len(before[3])} -> {len(after[3])}"
            )

    for intent in stripe_client.payment_intent_list(created_gte=since):
        check(intent.id, intent)
    for refund in stripe_client.refund_list_since(created_gte=since):
        if refund.payment_intent:
            check(str(refund.payment_intent))
    return checked, changes, errors


# --- Refund ------------------------------------------------------------------------------------

# Stripe's own reasons; "other" is ours alone, sent without a reason.
_STRIPE_REASONS: dict[str, stripe_client.RefundReason] = {
    "requested_by_customer": "requested_by_customer",
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
}


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
    """Refund `amount` (all that remains when None) of a payment.

    Safe against double clicks, two tabs and two finance users at once: the amount is checked
    and reserved under the payment's row lock (and the database refuses refunds above the
    payment); a repeated `request_token` returns the first refund (and re-sends it to Stripe if
    Stripe never answered), while the same token for a different refund is refused; with
    `expected_amount_refunded` (what the person saw when reviewing) any refund made since is a
    `RefundStale`; and Stripe gets the refund's own id as idempotency key. Stripe refusing leaves
    a failed refund on record and the amount refundable again; Stripe not answering leaves the
    refund pending (its amount held) and raises `RefundPending`. Raises `RefundError`s and
    `PaymentProviderError`s.
    """
    if reason not in Refund.Reason.values:
        raise RefundAmountInvalid(f"Unknown refund reason {reason!r}.")
    with transaction.atomic():
        payment = _lock_payment(pk=payment_id)
        # Looked up under the lock: a concurrent twin has either committed or not started.
        first = (
            Refund.objects.filter(request_token=request_token).first() if request_token else None
        )
        if first is not None:
            _check_same_refund(first, payment, amount, reason)
            if not _waiting_for_stripe(first):
                return first
            refund = first
        else:
            refund = _refund_reserve(
                payment,
                amount=amount,
                reason=reason,
                description=description,
                created_by=created_by,
                request_token=request_token,
                expected_amount_refunded=expected_amount_refunded,
            )
    return _refund_send(refund)


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
    if payment.status not in Payment.REFUNDABLE_STATUSES or not payment.stripe_payment_intent_id:
        raise RefundNotAllowed(
            f"Payment #{payment.pk} is {payment.get_status_display().lower()}; "
            "only a paid payment can be refunded."
        )
    if expected_amount_refunded is not None and payment.amount_refunded != expected_amount_refunded:
        raise RefundStale(
            f"Payment #{payment.pk} changed since this refund was reviewed: "
            f"{money.format_amount(payment.amount_refunded, payment.currency)} is now refunded "
            "or pending. Review the refund again."
        )
    remaining = payment.amount - payment.amount_refunded
    if remaining <= 0:
        raise RefundNotAllowed(f"Payment #{payment.pk} is already fully refunded.")
    value = _refund_amount(amount, payment.currency, remaining)
    if value > remaining:
        raise RefundExceedsRemaining(
            f"Only {money.format_amount(remaining, payment.currency)} of "
            f"{payment.amount_display} remains refundable."
        )
    try:
        with transaction.atomic():
            refund = Refund.objects.create(
                payment=payment,
                amount=value,
                status=Refund.Status.PENDING,
                reason=reason,
                description=description,
                created_by=created_by,
                request_token=request_token or None,
            )
    except IntegrityError:
        raise RefundTokenReused("This refund request was already submitted.") from None
    _refund_totals_update(payment)
    return refund


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


def _waiting_for_stripe(refund: Refund) -> bool:
    """A pending refund Stripe never answered for, old enough that no request still waits on it:
    sending it again (same idempotency key) makes Stripe answer, never refund twice."""
    if refund.status != Refund.Status.PENDING or refund.stripe_refund_id:
        return False
    return refund.updated_at < timezone.now() - _in_flight_window()


def _in_flight_window() -> timedelta:
    """The longest a request can still be waiting on Stripe (every retry timing out)."""
    attempts = int(settings.STRIPE_MAX_NETWORK_RETRIES) + 1
    return timedelta(seconds=float(settings.STRIPE_TIMEOUT_SECONDS) * attempts + 5)


def _refund_amount(amount: Decimal | str | None, currency: str, remaining: Decimal) -> Decimal:
    if amount is None or amount == "":
        return remaining
    try:
        value = money.to_decimal(amount, currency)
        money.to_minor_units(value, currency)  # e.g. KWD must end in 0 at Stripe
    except money.InvalidAmount as exc:
        raise RefundAmountInvalid(str(exc)) from exc
    if value <= 0:
        raise RefundAmountInvalid("The refund amount must be more than zero.")
    return value


def _refund_send(refund: Refund) -> Refund:
    """Ask Stripe for a refund already reserved in our books, and record the answer."""
    payment = refund.payment
    try:
        answer = stripe_client.refund_create(
            payment_intent_id=str(payment.stripe_payment_intent_id),  # refundable: it has one
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
    except (stripe_client.ProviderUnavailable, stripe_client.IdempotencyConflict) as exc:
        # No answer, or the same refund still in flight: Stripe may have made it. Keep the
        # amount held; retrying (same key) or Stripe's webhook settles it.
        Refund.objects.filter(pk=refund.pk).update(
            failure_reason=exc.user_message, updated_at=timezone.now()
        )
        amount = money.format_amount(refund.amount, payment.currency)
        raise RefundPending(
            f"Stripe did not confirm refund #{refund.pk} of {amount}. It stays pending, its amount "
            "held, until Stripe answers (retrying the same request is safe). Do not refund again.",
            refund=refund,
        ) from exc
    except PaymentProviderError as exc:
        # Stripe answered "no": nothing was refunded.
        with transaction.atomic():
            payment = _lock_payment(pk=payment.pk)
            Refund.objects.filter(pk=refund.pk).update(
                status=Refund.Status.FAILED, failure_reason=exc.user_message
            )
            _refund_totals_update(payment)
        raise
    with transaction.atomic():
        payment = _lock_payment(pk=payment.pk)
        refunds_apply(payment, [answer])
    refund.refresh_from_db()
    return refund


# Refunds move pending -> succeeded -> failed (Stripe can fail a refund after success), or to
# canceled; failed and canceled are final.
_REFUND_RANK: dict[str, int] = {
    Refund.Status.PENDING: 0,
    Refund.Status.REQUIRES_ACTION: 1,
    Refund.Status.SUCCEEDED: 2,
    Refund.Status.FAILED: 3,
    Refund.Status.CANCELED: 3,
}


def refunds_apply(payment: Payment, stripe_refunds: Iterable[Any]) -> list[Refund]:
    """Record refunds as Stripe holds them, for a locked payment; returns the rows touched.

    Matches by Stripe id, then by the local id we put in the refund's metadata (a refund whose
    creation answer we never recorded); anything else was made outside the app (Stripe's
    Dashboard) and is added. Then recomputes what has been refunded.
    """
    touched = []
    for item in stripe_refunds:
        facts = _plain(item)
        refund = Refund.objects.filter(stripe_refund_id=facts["id"]).first()
        local_id = (facts.get("metadata") or {}).get("refund_id")
        # A row of ours that never heard Stripe's answer: whatever we assumed meanwhile (even
        # "failed" after an error), Stripe's word is the truth.
        unheard = False
        if refund is None and local_id and str(local_id).isdigit():
            refund = Refund.objects.filter(
                pk=int(local_id), payment=payment, stripe_refund_id=None
            ).first()
            unheard = refund is not None
        if refund is None:
            refund = Refund(
                payment=payment,
                reason=str(facts.get("reason") or "")
                if facts.get("reason") in _STRIPE_REASONS
                else "",
                description="Refunded outside the app",
                created_at=_from_timestamp(facts.get("created")) or timezone.now(),
            )
        if refund.payment_id != payment.pk:
            logger.warning("refund %s belongs to another payment; not applied", facts["id"])
            continue
        refund.stripe_refund_id = facts["id"]
        refund.amount = money.from_minor_units(facts["amount"], payment.currency)
        new_status = facts["status"] if facts["status"] in Refund.Status.values else "pending"
        if unheard or refund.pk is None or _REFUND_RANK[new_status] >= _REFUND_RANK[refund.status]:
            refund.status = new_status  # never back: a late "pending" cannot undo "failed"
        if refund.status == Refund.Status.FAILED:
            refund.failure_reason = facts.get("failure_reason") or refund.failure_reason
        refund.save()
        touched.append(refund)
    _refund_totals_update(payment)
    return touched


def _refund_totals_update(payment: Payment) -> None:
    """Derive `amount_refunded` and the refund statuses from the refund rows (payment locked)."""
    held = payment.refunds.filter(status__in=Refund.COUNTED_STATUSES).aggregate(
        total=Sum("amount")
    )["total"] or Decimal("0")
    payment.amount_refunded = held
    _refund_status_update(payment)
    payment.save(update_fields=["amount_refunded", "status", "updated_at"])


def _refund_status_update(payment: Payment) -> None:
    """A paid payment's status follows what is refunded of it (pending refunds count, as at
    Stripe: a charge is `refunded` once refunds for its whole amount exist)."""
    if payment.status in _PAID:
        if payment.amount_refunded >= payment.amount:
            payment.status = Status.REFUNDED
        elif payment.amount_refunded > 0:
            payment.status = Status.PARTIALLY_REFUNDED
        else:
            payment.status = Status.SUCCEEDED


def _from_timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if isinstance(value, int) else None


# --- Hear (Stripe webhooks) ----------------------------------------------------------------------


class WebhookProcessingFailed(ServiceError):
    """Applying an event raised; the event is kept as failed and Stripe should retry (500)."""


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
    data = _without_client_secret(_plain(event))
    obj = _event_object(data)
    row, created = StripeWebhookEvent.objects.get_or_create(
        stripe_event_id=data["id"],
        defaults={
            "event_type": data.get("type", ""),
            "data": data,
            "stripe_object_id": obj.get("id", ""),
            "livemode": bool(data.get("livemode")),
            "stripe_created_at": _from_timestamp(data.get("created")),
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
    be asked (the refunds of a refunded charge) is fetched before any lock is taken.
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
            payment = _lock_payment(stripe_payment_intent_id=pi_id)
            if row.event_type in _PAYMENT_INTENT_EVENTS:
                payment_apply_intent(payment, obj, observed_at=observed_at)
                payment.save()
            elif row.event_type == "charge.succeeded":
                payment_apply_charge(payment, obj)
                payment.save()
            elif row.event_type == "charge.refunded":
                payment_apply_charge(payment, obj)
                payment.save()
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
            processed_at=timezone.now(),
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
        row.save()
        return row


def payment_apply_charge(payment: Payment, charge: Mapping[str, Any]) -> None:
    """Record a charge's facts (id, card) on a locked payment; the caller saves."""
    if charge.get("status") == "failed":
        return
    payment.stripe_charge_id = charge.get("id") or payment.stripe_charge_id
    card = (charge.get("payment_method_details") or {}).get("card") or {}
    payment.card_brand = card.get("brand") or payment.card_brand
    payment.card_last4 = card.get("last4") or payment.card_last4


def webhook_event_replay(*, event_id: int) -> StripeWebhookEvent:
    """Apply a recorded event again (an operator's replay; safe, since applying is idempotent)."""
    return webhook_event_process(event_id=event_id, force=True)
