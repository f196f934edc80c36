"""`POST /_sandbox/import/payments`: payments made before the stand-in knew them, with their ids."""

from __future__ import annotations

import json

import pytest

PAID = {
    "id": "pi_import_paid",
    "amount": 5000,
    "currency": "eur",
    "status": "succeeded",
    "created": 1_700_000_000,
    "customer": "cus_import_1",
    "charge": {"id": "ch_import_paid", "card": {"brand": "visa", "last4": "4242"}},
    "refunds": [
        {
            "id": "re_import_1",
            "amount": 1000,
            "status": "succeeded",
            "reason": "duplicate",
            "created": 1_700_000_100,
            "metadata": {"refund_id": "7"},
        },
        {
            "id": "re_import_2",
            "amount": 4000,
            "status": "failed",
            "created": 1_700_000_200,
            "failure_reason": "expired_or_canceled_card",
        },
    ],
}
DECLINED = {
    "id": "pi_import_declined",
    "amount": 700,
    "currency": "usd",
    "status": "requires_payment_method",
    "created": 1_700_000_300,
    "customer": None,
    "last_payment_error": {"type": "card_error", "code": "card_declined", "message": "No."},
}
TRANSFER = {
    "id": "pi_import_transfer",
    "amount": 900,
    "currency": "gbp",
    "status": "succeeded",
    "created": 1_700_000_400,
    "customer": "cus_import_1",
    "charge": {"id": "py_import_transfer", "card": None},
}


def post(sandbox, payload):
    return sandbox._http(
        "POST",
        "/_sandbox/import/payments",
        json.dumps(payload).encode(),
        {"Content-Type": "application/json"},
    )


def test_it_makes_the_payments_with_the_given_ids_amounts_and_times(stripe_sandbox):
    answer = stripe_sandbox.control(
        "POST", "import/payments", {"payments": [PAID, DECLINED, TRANSFER]}
    )
    assert answer == {"imported": 3, "existing": 0}

    pi = stripe_sandbox.api(
        "GET", "/v1/payment_intents/pi_import_paid", {"expand": ["latest_charge"]}
    )[1]
    assert (pi["status"], pi["amount"], pi["created"]) == ("succeeded", 5000, 1_700_000_000)
    charge = pi["latest_charge"]
    assert charge["id"] == "ch_import_paid"
    assert charge["payment_method_details"]["card"]["last4"] == "4242"
    assert (charge["amount_refunded"], charge["refunded"]) == (1000, False)
    refunds = stripe_sandbox.api("GET", "/v1/refunds", {"payment_intent": "pi_import_paid"})[1]
    by_id = {r["id"]: r for r in refunds["data"]}
    assert by_id["re_import_1"]["metadata"] == {"refund_id": "7"}
    assert by_id["re_import_1"]["created"] == 1_700_000_100
    assert by_id["re_import_2"]["failure_reason"] == "expired_or_canceled_card"
    assert stripe_sandbox.api("GET", "/v1/customers/cus_import_1")[0] == 200

    declined = stripe_sandbox.api("GET", "/v1/payment_intents/pi_import_declined")[1]
    assert declined["last_payment_error"]["code"] == "card_declined"
    assert declined["latest_charge"] is None
    # No events: whoever imported them already knows.
    assert stripe_sandbox.api("GET", "/v1/events")[1]["data"] == []


def test_imported_payments_refund_like_any_other(stripe_sandbox):
    stripe_sandbox.control("POST", "import/payments", {"payments": [PAID, TRANSFER]})
    status, refund, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": "pi_import_paid"}
    )
    assert (status, refund["amount"], refund["status"]) == (200, 4000, "succeeded")
    status, body, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": "pi_import_paid", "amount": 1}
    )
    assert (status, body["error"]["code"]) == (400, "charge_already_refunded")
    status, refund, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": "pi_import_transfer"}
    )
    assert (status, refund["amount"]) == (200, 900)


def test_a_payment_already_there_is_left_as_it_is(stripe_sandbox):
    stripe_sandbox.control("POST", "import/payments", {"payments": [PAID]})
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": "pi_import_paid"})
    answer = stripe_sandbox.control("POST", "import/payments", {"payments": [PAID, DECLINED]})
    assert answer == {"imported": 1, "existing": 1}
    charge = stripe_sandbox.api("GET", "/v1/charges/ch_import_paid")[1]
    assert charge["refunded"] is True


@pytest.mark.parametrize(
    "change",
    [
        {"id": "ch_not_an_intent"},
        {"amount": 0},
        {"status": "requires_capture"},
        {"charge": None},
        {"refunds": [{**PAID["refunds"][0], "amount": 6000}]},
        {"refunds": [{**PAID["refunds"][0], "id": "bad"}]},
    ],
)
def test_bad_input_is_a_400_and_imports_nothing(stripe_sandbox, change):
    status, body, _ = post(stripe_sandbox, {"payments": [DECLINED, {**PAID, **change}]})
    assert status == 400, body
    assert body["error"]["type"] == "invalid_request_error"
    assert stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"] == []


def test_refunds_only_on_a_succeeded_payment(stripe_sandbox):
    status, _, _ = post(stripe_sandbox, {"payments": [{**DECLINED, "refunds": PAID["refunds"]}]})
    assert status == 400
    status, _, _ = post(stripe_sandbox, {"payments": "all of them"})
    assert status == 400
