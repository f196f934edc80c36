"""The stand-in speaks Stripe's wire format: auth, errors, lists, expand, idempotency, versions."""

from __future__ import annotations

import re
import time

import pytest

OLD_VERSION = "2024-06-20"


def create_pi(sandbox, amount=1234, **extra):
    status, body, _ = sandbox.api(
        "POST", "/v1/payment_intents", {"amount": amount, "currency": "eur", **extra}
    )
    assert status == 200, body
    return body


# --- authentication -------------------------------------------------------------------------------
def test_no_key_is_a_401_with_stripes_error_body(stripe_sandbox):
    status, body, _ = stripe_sandbox._http("GET", "/v1/customers", None, {})

    assert status == 401
    assert body["error"]["type"] == "invalid_request_error"
    assert "did not provide an API key" in body["error"]["message"]


def test_a_wrong_key_is_refused_with_the_key_masked(stripe_sandbox):
    status, body, _ = stripe_sandbox.api("GET", "/v1/customers", key="sk_test_not_the_right_one")

    assert status == 401
    assert body["error"]["message"] == "Invalid API Key provided: sk_test_****_one"


def test_basic_auth_with_the_key_as_user_is_accepted(stripe_sandbox):
    status, _, _ = stripe_sandbox._http(
        "GET", "/v1/customers", None, {"Authorization": "Basic c2tfdGVzdF9zYW5kYm94Og=="}
    )

    assert status == 200


def test_the_publishable_key_only_reaches_what_stripe_js_uses(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {"amount": 1234, "currency": "eur"},
        key=stripe_sandbox.publishable_key,
    )

    assert status == 401
    assert "publishable API key" in body["error"]["message"]


def test_with_the_publishable_key_a_payment_intent_needs_its_client_secret(stripe_sandbox):
    pi = create_pi(stripe_sandbox, metadata={"order_id": "1"})
    pk = stripe_sandbox.publishable_key

    wrong, error, _ = stripe_sandbox.api(
        "GET", f"/v1/payment_intents/{pi['id']}", {"client_secret": "nope"}, key=pk
    )
    ok, seen, _ = stripe_sandbox.api(
        "GET", f"/v1/payment_intents/{pi['id']}", {"client_secret": pi["client_secret"]}, key=pk
    )

    assert (wrong, error["error"]["param"]) == (400, "client_secret")
    assert ok == 200
    assert seen["status"] == "requires_payment_method"
    assert "metadata" not in seen and "customer" not in seen  # the publishable subset


def test_stripe_js_may_send_the_key_as_a_parameter(stripe_sandbox):
    status, pm, _ = stripe_sandbox._http(
        "POST",
        "/v1/payment_methods",
        b"key=pk_test_sandbox&type=card&card[number]=4242424242424242&card[exp_month]=12"
        b"&card[exp_year]=2040&card[cvc]=123",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert status == 200
    assert (pm["card"]["last4"], pm["card"]["checks"]["cvc_check"]) == ("4242", "pass")
    [entry] = stripe_sandbox.requests_log()
    assert entry["key_type"] == "publishable"
    assert "key" not in entry["params"]
    assert "number" in entry["params"]["card"]


def test_cors_preflight_is_answered(stripe_sandbox):
    status, _, headers = stripe_sandbox._http("OPTIONS", "/v1/payment_methods", None, {})

    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in headers["Access-Control-Allow-Headers"]


# --- errors and parameters ------------------------------------------------------------------------
def test_unknown_parameters_are_refused_like_stripe(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST", "/v1/payment_intents", {"amount": 1234, "currency": "eur", "colour": "red"}
    )

    assert status == 400
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "Received unknown parameter: colour",
        "code": "parameter_unknown",
        "doc_url": "https://docs.stripe.com/error-codes#parameter-unknown",
        "param": "colour",
    }


@pytest.mark.parametrize(
    ("params", "param", "code"),
    [
        ({"currency": "eur"}, "amount", "parameter_missing"),
        ({"amount": "12.34", "currency": "eur"}, "amount", "parameter_invalid_integer"),
        ({"amount": 1234}, "currency", "parameter_missing"),
    ],
)
def test_missing_and_malformed_parameters(stripe_sandbox, params, param, code):
    status, body, _ = stripe_sandbox.api("POST", "/v1/payment_intents", params)

    assert status == 400
    assert (body["error"]["param"], body["error"]["code"]) == (param, code)


def test_unknown_ids_are_404_resource_missing(stripe_sandbox):
    status, body, _ = stripe_sandbox.api("GET", "/v1/charges/ch_nope")

    assert status == 404
    assert body["error"]["code"] == "resource_missing"
    assert body["error"]["message"] == "No such charge: 'ch_nope'"


