"""What real Stripe sends that the stand-in did not: decimal-string fields, bodies that are
signed yet malformed, events rendered at another API version, and the refund.* events. All
through the real webhook endpoint, with signed payloads."""

from __future__ import annotations

import json

import pytest

from payments.models import Payment, Refund, StripeWebhookEvent, StripeWebhookRefusal
from tests import factories
from tests.payments.webhook_helpers import SECRET, URL, deliver, event, intent, signature

pytestmark = pytest.mark.django_db


@pytest.fixture
def hooks(client, settings, request):
    if "stripe_sandbox" in request.fixturenames:
        request.getfixturevalue("stripe_sandbox")  # it sets its own secret first
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    return client


def post_raw(client, body: bytes):
    return client.post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature(body)
    )


def test_an_event_with_decimal_strings_is_stored_as_sent(hooks):
    price = {"id": "price_1", "object": "price", "unit_amount_decimal": "1234.5678"}
    response = deliver(hooks, event("price.updated", price))
    assert response.status_code == 200
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.data["data"]["object"]["unit_amount_decimal"]) == (
        "ignored",
        "1234.5678",
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.update(data=[1, 2]), "`data.object` is not an object"),
        (lambda e: e["data"].update(object="pi_1"), "`data.object` is not an object"),
        (lambda e: e.update(created=1e15), "`created` is not a Unix timestamp"),
        (lambda e: e.update(created=10**15), "`created` is not a time Stripe can have sent"),
        (lambda e: e.update(id="evt_" + "x" * 300), "`id` is not a string of 1 to 255"),
        (lambda e: e.update(type=None), "`type` is not a string"),
        (lambda e: e["data"]["object"].update(id="pi_\x00"), "contains a NUL character"),
        (lambda e: e["data"]["object"].update(id=["x"]), "`data.object.id` is not a string"),
        (lambda e: e["data"]["object"].update(description="\ud800"), "unpaired UTF-16 surrogate"),
        (lambda e: e.update(id="evt_\udfff"), "unpaired UTF-16 surrogate"),
    ],
)
def test_a_signed_but_malformed_event_is_a_400_and_leaves_a_trace(hooks, change, reason):
    evt = event("payment_intent.succeeded", intent("pi_1", "succeeded"))
    change(evt)
    response = post_raw(hooks, json.dumps(evt).encode())
    assert response.status_code == 400
    assert reason in response.json()["message"]
    assert not StripeWebhookEvent.objects.exists()
    refusal = StripeWebhookRefusal.objects.get()
    assert reason in refusal.reason
    assert len(refusal.body_sha256) == 64


def test_a_surrogate_pair_is_text_and_the_event_is_stored(hooks):
    price = {"id": "price_1", "object": "price", "nickname": "\U0001f600 plan"}
    body = json.dumps(event("price.updated", price)).encode()  # ASCII: the pair as two escapes
    assert b"\\ud83d\\ude00" in body
    response = post_raw(hooks, body)
    assert response.status_code == 200
    assert StripeWebhookEvent.objects.get().data["data"]["object"]["nickname"] == "\U0001f600 plan"


def test_an_event_at_another_api_version_is_applied_from_the_object_at_ours(hooks, stripe_sandbox):
    order = factories.order(total="25.00")
    from payments import services

    payment, _ = services.payment_intent_create(
        user=order.user, order_id=order.pk, payment_method="card"
    )
    stripe_sandbox.confirm_payment_intent(payment.stripe_payment_intent_id)
    # Rendered at an old version, its body says something else: not applied as it is.
    old = event(
        "payment_intent.payment_failed",
        intent(payment.stripe_payment_intent_id, "requires_payment_method", charges={"data": []}),
    )
    old["api_version"] = "2024-06-20"
    assert deliver(hooks, old).status_code == 200
    row = StripeWebhookEvent.objects.get()
    assert (row.api_version, row.status) == ("2024-06-20", "processed")
    payment.refresh_from_db()
    assert payment.status == "succeeded"  # Stripe's object at our version: it paid
    fetched = stripe_sandbox.requests_log(
        method="GET", path=f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
    )
    assert fetched and fetched[-1]["stripe_version"] == "2026-10-28.endive"


def test_refund_events_are_applied_once_in_any_order(hooks, stripe_sandbox):
    paid = factories.paid_payment(stripe_sandbox, total="60.00")
    _, made, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 1500}
    )
    created = event("refund.created", {**made, "status": "pending"}, created=made["created"])
    updated = event("refund.updated", made, created=made["created"] + 1)
    for evt in (updated, created, updated):
        assert deliver(hooks, evt).status_code == 200
    refund = Refund.objects.get()
    assert (refund.stripe_refund_id, refund.status) == (made["id"], "succeeded")
    paid.refresh_from_db()
    assert (paid.status, str(paid.amount_refunded)) == ("partially_refunded", "15.000")
    assert Payment.objects.count() == 1
