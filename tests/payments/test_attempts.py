"""One payment row per PaymentIntent: facts about one attempt never land on another, statuses
decided from facts that do not tie, and failure reasons that belong to the current state."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from payments import services
from payments.models import Payment
from payments.services.transitions import WrongPaymentIntent
from shop.models import Order
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver, event, intent, sandbox_events

CREATE = "/api/payments/payments/create_payment_intent/"


@pytest.fixture(autouse=True)
def _secret(settings, request):
    # After the stand-in's fixture, which points the secrets at its own.
    if "stripe_sandbox" in request.fixturenames:
        request.getfixturevalue("stripe_sandbox")
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]


def start(api: APIClient, order: Order) -> dict:
    response = api.post(CREATE, {"order_id": order.pk}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


# 4 ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_an_old_attempts_cancellation_never_lands_on_the_new_attempt(stripe_sandbox):
    order = factories.order(total="30.00")
    api = factories.api_client(order.user)
    first = start(api, order)
    stripe_sandbox.api("POST", f"/v1/payment_intents/{first['payment_intent_id']}/cancel")
    second = start(api, order)  # the next attempt: a new PaymentIntent, a new payment
    (canceled,) = sandbox_events(stripe_sandbox, "payment_intent.canceled")

    # The old PaymentIntent's cancellation arrives late, then the new one is paid.
    hooks = Client()
    assert deliver(hooks, canceled).status_code == 200
    stripe_sandbox.confirm_payment_intent(second["payment_intent_id"])
    (succeeded,) = sandbox_events(stripe_sandbox, "payment_intent.succeeded")
    assert deliver(hooks, succeeded).status_code == 200

    old, new = (
        Payment.objects.get(pk=first["payment_id"]),
        Payment.objects.get(pk=second["payment_id"]),
    )
    assert (old.stripe_payment_intent_id, old.status) == (first["payment_intent_id"], "cancelled")
    assert (new.stripe_payment_intent_id, new.status) == (second["payment_intent_id"], "succeeded")
    order.refresh_from_db()
    assert (order.status, order.current_payment_id) == ("paid", new.pk)


@pytest.mark.django_db
def test_the_transition_function_refuses_another_payment_intents_facts():
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_mine")
    with pytest.raises(WrongPaymentIntent):
        services.payment_apply_intent(
            payment, intent("pi_other", "canceled"), observed_at=payment.created_at
        )
    payment.refresh_from_db()
    assert payment.status == "pending"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_late_cancellation_racing_the_next_checkout_leaves_the_new_attempt_payable(
    stripe_sandbox,
):
    for _ in range(3):
        order = factories.order(total="30.00")
        api = factories.api_client(order.user)
        first = start(api, order)
        stripe_sandbox.api("POST", f"/v1/payment_intents/{first['payment_intent_id']}/cancel")
        (canceled,) = sandbox_events(
            stripe_sandbox, "payment_intent.canceled", first["payment_intent_id"]
        )
        barrier = threading.Barrier(2)
        answers: dict[str, object] = {}

        def webhook(evt=canceled, barrier=barrier, answers=answers) -> None:
            barrier.wait()
            answers["hook"] = deliver(Client(), evt).status_code
            connection.close()

        def checkout(order=order, api=api, barrier=barrier, answers=answers) -> None:
            barrier.wait()
            answers["second"] = api.post(CREATE, {"order_id": order.pk}, format="json")
            connection.close()

        threads = [threading.Thread(target=webhook), threading.Thread(target=checkout)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        second = answers["second"].json()  # type: ignore[attr-defined]
        assert answers["hook"] == 200
        new = Payment.objects.get(pk=second["payment_id"])
        assert new.stripe_payment_intent_id != first["payment_intent_id"]
        assert new.status == "pending"
        assert Payment.objects.get(pk=first["payment_id"]).status == "cancelled"


# 9 ----------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_decline_in_the_second_of_creation_is_not_lost(client):
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_tie")
    # Synced from the PaymentIntent's creation, which Stripe stamps in whole seconds.
    second = payment.created_at.replace(microsecond=0)
    created = int(second.timestamp())
    Payment.objects.filter(pk=payment.pk).update(stripe_synced_at=second)
    declined = intent(
        "pi_tie",
        "requires_payment_method",
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"},
    )
    assert deliver(client, event("payment_intent.payment_failed", declined, created=created))
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("failed", "insufficient_funds")


@pytest.mark.django_db
def test_a_bank_transfer_processing_then_failing_within_a_second_ends_failed(client):
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_bank")
    second = int(payment.created_at.timestamp()) + 10
    failed = intent(
        "pi_bank", "requires_payment_method", last_payment_error={"code": "payment_failed"}
    )
    # Delivered in the wrong order, both stamped with the same second.
    deliver(client, event("payment_intent.payment_failed", failed, created=second))
    deliver(
        client, event("payment_intent.processing", intent("pi_bank", "processing"), created=second)
    )
    payment.refresh_from_db()
    assert payment.status == "failed"


# 13 ---------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_a_payment_that_succeeds_after_a_decline_shows_no_failure(stripe_sandbox):
    order = factories.order(total="30.00")
    started = start(factories.api_client(order.user), order)
    pi = started["payment_intent_id"]
    status, _ = stripe_sandbox.confirm_payment_intent(pi, "pm_card_chargeDeclinedInsufficientFunds")
    assert status == 402
    payment = services.payment_sync_from_stripe(payment_id=started["payment_id"])
    assert (payment.status, payment.failure_code) == ("failed", "insufficient_funds")

    # A second try needing 3-D Secure fails there: the reason is the new one.
    stripe_sandbox.confirm_payment_intent(pi, card={"number": "4000002500003155"})
    payment = services.payment_sync_from_stripe(payment_id=payment.pk)
    assert payment.status == "pending"  # awaiting the customer's bank
    assert (payment.failure_code, payment.failure_message) == ("", "")
    stripe_sandbox.fail_3ds(pi)
    payment = services.payment_sync_from_stripe(payment_id=payment.pk)
    assert payment.status == "failed"
    assert payment.failure_code == "payment_intent_authentication_failure"

    stripe_sandbox.confirm_payment_intent(pi, "pm_card_visa")
    payment = services.payment_sync_from_stripe(payment_id=payment.pk)
    assert (payment.status, payment.failure_code, payment.failure_message) == ("succeeded", "", "")
