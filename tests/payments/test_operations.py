"""replay_webhook_events and reconcile_payments: the operator's repair tools."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from payments.models import Payment, Refund, StripeWebhookEvent
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver, event, intent
from tests.payments.webhook_helpers import charge as webhook_charge

pytestmark = pytest.mark.django_db


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def failed_event(client, stripe_sandbox, settings):
    """A charge.refunded whose first delivery failed because Stripe was down."""
    paid = factories.paid_payment(stripe_sandbox, total="40.00")
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 1000}
    )
    charge = webhook_charge(paid)
    stripe_sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    assert (
        deliver(client, event("charge.refunded", charge, id_="evt_failed_once")).status_code == 500
    )
    return paid


def test_replay_applies_failed_events(failed_event):
    output = run("replay_webhook_events", "--failed")
    assert "evt_failed_once: processed" in output
    assert StripeWebhookEvent.objects.get().status == "processed"
    assert Refund.objects.get().amount == Decimal("10.00")
    # Nothing is left failing, and replaying by id again changes nothing.
    assert "Replayed 0" in run("replay_webhook_events", "--failed")
    run("replay_webhook_events", "evt_failed_once")
    assert Refund.objects.count() == 1


def test_replay_by_type(client, settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    p = factories.payment(status="pending", stripe_payment_intent_id="pi_replay")
    succeeded = intent("pi_replay", "succeeded", latest_charge="ch_replay")
    deliver(client, event("payment_intent.succeeded", succeeded))
    deliver(client, event("customer.created", {"id": "cus_x", "object": "customer"}))
    Payment.objects.filter(pk=p.pk).update(stripe_charge_id="")  # as if the first apply was lost
    output = run("replay_webhook_events", "--type", "payment_intent.succeeded")
    assert output.count(": processed") == 1
    assert "customer.created" not in output
    p.refresh_from_db()
    assert p.stripe_charge_id == "ch_replay"


def test_replay_needs_a_selection_and_known_ids():
    with pytest.raises(CommandError, match="Say which events"):
        run("replay_webhook_events")
    with pytest.raises(CommandError, match="Unknown event ids: evt_nope"):
        run("replay_webhook_events", "evt_nope")


def test_reconcile_repairs_what_missed_webhooks_left_stale(stripe_sandbox):
    paid = factories.paid_payment(stripe_sandbox, total="60.00")
    pending = factories.order(total="15.00")
    from payments import services

    late, _ = services.payment_intent_create(
        user=pending.user, order_id=pending.pk, payment_method="card"
    )
    # At Stripe: the pending one gets paid and the paid one refunded, and no webhook arrives.
    stripe_sandbox.confirm_payment_intent(late.stripe_payment_intent_id, "pm_card_visa")
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 6000}
    )
    output = run("reconcile_payments", "--since", "1d")
    assert f"payment #{late.pk}" in output and "pending -> succeeded" in output
    assert f"payment #{paid.pk}" in output and "succeeded -> refunded" in output
    assert "2 changed" in output
    late.refresh_from_db()
    paid.refresh_from_db()
    assert (late.status, late.order.status) == ("succeeded", "paid")
    assert (paid.status, paid.amount_refunded) == ("refunded", Decimal("60.00"))
    # Twice changes nothing the second time.
    assert "0 changed" in run("reconcile_payments", "--since", "1d")


def test_reconcile_rejects_a_bad_since():
    with pytest.raises(CommandError, match="--since"):
        run("reconcile_payments", "--since", "last tuesday")


def test_reconcile_finds_a_dashboard_refund_on_an_older_payment(stripe_sandbox):
    import time

    from django.utils import timezone

    paid = factories.paid_payment(stripe_sandbox, total="30.00")
    time.sleep(1.1)  # the PaymentIntent is now older than the window below
    since = timezone.now().isoformat()
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 500}
    )
    output = run("reconcile_payments", "--since", since)
    assert f"payment #{paid.pk}" in output
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("5.00"))


def test_reconcile_goes_on_past_a_payment_stripe_fails_for(stripe_sandbox, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    first = factories.paid_payment(stripe_sandbox, total="10.00")
    second = factories.paid_payment(stripe_sandbox, total="20.00")
    for p in (first, second):
        stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": p.stripe_payment_intent_id})
    stripe_sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    with pytest.raises(CommandError, match="1 payment\\(s\\) could not be checked"):
        run("reconcile_payments", "--since", "1d")
    statuses = sorted(Payment.objects.values_list("status", flat=True))
    assert statuses == ["refunded", "succeeded"]  # one repaired, one left for the next run
    run("reconcile_payments", "--since", "1d")
    assert set(Payment.objects.values_list("status", flat=True)) == {"refunded"}


def test_the_demos_failed_webhook_events_replay_for_real():
    call_command("seed_demo", "--payments", "600", "--allow-production", stdout=StringIO())
    failed = StripeWebhookEvent.objects.filter(status="failed")
    assert failed.exists()
    assert not failed.filter(processed_at__isnull=False).exists()
    output = run("replay_webhook_events", "--failed")
    assert "failed" not in output.split("Replayed")[-1]
    assert not StripeWebhookEvent.objects.filter(status="failed").exists()


def test_a_replay_that_fails_again_is_not_stamped_processed(failed_event, stripe_sandbox):
    stripe_sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    with pytest.raises(CommandError, match="still fail"):
        run("replay_webhook_events", "--failed")
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.processed, row.processed_at) == ("failed", False, None)
    assert row.processing_error.startswith("ProviderUnavailable")