def test_unknown_urls_are_404(stripe_sandbox):
    status, body, _ = stripe_sandbox.api("GET", "/v1/subscriptions")

    assert status == 404
    assert "Unrecognized request URL" in body["error"]["message"]


def test_ids_carry_stripes_prefixes(stripe_sandbox):
    _, customer, _ = stripe_sandbox.api("POST", "/v1/customers", {"email": "a@example.com"})
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")
    _, refund, _ = stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"]})

    assert re.fullmatch(r"cus_[A-Za-z0-9]{14}", customer["id"])
    assert re.fullmatch(r"pi_[A-Za-z0-9]{24}", pi["id"])
    assert pi["latest_charge"].startswith("ch_")
    assert pi["payment_method"].startswith("pm_")
    assert refund["id"].startswith("re_")


def test_metadata_merges_and_an_empty_value_unsets(stripe_sandbox):
    pi = create_pi(stripe_sandbox, metadata={"a": "1", "b": "2"})

    _, updated, _ = stripe_sandbox.api(
        "POST", f"/v1/payment_intents/{pi['id']}", {"metadata": {"b": "", "c": "3"}}
    )

    assert updated["metadata"] == {"a": "1", "c": "3"}


# --- lists ----------------------------------------------------------------------------------------
def test_lists_page_newest_first_with_has_more_and_starting_after(stripe_sandbox):
    ids = [create_pi(stripe_sandbox)["id"] for _ in range(5)]

    _, first, _ = stripe_sandbox.api("GET", "/v1/payment_intents", {"limit": 2})
    _, second, _ = stripe_sandbox.api(
        "GET", "/v1/payment_intents", {"limit": 2, "starting_after": first["data"][-1]["id"]}
    )
    _, back, _ = stripe_sandbox.api(
        "GET", "/v1/payment_intents", {"limit": 2, "ending_before": second["data"][0]["id"]}
    )

    assert (first["object"], first["url"], first["has_more"]) == (
        "list",
        "/v1/payment_intents",
        True,
    )
    assert [pi["id"] for pi in first["data"] + second["data"]] == ids[::-1][:4]
    assert [pi["id"] for pi in back["data"]] == [pi["id"] for pi in first["data"]]


def test_lists_filter_on_created(stripe_sandbox):
    create_pi(stripe_sandbox)
    now = int(time.time())

    _, future, _ = stripe_sandbox.api("GET", "/v1/payment_intents", {"created": {"gt": now + 10}})
    _, recent, _ = stripe_sandbox.api("GET", "/v1/payment_intents", {"created": {"gte": now - 10}})

    assert future["data"] == []
    assert len(recent["data"]) == 1


def test_limit_is_bounded(stripe_sandbox):
    status, body, _ = stripe_sandbox.api("GET", "/v1/payment_intents", {"limit": 101})

    assert (status, body["error"]["param"]) == (400, "limit")


def test_events_filter_by_type_and_types_with_wildcards(stripe_sandbox):
    create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")

    _, by_type, _ = stripe_sandbox.api("GET", "/v1/events", {"type": "payment_intent.*"})
    _, by_types, _ = stripe_sandbox.api("GET", "/v1/events", {"types": ["charge.succeeded"]})

    assert {e["type"] for e in by_type["data"]} == {
        "payment_intent.created",
        "payment_intent.succeeded",
    }
    assert [e["type"] for e in by_types["data"]] == ["charge.succeeded"]


# --- expand ---------------------------------------------------------------------------------------
def test_expand_replaces_ids_with_objects_including_nested_and_in_lists(stripe_sandbox):
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")

    _, one, _ = stripe_sandbox.api(
        "GET", f"/v1/payment_intents/{pi['id']}", {"expand": ["latest_charge.payment_intent"]}
    )
    _, listing, _ = stripe_sandbox.api(
        "GET", "/v1/payment_intents", {"expand": ["data.payment_method"]}
    )

    assert one["latest_charge"]["object"] == "charge"
    assert one["latest_charge"]["payment_intent"]["id"] == pi["id"]
    assert listing["data"][0]["payment_method"]["card"]["last4"] == "4242"


def test_expanding_what_cannot_be_expanded_is_an_error(stripe_sandbox):
    pi = create_pi(stripe_sandbox)

    status, body, _ = stripe_sandbox.api(
        "GET", f"/v1/payment_intents/{pi['id']}", {"expand": ["amount"]}
    )

    assert (status, body["error"]["param"]) == (400, "expand")


