"""Pay: a PaymentIntent for an order, once per checkout attempt, whatever the retries."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from payments import money, stripe_client
from payments.models import Payment
from payments.services import transitions
from payments.services.common import from_timestamp, idempotency_key
from payments.services.errors import CheckoutConflict, OrderNotPayable, ServiceError
from payments.services.intents import INTENT_FIELDS, payment_apply_intent, payment_record_intent
from payments.stripe_client import PaymentProviderError
from shop.models import CustomUser, Order

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

    Each checkout attempt is its own payment (one row per PaymentIntent), and the order points at
    its current one. Asking again while that PaymentIntent is open returns it, so a retried or
    double-clicked checkout never creates a second charge; once it is cancelled the next attempt
    gets a new PaymentIntent and a new payment. Raises `Order.DoesNotExist` for an order that is
    not the user's, `OrderNotPayable`, `CheckoutConflict`, `PaymentProviderError`. Nothing is
    written unless Stripe answered.
    """
    if payment_method not in PAYMENT_METHOD_TYPES:
        raise ServiceError(f"Unknown payment method {payment_method!r}.")
    order = Order.objects.select_related("current_payment").get(pk=order_id, user=user)
    current = order.current_payment
    if order.status == Order.Status.PAID or (
        current is not None and current.status in transitions.PAID
    ):
        raise OrderNotPayable(f"Order #{order.pk} is already paid.")
    if order.status != Order.Status.PENDING:
        raise OrderNotPayable(f"Order #{order.pk} is {order.get_status_display().lower()}.")
    try:
        money.to_minor_units(order.total, order.currency)
    except ValueError as exc:  # InvalidAmount, UnsupportedCurrency
        raise OrderNotPayable(f"Order #{order.pk} cannot be charged: {exc}") from exc

    attempt = 1
    if current is not None:
        if current.status != Payment.Status.CANCELLED:
            if current.payment_method != payment_method:
                raise CheckoutConflict(
                    f"A {current.get_payment_method_display().lower()} checkout is already open "
                    f"for order #{order.pk}; it cannot be switched to another payment method."
                )
            resumed = _resume(current)
            if resumed is not None:
                return resumed
        attempt = current.intent_attempt + 1

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
        if exc.param == "allowed_payment_method_types":  # none of them can work here
            raise OrderNotPayable(_not_available(payment_method, order.pk, order.currency)) from exc
        raise
    payment = _payment_of_new_intent(
        order_id=order.pk,
        user=user,
        intent=intent,
        attempt=attempt,
        payment_method=payment_method,
        customer_id=customer_id,
    )
    _refuse_unavailable_method(payment, intent)
    return payment, _client_secret(intent)


def _refuse_unavailable_method(payment: Payment, intent: object) -> None:
    """Stripe keeps only the allowed types that can work (for the account's country, the
    currency, the customer) and says nothing of the others: a PaymentIntent without the type
    asked for is cancelled (so it can never be paid another way) and the checkout refused."""
    wanted = set(PAYMENT_METHOD_TYPES[payment.payment_method])
    kept = set(getattr(intent, "payment_method_types", None) or [])
    if wanted <= kept:
        return
    cancelled = stripe_client.payment_intent_cancel(
        payment.stripe_payment_intent_id,
        idempotency_key=idempotency_key(
            "order", payment.order_id, "pi", payment.intent_attempt, "cancel"
        ),
        cancellation_reason="abandoned",
    )
    payment_record_intent(cancelled, observed_at=timezone.now())
    raise OrderNotPayable(
        _not_available(payment.payment_method, payment.order_id, payment.currency)
    )


def _not_available(payment_method: str, order_id: int, currency: str) -> str:
    method = Payment.Method(payment_method).label.lower()
    return (
        f"Paying by {method} is not available for order #{order_id} ({currency}); pay it by card."
    )


def _resume(current: Payment) -> tuple[Payment, str] | None:
    """The current attempt again, if its PaymentIntent is still open at Stripe; else None."""
    observed_at = timezone.now()  # before asking: the facts are at least this fresh
    try:
        intent = stripe_client.payment_intent_retrieve(current.stripe_payment_intent_id)
    except stripe_client.InvalidRequest as exc:
        if exc.code != "resource_missing":
            raise
        return None  # gone from Stripe (another account's key, a test-data reset): start afresh
    payment = payment_record_intent(intent, observed_at=observed_at)
    if payment is None or payment.status == Payment.Status.CANCELLED:
        return None  # cancelled at Stripe (recorded now): the next attempt replaces it
    if payment.status in transitions.PAID:  # paid at Stripe before its webhook reached us
        raise OrderNotPayable(f"Order #{current.order_id} is already paid.")
    _refuse_unavailable_method(payment, intent)  # (a cancel that failed last time)
    return payment, _client_secret(intent)


def _payment_of_new_intent(
    *,
    order_id: int,
    user: CustomUser,
    intent: object,
    attempt: int,
    payment_method: str,
    customer_id: str,
) -> Payment:
    """The payment row of a PaymentIntent Stripe just answered, created once (a concurrent twin
    with the same idempotency key got the same PaymentIntent and finds this row)."""
    intent_id = str(intent.id)  # type: ignore[attr-defined]
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        payment = (
            Payment.objects.select_for_update().filter(stripe_payment_intent_id=intent_id).first()
        )
        if payment is None:
            payment = Payment.objects.create(
                order=order,
                user=user,
                stripe_payment_intent_id=intent_id,
                intent_attempt=attempt,
                amount=order.total,
                currency=order.currency,
                payment_method=payment_method,
                stripe_customer_id=customer_id,
            )
        current_attempt = (
            Payment.objects.filter(pk=order.current_payment_id)
            .values_list("intent_attempt", flat=True)
            .first()
            if order.current_payment_id is not None
            else None
        )
        if current_attempt is None or current_attempt <= payment.intent_attempt:
            order.current_payment = payment
            order.save(update_fields=["current_payment"])
        payment.order = order
        # A replayed create answers Stripe's first response: its facts date from the creation.
        created = from_timestamp(intent.created)  # type: ignore[attr-defined]
        payment_apply_intent(payment, intent, observed_at=created or timezone.now())
        payment.save(update_fields=INTENT_FIELDS)
    return payment


def _client_secret(intent: object) -> str:
    secret = getattr(intent, "client_secret", None)
    if not secret:  # Stripe always sends it to the secret key's holder
        raise PaymentProviderError("Stripe sent a PaymentIntent without its client secret.")
    return str(secret)
