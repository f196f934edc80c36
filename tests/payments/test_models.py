"""The database itself refuses rows that would misstate money."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from payments.models import Payment, Refund, StripeWebhookEvent
from shop.models import Order
from tests import factories

pytestmark = pytest.mark.django_db


def _violates(fn) -> bool:
    try:
        with transaction.atomic():
            fn()
    except IntegrityError:
        return True
    return False


def test_it_stores_amounts_exactly():
    p = factories.payment(factories.order(total="12.340", currency="KWD"))
    p.refresh_from_db()
    assert p.amount == Decimal("12.340")
    assert p.amount_display == "KWD 12.340"


def test_it_requires_a_positive_payment_amount():
    p = factories.payment()
    assert _violates(lambda: Payment.objects.filter(pk=p.pk).update(amount=Decimal("0")))
    assert _violates(lambda: Payment.objects.filter(pk=p.pk).update(amount=Decimal("-1")))


def test_it_never_lets_refunds_exceed_the_payment():
    p = factories.payment()  # 99.99
    assert not _violates(lambda: Payment.objects.filter(pk=p.pk).update(amount_refunded=p.amount))
    assert _violates(
        lambda: Payment.objects.filter(pk=p.pk).update(amount_refunded=Decimal("100.00"))
    )
    assert _violates(lambda: Payment.objects.filter(pk=p.pk).update(amount_refunded=Decimal("-1")))


def test_it_requires_a_positive_refund_amount():
    p = factories.payment()
    assert _violates(lambda: factories.refund(p, amount="0"))
    assert _violates(lambda: factories.refund(p, amount="-5.00"))


def test_it_allows_one_payment_per_order():
    o = factories.order()
    factories.payment(o)
    assert _violates(lambda: factories.payment(o))


def test_stripe_ids_are_unique():
    factories.payment(stripe_payment_intent_id="pi_same")
    assert _violates(lambda: factories.payment(stripe_payment_intent_id="pi_same"))
    p = factories.payment()
    factories.refund(p, amount="1.00", stripe_refund_id="re_same")
    assert _violates(lambda: factories.refund(p, amount="1.00", stripe_refund_id="re_same"))
    StripeWebhookEvent.objects.create(stripe_event_id="evt_same", event_type="x", data={})
    assert _violates(
        lambda: StripeWebhookEvent.objects.create(
            stripe_event_id="evt_same", event_type="x", data={}
        )
    )


def test_refunds_waiting_for_stripe_may_share_a_missing_id():
    # A refund is written before Stripe answers; many can be in that state at once.
    p = factories.payment()
    factories.refund(p, amount="1.00", stripe_refund_id=None, status=Refund.Status.PENDING)
    factories.refund(p, amount="1.00", stripe_refund_id=None, status=Refund.Status.PENDING)
    assert Refund.objects.filter(stripe_refund_id=None).count() == 2


def test_a_payment_is_one_payment_intent_and_one_attempt_of_its_order():
    first = factories.payment(stripe_payment_intent_id="pi_1")
    assert _violates(lambda: factories.payment(stripe_payment_intent_id="pi_1"))
    assert _violates(
        lambda: Payment.objects.create(
            order=first.order,
            user=first.user,
            amount=first.amount,
            stripe_payment_intent_id="pi_2",
            intent_attempt=first.intent_attempt,
        )
    )
    second = Payment.objects.create(
        order=first.order,
        user=first.user,
        amount=first.amount,
        stripe_payment_intent_id="pi_3",
        intent_attempt=2,
    )
    assert list(first.order.payments.order_by("intent_attempt")) == [first, second]


def test_request_tokens_are_unique_per_person_only():
    p = factories.payment()
    a, b = factories.user(), factories.user()
    factories.refund(p, amount="1.00", created_by=a, request_token="1")
    factories.refund(p, amount="1.00", created_by=b, request_token="1")  # another caller's "1"
    assert _violates(lambda: factories.refund(p, amount="1.00", created_by=a, request_token="1"))


def test_a_stripe_customer_belongs_to_one_user():
    factories.user(stripe_customer_id="cus_1")
    factories.user()  # blank ids do not collide
    factories.user()
    assert _violates(lambda: factories.user(stripe_customer_id="cus_1"))


def test_order_totals_are_positive():
    assert _violates(lambda: factories.order(total="0"))


def test_what_remains_refundable():
    p = factories.payment(
        amount_refunded=Decimal("30.00"), status=Payment.Status.PARTIALLY_REFUNDED
    )
    assert p.amount_refundable == Decimal("69.99")
    failed = factories.payment(status=Payment.Status.FAILED)
    assert failed.amount_refundable == Decimal("0")


def test_currency_defaults_to_the_setting(settings):
    settings.PAYMENTS_DEFAULT_CURRENCY = "GBP"
    order = Order.objects.create(user=factories.user(), total=Decimal("5"))
    payment = Payment.objects.create(order=order, user=order.user, amount=Decimal("5"))
    assert (order.currency, payment.currency) == ("GBP", "GBP")
