"""`seed_demo` makes a believable back-office, and running it again adds nothing."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q, Sum
from django.utils import timezone

from payments import money
from payments.models import Payment, Refund, StripeWebhookEvent
from shop.models import CustomUser, Order

pytestmark = pytest.mark.django_db


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--allow-production", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return tuple(
        m.objects.count() for m in (CustomUser, Order, Payment, Refund, StripeWebhookEvent)
    )


def test_it_creates_the_demo_users_and_prints_their_credentials():
    output = seed("--payments", "50")
    for username in ("admin", "finance", "support", "alice", "bob"):
        assert username in output
        user = CustomUser.objects.get(username=username)
        assert user.check_password(f"{username}-demo-pass")
        assert f"{username}-demo-pass" in output
    assert CustomUser.objects.get(username="admin").is_superuser
    assert CustomUser.objects.get(username="finance").has_perm("payments.add_refund")
    support = CustomUser.objects.get(username="support")
    assert support.has_perm("payments.view_payment")
    assert not support.has_perm("payments.add_refund")


def test_running_it_twice_duplicates_nothing():
    seed("--payments", "120")
    first = counts()
    seed("--payments", "120")
    assert counts() == first
    assert first[2] == 120


def test_asking_for_more_adds_only_the_difference():
    seed("--payments", "40")
    seed("--payments", "100")
    assert Payment.objects.count() == 100


def test_it_spreads_payments_realistically():
    seed("--payments", "300")
    payments = Payment.objects.all()
    statuses = set(payments.values_list("status", flat=True))
    assert statuses == set(Payment.Status.values)
    assert set(payments.values_list("currency", flat=True)) >= {"EUR", "USD", "JPY", "KWD"}
    assert set(payments.values_list("payment_method", flat=True)) == set(Payment.Method.values)
    oldest = payments.order_by("created_at").first().created_at
    assert timezone.now() - oldest <= timedelta(days=90)
    assert timezone.now() - oldest > timedelta(days=30)
    assert StripeWebhookEvent.objects.filter(status="failed").exists() or len(payments) < 300


def test_seeded_money_is_consistent():
    seed("--payments", "300")
    for p in Payment.objects.annotate(
        refunded=Sum("refunds__amount", filter=Q(refunds__status=Refund.Status.SUCCEEDED))
    ).select_related("order"):
        # Every amount is exactly chargeable in its currency, and matches its order.
        money.to_minor_units(p.amount, p.currency)
        assert (p.order.total, p.order.currency) == (p.amount, p.currency)
        assert p.amount_refunded == (p.refunded or Decimal("0"))
        if p.status == Payment.Status.REFUNDED:
            assert p.amount_refunded == p.amount
        if p.status == Payment.Status.PARTIALLY_REFUNDED:
            assert Decimal("0") < p.amount_refunded < p.amount


def test_the_demo_customers_have_only_unpaid_orders_to_check_out():
    seed("--payments", "50")
    demo_customers = Order.objects.filter(user__username__in=["alice", "bob"])
    by_user = dict(demo_customers.values_list("user__username").annotate(n=Count("id")))
    assert by_user == {"alice": 3, "bob": 3}
    assert not demo_customers.filter(payments__isnull=False).exists()
    assert not demo_customers.exclude(status=Order.Status.PENDING).exists()


def test_it_refuses_to_run_on_a_production_configuration(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("seed_demo", stdout=StringIO())
    assert CustomUser.objects.count() == 0


def test_live_payments_are_really_paid_at_stripe_and_refundable(stripe_sandbox):
    from payments import services

    output = seed("--payments", "10", "--live", "3")
    assert "3 payments paid through Stripe added" in output
    live = Payment.objects.exclude(stripe_payment_intent_id__startswith="pi_demo_")
    assert [p.status for p in live] == ["succeeded"] * 3
    intents = stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"]
    assert {pi["id"] for pi in intents} == {p.stripe_payment_intent_id for p in live}
    assert "0 payments paid through Stripe added" in seed("--payments", "10", "--live", "3")

    refund = services.refund_create(
        payment_id=live[0].pk, amount=None, reason="requested_by_customer", created_by=None
    )
    assert refund.status == Refund.Status.SUCCEEDED


def test_live_seeding_without_stripe_says_so(settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    with pytest.raises(CommandError, match="is the stand-in running"):
        seed("--payments", "5", "--live", "1")
