"""Plain functions that make rows for tests: explicit, no magic."""

from __future__ import annotations

import itertools
from decimal import Decimal

from django.contrib.auth.models import Group

from payments.models import Payment, Refund
from shop.models import CustomUser, Order

_seq = itertools.count(1)


def user(username: str | None = None, *, group: str | None = None, **fields) -> CustomUser:
    n = next(_seq)
    username = username or f"user{n}"
    fields.setdefault("email", f"{username}@example.com")
    u = CustomUser.objects.create_user(username=username, password="pw-for-tests", **fields)
    if group:
        u.groups.add(Group.objects.get(name=group))
    return u


def api_client(owner: CustomUser):
    """An API client that sends `owner`'s token, as the checkout page (or a script) does."""
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    client = APIClient()
    token, _ = Token.objects.get_or_create(user=owner)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def order(
    owner: CustomUser | None = None,
    *,
    total: str = "99.99",
    currency: str = "EUR",
    status: str = Order.Status.PENDING,
) -> Order:
    return Order.objects.create(
        user=owner or user(), total=Decimal(total), currency=currency, status=status
    )


def payment(
    order_: Order | None = None, *, status: str = Payment.Status.SUCCEEDED, **fields
) -> Payment:
    o = order_ or order()
    n = next(_seq)
    fields.setdefault("stripe_payment_intent_id", f"pi_test_{n}")
    return Payment.objects.create(
        order=o, user=o.user, amount=o.total, currency=o.currency, status=status, **fields
    )


def refund(
    payment_: Payment, *, amount: str, status: str = Refund.Status.SUCCEEDED, **fields
) -> Refund:
    return Refund.objects.create(payment=payment_, amount=Decimal(amount), status=status, **fields)


def paid_payment(
    sandbox,
    owner: CustomUser | None = None,
    *,
    total: str = "99.99",
    currency: str = "EUR",
    card: str = "pm_card_visa",
) -> Payment:
    """A payment really paid at the Stripe stand-in (so it can be refunded there), via services."""
    from payments import services

    o = order(owner, total=total, currency=currency)
    payment, _ = services.payment_intent_create(user=o.user, order_id=o.pk, payment_method="card")
    status, body = sandbox.confirm_payment_intent(payment.stripe_payment_intent_id, card)
    assert status == 200, body
    return services.payment_sync_from_stripe(payment_id=payment.pk)