# --- idempotency ----------------------------------------------------------------------------------
def test_a_replayed_request_says_so(stripe_sandbox):
    params = {"amount": 1234, "currency": "eur"}
    _, first, first_headers = stripe_sandbox.api(
        "POST", "/v1/payment_intents", params, idempotency_key="k1"
    )
    _, again, headers = stripe_sandbox.api(
        "POST", "/v1/payment_intents", params, idempotency_key="k1"
    )

    assert again == first
    assert headers["Idempotent-Replayed"] == "true"
    assert headers["Original-Request"] == first_headers["Request-Id"]
    assert "Idempotent-Replayed" not in first_headers


def test_a_reused_key_with_other_parameters_is_an_idempotency_error(stripe_sandbox):
    stripe_sandbox.api("POST", "/v1/customers", {"email": "a@example.com"}, idempotency_key="k1")

    status, body, _ = stripe_sandbox.api(
        "POST", "/v1/customers", {"email": "b@example.com"}, idempotency_key="k1"
    )

    assert status == 400
    assert body["error"]["type"] == "idempotency_error"


def test_a_declined_confirmation_is_replayed_as_the_same_402(stripe_sandbox):
    params = {
        "amount": 1234,
        "currency": "eur",
        "confirm": "true",
        "payment_method": "pm_card_chargeDeclined",
    }

    first = stripe_sandbox.api("POST", "/v1/payment_intents", params, idempotency_key="k1")
    again = stripe_sandbox.api("POST", "/v1/payment_intents", params, idempotency_key="k1")

    assert first[0] == again[0] == 402
    assert first[1] == again[1]
    _, listing, _ = stripe_sandbox.api("GET", "/v1/payment_intents")
    assert len(listing["data"]) == 1


def test_a_validation_error_is_not_saved_so_a_corrected_retry_may_reuse_the_key(stripe_sandbox):
    bad, _, _ = stripe_sandbox.api("POST", "/v1/customers", {"emial": "x"}, idempotency_key="k1")
    good, customer, _ = stripe_sandbox.api(
        "POST", "/v1/customers", {"email": "x@example.com"}, idempotency_key="k1"
    )

    assert (bad, good) == (400, 200)
    assert customer["email"] == "x@example.com"


# --- API versions ---------------------------------------------------------------------------------
def test_payment_method_types_is_refused_on_current_api_versions(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {"amount": 1234, "currency": "eur", "payment_method_types": ["card"]},
        stripe_version="2026-10-28.endive",
    )

    assert status == 400
    assert body["error"]["code"] == "payment_method_types_no_longer_supported"


def test_payment_method_types_still_works_on_older_api_versions(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {"amount": 1234, "currency": "eur", "payment_method_types": ["sepa_debit"]},
        stripe_version=OLD_VERSION,
    )

    assert status == 200
    assert (body["payment_method_types"], body["automatic_payment_methods"]) == (
        ["sepa_debit"],
        None,
    )


def test_allowed_payment_method_types_is_unknown_on_older_api_versions(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {"amount": 1234, "currency": "eur", "allowed_payment_method_types": ["card"]},
        stripe_version=OLD_VERSION,
    )

    assert (status, body["error"]["code"]) == (400, "parameter_unknown")


def test_events_carry_the_requests_api_version(stripe_sandbox):
    stripe_sandbox.api("POST", "/v1/customers", {}, stripe_version=OLD_VERSION)

    _, events, _ = stripe_sandbox.api("GET", "/v1/events")

    assert events["data"][0]["api_version"] == OLD_VERSION


# --- the request log ------------------------------------------------------------------------------
def test_the_request_log_records_what_stripe_was_asked(stripe_sandbox):
    create_pi(stripe_sandbox, metadata={"order_id": "9"})
    stripe_sandbox.api("GET", "/v1/payment_intents", {"limit": 3})

    post, get = stripe_sandbox.requests_log()

    assert (post["method"], post["path"], post["status"]) == ("POST", "/v1/payment_intents", 200)
    assert post["params"] == {"amount": "1234", "currency": "eur", "metadata": {"order_id": "9"}}
    assert (post["key_type"], post["api_key"]) == ("secret", "sk_test_****dbox")
    assert (get["method"], get["params"]) == ("GET", {"limit": "3"})


@pytest.mark.parametrize(
    ("currency", "refused", "taken"),
    [("kwd", 12345, 12340), ("bhd", 5001, 5000), ("isk", 15050, 15000), ("ugx", 250050, 250000)],
)
def test_amounts_follow_stripes_currency_rules(stripe_sandbox, currency, refused, taken):
    base = {"currency": currency, "allowed_payment_method_types": ["card"]}
    status, body, _ = stripe_sandbox.api("POST", "/v1/payment_intents", {**base, "amount": refused})
    assert (status, body["error"]["param"]) == (400, "amount")
    status, _, _ = stripe_sandbox.api("POST", "/v1/payment_intents", {**base, "amount": taken})
    assert status == 200
