"""Real signed deliveries from the Stripe stand-in to the running app, and concurrent copies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from payments import services
from payments.models import Payment, Refund, StripeWebhookEvent
from tests import factories
from tests.payments.test_concurrency import run_together
from tests.payments.webhook_helpers import SECRET, deliver, event
from tests.payments.webhook_helpers import charge as webhook_charge

# serialized_rollback keeps the roles (a data migration's rows) for the tests after these.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_the_stand_ins_deliveries_alone_settle_the_books(live_server, stripe_sandbox):
    # On SQLite the live server shares this thread's in-memory database connection, so this test
    # touches the database only while no delivery is in flight (before the endpoint exists, and
    # after wait_for_deliveries).
    order = factories.order(total="80.00")
    payment, _ = services.payment_intent_create(
        user=order.user, order_id=order.pk, payment_method="card"
    )
    stripe_sandbox.add_webhook_endpoint(f"{live_server.url}/api/payments/webhook/stripe/")
    stripe_sandbox.confirm_payment_intent(payment.stripe_payment_intent_id, "pm_card_visa")
    stripe_sandbox.wait_for_deliveries()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == ("succeeded", "paid")
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")

    # A refund made outside the app (Stripe's Dashboard) reaches the books by webhook.
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": payment.stripe_payment_intent_id, "amount": 3000}
    )
    stripe_sandbox.wait_for_deliveries()
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded) == ("partially_refunded", Decimal("30.00"))
    assert Refund.objects.get().created_by is None
    failed = StripeWebhookEvent.objects.filter(status="failed")
    assert not failed.exists(), list(failed.values("event_type", "processing_error"))
    deliveries = stripe_sandbox.webhook_deliveries()
    assert deliveries and all(d["status"] == "succeeded" for d in deliveries)


@pytest.mark.postgres
def test_concurrent_copies_of_an_event_apply_once(stripe_sandbox, settings):
    paid = factories.paid_payment(stripe_sandbox, total="50.00")
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 2000}
    )
    charge = webhook_charge(paid)
    evt = event("charge.refunded", charge)
    responses = run_together(8, lambda i: deliver(Client(), evt))
    assert [getattr(r, "status_code", r) for r in responses] == [200] * 8
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.delivery_count) == ("processed", 8)
    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("20.00")
    assert Payment.objects.get().status == "partially_refunded"
