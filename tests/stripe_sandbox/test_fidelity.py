"""The stand-in's objects carry every top-level field of Stripe's published examples
(stripe_fixtures.json beside this file: the resources of Stripe's fixtures3.json it speaks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).with_name("stripe_fixtures.json")
# Fields a published example has that the stand-in may legitimately leave out. None so far:
# every field is present, null where the stand-in does not model it (Connect, invoices, ...).
# Fields Stripe's examples show that the pinned API version sends only when expanded.
NOT_APPLICABLE: dict[str, set[str]] = {"charge": {"refunds"}}


@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]


@pytest.fixture
def made(stripe_sandbox) -> dict:
    """One of each object, from a paid and refunded PaymentIntent."""
    _, customer, _ = stripe_sandbox.api("POST", "/v1/customers", {"email": "a@example.com"})
    _, pi, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1234,
            "currency": "eur",
            "customer": customer["id"],
            "confirm": "true",
            "payment_method": "pm_card_visa",
        },
    )
    _, refund, _ = stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"]})
    _, charge, _ = stripe_sandbox.api("GET", f"/v1/charges/{pi['latest_charge']}")
    _, pm, _ = stripe_sandbox.api("GET", f"/v1/payment_methods/{pi['payment_method']}")
    _, events, _ = stripe_sandbox.api("GET", "/v1/events")
    return {
        "customer": customer,
        "payment_intent": pi,
        "charge": charge,
        "refund": refund,
        "payment_method": pm,
        "event": events["data"][0],
    }


@pytest.mark.parametrize(
    "kind", ["payment_intent", "charge", "refund", "customer", "payment_method", "event"]
)
def test_objects_carry_every_top_level_field_of_stripes_example(published, made, kind):
    missing = set(published[kind]) - set(made[kind]) - NOT_APPLICABLE.get(kind, set())

    assert missing == set()
    assert made[kind]["object"] == published[kind]["object"]


@pytest.mark.parametrize(
    ("kind", "field"),
    [
        ("charge", "payment_method_details"),
        ("charge", "outcome"),
        ("payment_method", "card"),
        ("charge", "billing_details"),
    ],
)
def test_nested_card_details_carry_stripes_fields(published, made, kind, field):
    expected, actual = published[kind][field], made[kind][field]
    if field == "payment_method_details":
        expected, actual = expected["card"], actual["card"]

    assert set(expected) - set(actual) == set()


def test_a_declined_payment_error_looks_like_stripes(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1234,
            "currency": "eur",
            "confirm": "true",
            "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
        },
    )

    assert status == 402
    assert set(body["error"]) >= {
        "type",
        "code",
        "decline_code",
        "message",
        "doc_url",
        "charge",
        "payment_intent",
        "payment_method",
    }
