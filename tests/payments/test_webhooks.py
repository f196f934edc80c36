"""Stripe webhooks: verified, recorded once, applied once, in any order."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from payments.models import Payment, Refund, StripeWebhookEvent
from tests import factories
from tests.payments.webhook_helpers import SECRET, URL, deliver, event, intent, signature
from tests.payments.webhook_helpers import charge as webhook_charge

pytestmark = pytest.mark.django_db

NOW = int(time.time())


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]


@pytest.fixture
def payment():
    return factories.payment(status="pending", stripe_payment_intent_id="pi_hook")


def succeeded(created=NOW, **extra):
    return event(
        "payment_intent.succeeded",
        intent("pi_hook", "succeeded", latest_charge="ch_hook", **extra),
        created=created,
    )


def refund_obj(re_id, amount, status="succeeded", **extra):
    return {
        "id": re_id,
        "object": "refund",
        "amount": amount,
        "currency": "eur",
        "payment_intent": "pi_hook",
        "charge": "ch_hook",
        "status": status,
        "reason": None,
        "metadata": {},
        "created": NOW,
        **extra,
    }


# --- intake -----------------------------------------------------------------------------------


def test_a_missing_signature_is_refused_and_not_recorded(client, payment):
    response = client.post(URL, data=json.dumps(succeeded()), content_type="application/json")
    assert response.status_code == 400
    assert not StripeWebhookEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "pending"


@pytest.mark.parametrize(
    "case", ["wrong_secret", "tampered", "expired", "future_garbage", "not_hex"]
)
def test_forged_or_stale_deliveries_change_nothing(client, payment, case):
    body = json.dumps(succeeded()).encode()
    header = signature(body)
    if case == "wrong_secret":
        header = signature(body, "whsec_attacker")
    elif case == "tampered":
        body = body.replace(b"succeeded", b"succeedeD", 1)
    elif case == "expired":
        header = signature(body, timestamp=int(time.time()) - 301)
    elif case == "future_garbage":
        header = "t=abc,v1=def"
    elif case == "not_hex":
        header = "v1=zzz"
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )
    assert response.status_code == 400
    assert not StripeWebhookEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_either_secret_verifies_during_a_rotation(client, payment, settings):
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_new", SECRET]
    assert deliver(client, succeeded(), secret=SECRET).status_code == 200
    assert deliver(client, succeeded(id_="evt_rotated"), secret="whsec_new").status_code == 200
    assert StripeWebhookEvent.objects.count() == 2


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"object": "event"}'])
def test_signed_but_malformed_payloads_are_refused(client, body):
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature(body)
    )
    assert response.status_code == 400
    assert not StripeWebhookEvent.objects.exists()


def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405


def test_oversized_bodies_are_refused(client):
    body = b"{" + b" " * (600 * 1024) + b"}"
    response = client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature(body)
    )
    assert response.status_code == 413
    assert not StripeWebhookEvent.objects.exists()


# --- each event type ---------------------------------------------------------------------------


def test_succeeded_marks_the_payment_and_the_order_paid(client, payment):
    response = deliver(client, succeeded())
    assert response.status_code == 200
    assert response.json()["outcome"] == "processed"
    payment.refresh_from_db()
    assert (payment.status, payment.stripe_charge_id) == ("succeeded", "ch_hook")
    assert payment.order.status == "paid"
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.processed, row.payment) == ("processed", True, payment)
    assert row.event_type == "payment_intent.succeeded"
    assert row.stripe_object_id == "pi_hook"


def test_payment_failed_records_stripes_reason(client, payment):
    error = {
        "code": "card_declined",
        "decline_code": "insufficient_funds",
        "message": "Your card has insufficient funds.",
    }
    deliver(
        client,
        event(
            "payment_intent.payment_failed",
            intent("pi_hook", "requires_payment_method", last_payment_error=error),
        ),
    )
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code, payment.failure_message) == (
        "failed",
        "insufficient_funds",
        "Your card has insufficient funds.",
    )
    assert payment.order.status == "pending"


@pytest.mark.parametrize(
    ("type_", "pi_status", "expected"),
    [
        ("payment_intent.canceled", "canceled", "cancelled"),
        ("payment_intent.processing", "processing", "processing"),
    ],
)
def test_canceled_and_processing(client, payment, type_, pi_status, expected):
    deliver(client, event(type_, intent("pi_hook", pi_status)))
    payment.refresh_from_db()
    assert payment.status == expected


def test_charge_succeeded_records_the_card(client, payment):
    charge = {
        "id": "ch_hook",
        "object": "charge",
        "payment_intent": "pi_hook",
        "status": "succeeded",
        "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
    }
    deliver(client, event("charge.succeeded", charge))
    payment.refresh_from_db()
    assert (payment.stripe_charge_id, payment.card_brand, payment.card_last4) == (
        "ch_hook",
        "visa",
        "4242",
    )


def test_other_event_types_are_recorded_and_ignored(client):
    response = deliver(client, event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert response.status_code == 200
    assert StripeWebhookEvent.objects.get().status == "ignored"


def test_unknown_payment_intents_are_recorded_as_unmatched(client, payment):
    response = deliver(client, event("payment_intent.succeeded", intent("pi_other", "succeeded")))
    assert response.status_code == 200
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.processed, row.payment) == ("unmatched", True, None)
    payment.refresh_from_db()
    assert payment.status == "pending"


# --- duplicates and order ----------------------------------------------------------------------


def test_a_repeated_delivery_is_counted_not_reapplied(client, payment):
    evt = succeeded()
    deliver(client, evt)
    first = StripeWebhookEvent.objects.get()
    Payment.objects.filter(pk=payment.pk).update(stripe_charge_id="ch_changed_since")
    assert deliver(client, evt).status_code == 200
    row = StripeWebhookEvent.objects.get()
    assert (row.delivery_count, row.processed_at) == (2, first.processed_at)
    payment.refresh_from_db()
    assert payment.stripe_charge_id == "ch_changed_since"  # not applied a second time


def test_a_late_processing_never_undoes_succeeded(client, payment):
    deliver(client, succeeded(created=NOW))
    deliver(
        client,
        event("payment_intent.processing", intent("pi_hook", "processing"), created=NOW - 10),
    )
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_an_older_failure_does_not_overwrite_newer_processing(client, payment):
    deliver(
        client, event("payment_intent.processing", intent("pi_hook", "processing"), created=NOW)
    )
    deliver(
        client,
        event(
            "payment_intent.payment_failed",
            intent(
                "pi_hook", "requires_payment_method", last_payment_error={"code": "card_declined"}
            ),
            created=NOW - 30,
        ),
    )
    payment.refresh_from_db()
    assert payment.status == "processing"


def test_a_failed_payment_can_still_succeed(client, payment):
    deliver(
        client,
        event(
            "payment_intent.payment_failed",
            intent(
                "pi_hook", "requires_payment_method", last_payment_error={"code": "card_declined"}
            ),
            created=NOW - 60,
        ),
    )
    deliver(client, succeeded(created=NOW))
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_cancelled_is_final(client, payment):
    deliver(client, event("payment_intent.canceled", intent("pi_hook", "canceled"), created=NOW))
    deliver(
        client, event("payment_intent.processing", intent("pi_hook", "processing"), created=NOW + 5)
    )
    payment.refresh_from_db()
    assert payment.status == "cancelled"


# --- refunds --------------------------------------------------------------------------------------


@pytest.fixture
def stripe_refunds(stripe_sandbox, settings):
    """Refunds as Stripe holds them for pi_hook: a real PaymentIntent in the stand-in, paid and
    refunded there, whose id our local payment then carries."""
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]  # the stand-in's fixture set its own
    alice = factories.user("alice")
    paid = factories.paid_payment(stripe_sandbox, alice, total="99.99")
    return stripe_sandbox, paid


def test_a_refund_made_in_stripes_dashboard_is_recorded(client, stripe_refunds):
    sandbox, paid = stripe_refunds
    status, refund, _ = sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 2500}
    )
    assert status == 200
    charge = webhook_charge(paid, amount_refunded=2500)
    assert deliver(client, event("charge.refunded", charge)).status_code == 200
    local = Refund.objects.get()
    assert (local.stripe_refund_id, local.amount, local.status, local.created_by) == (
        refund["id"],
        Decimal("25.00"),
        "succeeded",
        None,
    )
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("25.00"))


def test_refunded_before_succeeded_ends_refunded(client, stripe_refunds):
    sandbox, paid = stripe_refunds
    Payment.objects.filter(pk=paid.pk).update(status="pending", stripe_synced_at=None)
    sandbox.api("POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id})
    charge = webhook_charge(paid)
    deliver(client, event("charge.refunded", charge, created=NOW))
    deliver(
        client,
        event(
            "payment_intent.succeeded",
            intent(paid.stripe_payment_intent_id, "succeeded"),
            created=NOW - 5,
        ),
    )
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("refunded", Decimal("99.99"))
    assert paid.order.status == "paid"


def test_a_failed_refund_after_a_refunded_charge_gives_the_amount_back(client, stripe_refunds):
    sandbox, paid = stripe_refunds
    _, refund, _ = sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id}
    )
    charge = webhook_charge(paid)
    deliver(client, event("charge.refunded", charge, created=NOW))
    paid.refresh_from_db()
    assert paid.status == "refunded"
    failed = {**refund, "status": "failed", "failure_reason": "expired_or_canceled_card"}
    deliver(client, event("charge.refund.updated", failed, created=NOW + 60))
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("succeeded", Decimal("0"))
    local = Refund.objects.get()
    assert (local.status, local.failure_reason) == ("failed", "expired_or_canceled_card")
    # A late copy of the older "succeeded" news cannot resurrect it.
    deliver(client, event("charge.refund.updated", refund, created=NOW + 30))
    assert Refund.objects.get().status == "failed"


def test_an_error_is_kept_and_stripes_retry_applies_it(client, stripe_refunds, settings):
    sandbox, paid = stripe_refunds
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 1000}
    )
    charge = webhook_charge(paid)
    evt = event("charge.refunded", charge)
    sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    response = deliver(client, evt)
    assert response.status_code == 500
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.processed) == ("failed", False)
    assert "ProviderUnavailable" in row.processing_error
    assert not Refund.objects.exists()

    assert deliver(client, evt).status_code == 200  # Stripe's retry
    row.refresh_from_db()
    assert (row.status, row.processed, row.processing_error, row.delivery_count) == (
        "processed",
        True,
        "",
        2,
    )
    assert Refund.objects.get().amount == Decimal("10.00")


def test_the_charge_that_paid_replaces_a_declined_attempts_charge(client, payment):
    declined = intent(
        "pi_hook",
        "requires_payment_method",
        latest_charge="ch_declined",
        last_payment_error={"code": "card_declined"},
    )
    deliver(client, event("payment_intent.payment_failed", declined, created=NOW - 60))
    deliver(client, succeeded(created=NOW))  # latest_charge="ch_hook"
    payment.refresh_from_db()
    assert (payment.status, payment.stripe_charge_id) == ("succeeded", "ch_hook")


def test_of_two_facts_from_the_same_second_the_first_heard_stands(client, payment):
    failed = intent(
        "pi_hook", "requires_payment_method", last_payment_error={"code": "card_declined"}
    )
    deliver(client, event("payment_intent.payment_failed", failed, created=NOW))
    deliver(
        client, event("payment_intent.processing", intent("pi_hook", "processing"), created=NOW)
    )
    payment.refresh_from_db()
    assert payment.status == "failed"


def test_a_copy_that_fails_after_another_applied_it_leaves_it_processed(
    client, stripe_refunds, settings
):
    from payments import services

    sandbox, paid = stripe_refunds
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    evt = event("charge.refunded", webhook_charge(paid))
    assert deliver(client, evt).status_code == 200
    row = StripeWebhookEvent.objects.get()
    sandbox.inject_fault("GET", "/v1/refunds", kind="500", count=1)
    with pytest.raises(services.WebhookProcessingFailed):
        services.webhook_event_process(event_id=row.pk)  # a late copy, racing the first
    row.refresh_from_db()
    assert (row.status, row.processed, row.processing_error) == ("processed", True, "")


def test_a_payment_intents_client_secret_is_not_kept(client, payment):
    evt = succeeded(client_secret="pi_hook_secret_abc")
    deliver(client, evt)
    row = StripeWebhookEvent.objects.get()
    assert row.data["data"]["object"]["client_secret"] is None
    assert "pi_hook_secret_abc" not in json.dumps(row.data)
