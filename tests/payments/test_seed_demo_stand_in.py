"""Every demo payment exists at the stand-in (`seed_demo --stand-in`), so every button works on
it; a payment Stripe does not know says "not found at Stripe", never a generic refusal."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from payments import demo_data, services
from payments.models import Payment, Refund
from shop.models import CustomUser, Order
from tests import factories

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--allow-production", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def books(payment: Payment) -> tuple:
    payment.refresh_from_db()
    refunds = sorted(
        payment.refunds.values_list("stripe_refund_id", "amount", "status", "failure_reason")
    )
    return (
        payment.status,
        payment.amount_refunded,
        payment.stripe_charge_id,
        payment.card_brand,
        payment.card_last4,
        payment.failure_code,
        payment.failure_message,
        refunds,
    )


def test_every_demo_payment_exists_at_the_stand_in_as_the_app_has_it(stripe_sandbox):
    output = seed("--payments", "60", "--stand-in")
    assert "60 demo payments brought into the stand-in (0 were there already)" in output
    payments = list(Payment.objects.order_by("pk"))
    assert len(payments) == 60
    for payment in payments:
        status, intent, _ = stripe_sandbox.api(
            "GET", f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
        )
        assert status == 200
        assert intent["amount"] > 0
        assert intent["currency"] == payment.currency.lower()
        assert intent["created"] == int(payment.created_at.timestamp())
    # Refreshing any of them changes nothing: Stripe holds what the app recorded.
    for payment in payments:
        before = books(payment)
        services.payment_refresh_from_stripe(payment_id=payment.pk, settle_refunds=True)
        assert books(payment) == before, payment.stripe_payment_intent_id
    # Nothing was sent as events: the app already has them.
    assert stripe_sandbox.api("GET", "/v1/events")[1]["data"] == []


def test_every_refundable_demo_payment_can_be_refunded(stripe_sandbox):
    seed("--payments", "80", "--stand-in")
    refundable = [p for p in Payment.objects.order_by("pk") if p.amount_refundable > 0]
    kinds = {p.status for p in refundable}
    assert kinds >= {Payment.Status.SUCCEEDED, Payment.Status.PARTIALLY_REFUNDED}
    assert {p.payment_method for p in refundable} >= {"card", "bank_transfer"}
    for payment in refundable:
        refund = services.refund_create(
            payment_id=payment.pk, amount=None, reason="requested_by_customer", created_by=None
        )
        assert refund.status == Refund.Status.SUCCEEDED, refund.failure_reason
        payment.refresh_from_db()
        assert payment.status == Payment.Status.REFUNDED
        assert payment.amount_refunded == payment.amount
    # A payment refunded in full is refused as such at Stripe too.
    done = Payment.objects.filter(status=Payment.Status.REFUNDED).first()
    status, body, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": done.stripe_payment_intent_id}
    )
    assert (status, body["error"]["code"]) == (400, "charge_already_refunded")


def test_seeding_again_keeps_what_the_stand_in_has(stripe_sandbox):
    seed("--payments", "30", "--stand-in")
    payment = Payment.objects.filter(status=Payment.Status.SUCCEEDED).first()
    services.refund_create(
        payment_id=payment.pk, amount=Decimal("1.00"), reason="duplicate", created_by=None
    )
    output = seed("--payments", "40", "--stand-in")
    assert "10 demo payments brought into the stand-in (30 were there already)" in output
    charge = stripe_sandbox.api("GET", f"/v1/charges/{payment.stripe_charge_id}")[1]
    assert charge["amount_refunded"] == 100 or payment.currency in ("JPY", "KWD")
    before = books(payment)
    services.payment_refresh_from_stripe(payment_id=payment.pk, settle_refunds=True)
    assert books(payment) == before


def test_only_the_first_demo_payments_are_brought_in(stripe_sandbox, monkeypatch):
    monkeypatch.setattr(demo_data, "STAND_IN_BATCH", 7)
    seed("--payments", "25")
    assert demo_data.seed_stand_in(limit=20) == (20, 0)
    assert len(stripe_sandbox.requests_log()) == 0  # the import is no /v1 call
    intents = stripe_sandbox.api("GET", "/v1/payment_intents", {"limit": 100})[1]["data"]
    assert sorted(pi["id"] for pi in intents) == [f"pi_demo_{i:08d}" for i in range(20)]


def test_without_a_stand_in_it_says_so(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(CommandError, match="is the stand-in running"):
        seed("--payments", "5", "--stand-in")
    settings.STRIPE_API_BASE = ""
    with pytest.raises(CommandError, match="STRIPE_API_BASE is not set"):
        seed("--payments", "5", "--stand-in")


# --- A payment Stripe does not know ---------------------------------------------------------------


@pytest.fixture
def unknown(stripe_sandbox) -> Payment:
    """Paid in our books, unknown at Stripe (another account's, or a stand-in reset since)."""
    return factories.payment(
        stripe_payment_intent_id="pi_nobody_knows",
        stripe_charge_id="ch_nobody_knows",
        status=Payment.Status.SUCCEEDED,
    )


def test_a_refund_of_a_payment_stripe_does_not_know_says_not_found(unknown):
    with pytest.raises(services.RefundRefused) as refused:
        services.refund_create(
            payment_id=unknown.pk, amount=None, reason="requested_by_customer", created_by=None
        )
    assert "not found at stripe" in str(refused.value).lower()
    assert "refused" not in str(refused.value)
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason.startswith("Not found at Stripe")
    unknown.refresh_from_db()
    assert unknown.amount_refundable == unknown.amount


def test_the_api_says_not_found_at_stripe(unknown):
    finance = factories.user("fin", group="Finance")
    client = APIClient()
    client.force_authenticate(finance)
    response = client.post(
        "/api/payments/refunds/create_refund/", {"payment_id": unknown.pk}, format="json"
    )
    assert response.status_code == 502
    assert "not found at stripe" in response.json()["error"]["message"].lower()
    assert "refused" not in response.json()["error"]["message"]


def test_the_back_office_refresh_says_not_found_at_stripe(client, unknown):
    finance = factories.user("fin", group="Finance")
    client.force_login(finance)
    response = client.post(reverse("backoffice:payment_refresh", args=[unknown.pk]))
    assert response.status_code == 502
    html = response.content.decode()
    assert "Not found at Stripe" in html
    assert "refused this request" not in html


def test_open_orders_are_added_once_whatever_became_of_them():
    seed("--payments", "5")
    alice = CustomUser.objects.get(username="alice")
    first, second, third = Order.objects.filter(user=alice).order_by("pk")
    Order.objects.filter(pk=first.pk).update(status=Order.Status.PAID)
    Order.objects.filter(pk=second.pk).update(status=Order.Status.CANCELLED)
    Order.objects.filter(pk=third.pk).update(total=Decimal("12.00"))  # edited, say
    assert "0 unpaid orders added" in seed("--payments", "5")
    assert "0 unpaid orders added" in seed("--payments", "5")
    assert Order.objects.filter(user=alice).count() == 3
    assert Order.objects.filter(user__username="bob").count() == 3
