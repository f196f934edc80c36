"""Webhook delivery: Stripe's signature scheme, event filters, retries with back-off, pause."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket

from stripe_sandbox.webhooks import sign


def create_pi(sandbox, **extra):
    status, body, _ = sandbox.api(
        "POST", "/v1/payment_intents", {"amount": 1234, "currency": "eur", **extra}
    )
    assert status in (200, 402), body
    return body


def test_deliveries_are_signed_exactly_as_stripe_signs(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(
        receiver.url, "whsec_abc", enabled_events=["payment_intent.created"]
    )

    create_pi(stripe_sandbox)
    stripe_sandbox.wait_for_deliveries()

    [(body, headers)] = receiver.received
    match = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", headers["Stripe-Signature"])
    assert match
    expected = hmac.new(b"whsec_abc", f"{match[1]}.".encode() + body, hashlib.sha256).hexdigest()
    assert match[2] == expected
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["User-Agent"].startswith("Stripe/1.0")
    event = json.loads(body)
    assert (event["object"], event["type"]) == ("event", "payment_intent.created")


def test_sign_matches_the_header_format():
    assert sign("{}", "whsec_x", timestamp=1) == (
        "t=1,v1=" + hmac.new(b"whsec_x", b"1.{}", hashlib.sha256).hexdigest()
    )


def test_endpoints_receive_only_their_enabled_events(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["charge.*"])

    create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")
    stripe_sandbox.wait_for_deliveries()

    assert [json.loads(b)["type"] for b, _ in receiver.received] == ["charge.succeeded"]


def test_the_required_event_types_are_all_produced(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url)
    paid = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_refundFail")
    create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_chargeDeclined")
    stripe_sandbox.api("POST", f"/v1/payment_intents/{create_pi(stripe_sandbox)['id']}/cancel")
    bank = create_pi(stripe_sandbox, allowed_payment_method_types=["sepa_debit"])
    stripe_sandbox.bank_payment(bank["id"], "processing")
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": paid["id"]})
    stripe_sandbox.settle_refunds()

    stripe_sandbox.wait_for_deliveries()

    types = {json.loads(body)["type"] for body, _ in receiver.received}
    assert types >= {
        "payment_intent.created",
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
        "payment_intent.processing",
        "charge.succeeded",
        "charge.refunded",
        "charge.refund.updated",
        "refund.created",
        "refund.updated",
    }


def test_an_unreachable_endpoint_is_retried_then_given_up(stripe_sandbox):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stripe_sandbox.add_webhook_endpoint(
        f"http://127.0.0.1:{port}/hook", enabled_events=["customer.created"]
    )

    stripe_sandbox.api("POST", "/v1/customers", {})
    [delivery] = stripe_sandbox.wait_for_deliveries()

    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 4  # the fixture's bound
    assert all(h["status"] is None and "Connection" in h["error"] for h in delivery["history"])
    gaps = [
        b["at"] - a["at"]
        for a, b in zip(delivery["history"], delivery["history"][1:], strict=False)
    ]
    assert gaps[0] < gaps[1] < gaps[2]  # exponential back-off


def test_a_non_2xx_answer_is_retried(stripe_sandbox, receiver):
    receiver.statuses = [503, 400]
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["customer.created"])

    stripe_sandbox.api("POST", "/v1/customers", {})
    [delivery] = stripe_sandbox.wait_for_deliveries()

    assert [h["status"] for h in delivery["history"]] == [503, 400, 200]
    assert delivery["status"] == "succeeded"


def test_an_event_can_be_resent(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["customer.created"])
    stripe_sandbox.api("POST", "/v1/customers", {})
    stripe_sandbox.wait_for_deliveries()
    event_id = json.loads(receiver.received[0][0])["id"]

    stripe_sandbox.resend_event(event_id)
    stripe_sandbox.wait_for_deliveries()

    assert [json.loads(b)["id"] for b, _ in receiver.received] == [event_id, event_id]


def test_a_removed_endpoint_receives_nothing_more(stripe_sandbox, receiver):
    endpoint = stripe_sandbox.add_webhook_endpoint(receiver.url)
    stripe_sandbox.remove_webhook_endpoint(endpoint["id"])

    stripe_sandbox.api("POST", "/v1/customers", {})

    assert stripe_sandbox.wait_for_deliveries() == []
    assert receiver.received == []


def test_pending_webhooks_counts_down_as_deliveries_finish(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["customer.created"])
    stripe_sandbox.pause_webhooks()
    stripe_sandbox.api("POST", "/v1/customers", {})
    _, events, _ = stripe_sandbox.api("GET", "/v1/events")
    assert events["data"][0]["pending_webhooks"] == 1

    stripe_sandbox.resume_webhooks()
    stripe_sandbox.wait_for_deliveries()

    _, events, _ = stripe_sandbox.api("GET", "/v1/events")
    assert events["data"][0]["pending_webhooks"] == 0
