"""Payment flows at the wire: test cards, 3-D Secure (bank page and redirect), bank payments,
the PaymentIntent status machine, refunds that settle later."""

from __future__ import annotations

import http.client
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest


def create_pi(sandbox, amount=1234, **extra):
    status, body, _ = sandbox.api(
        "POST", "/v1/payment_intents", {"amount": amount, "currency": "eur", **extra}
    )
    assert status == 200, body
    return body


def event_types(sandbox) -> list[str]:
    _, events, _ = sandbox.api("GET", "/v1/events", {"limit": 100})
    return [e["type"] for e in reversed(events["data"])]


@pytest.mark.parametrize(
    ("token", "code", "decline_code"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline"),
        ("pm_card_chargeDeclinedInsufficientFunds", "card_declined", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card"),
    ],
)
def test_a_declined_confirm_at_create_answers_402_with_the_payment_intent(
    stripe_sandbox, token, code, decline_code
):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {"amount": 1234, "currency": "eur", "confirm": "true", "payment_method": token},
    )

    assert status == 402
    error = body["error"]
    assert (error["type"], error["code"], error["decline_code"]) == (
        "card_error",
        code,
        decline_code,
    )
    assert error["charge"].startswith("ch_")
    assert error["payment_intent"]["status"] == "requires_payment_method"
    assert error["payment_intent"]["last_payment_error"]["decline_code"] == decline_code
    assert error["payment_method"]["type"] == "card"
    assert event_types(stripe_sandbox) == [
        "payment_intent.created",
        "charge.failed",
        "payment_intent.payment_failed",
    ]


def test_4242_by_raw_card_number_succeeds(stripe_sandbox):
    pi = create_pi(stripe_sandbox)

    status, body = stripe_sandbox.confirm_payment_intent(
        pi["id"], card={"number": "4242 4242 4242 4242"}
    )

    assert (status, body["status"]) == (200, "succeeded")
    assert event_types(stripe_sandbox) == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


@pytest.mark.parametrize(
    ("card", "code", "param"),
    [
        ({"number": "4242424242424241"}, "incorrect_number", "card[number]"),
        (
            {"number": "4242424242424242", "exp_month": "13"},
            "invalid_expiry_month",
            "card[exp_month]",
        ),
        (
            {"number": "4242424242424242", "exp_year": "2001"},
            "invalid_expiry_year",
            "card[exp_year]",
        ),
        ({"number": "4242424242424242", "cvc": "12a"}, "invalid_cvc", "card[cvc]"),
    ],
)
def test_bad_card_details_are_card_errors_at_payment_method_creation(
    stripe_sandbox, card, code, param
):
    pi = create_pi(stripe_sandbox)

    status, body = stripe_sandbox.confirm_payment_intent(pi["id"], card=card)

    assert status == 402
    assert (body["error"]["code"], body["error"]["param"]) == (code, param)


def test_a_real_card_number_is_refused_in_test_mode(stripe_sandbox):
    pi = create_pi(stripe_sandbox)

    status, body = stripe_sandbox.confirm_payment_intent(
        pi["id"], card={"number": "4111111111111111"}
    )

    assert status == 402
    assert body["error"]["decline_code"] == "live_mode_test_card"


def test_a_payment_intent_confirms_only_in_confirmable_states(stripe_sandbox):
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")

    status, body = stripe_sandbox.confirm_payment_intent(pi["id"], "pm_card_visa")

    assert (status, body["error"]["code"]) == (400, "payment_intent_unexpected_state")


def test_confirm_without_a_payment_method_is_refused(stripe_sandbox):
    pi = create_pi(stripe_sandbox)

    status, body, _ = stripe_sandbox.api("POST", f"/v1/payment_intents/{pi['id']}/confirm")

    assert status == 400
    assert "missing a payment method" in body["error"]["message"]


def test_a_payment_method_at_create_without_confirm_awaits_confirmation(stripe_sandbox):
    pi = create_pi(stripe_sandbox, payment_method="pm_card_visa")
    assert pi["status"] == "requires_confirmation"

    status, body, _ = stripe_sandbox.api("POST", f"/v1/payment_intents/{pi['id']}/confirm")

    assert (status, body["status"]) == (200, "succeeded")


def test_the_amount_cannot_change_once_paid_but_metadata_can(stripe_sandbox):
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")

    amount, error, _ = stripe_sandbox.api(
        "POST", f"/v1/payment_intents/{pi['id']}", {"amount": 999}
    )
    meta, updated, _ = stripe_sandbox.api(
        "POST", f"/v1/payment_intents/{pi['id']}", {"metadata": {"note": "late"}}
    )

    assert (amount, error["error"]["code"]) == (400, "payment_intent_unexpected_state")
    assert (meta, updated["metadata"]) == (200, {"note": "late"})


def test_an_off_session_3ds_card_is_declined_authentication_required(stripe_sandbox):
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1234,
            "currency": "eur",
            "confirm": "true",
            "off_session": "true",
            "payment_method": "pm_card_authenticationRequired",
        },
    )

    assert (status, body["error"]["decline_code"]) == (402, "authentication_required")


# --- 3-D Secure -----------------------------------------------------------------------------------
def test_the_bank_page_completes_3ds_through_plain_forms(stripe_sandbox):
    pi = create_pi(stripe_sandbox)
    _, confirmed = stripe_sandbox.confirm_payment_intent(pi["id"], "pm_card_authenticationRequired")
    page_url = confirmed["next_action"]["use_stripe_sdk"]["stripe_js"]
    assert page_url == stripe_sandbox.three_d_secure_url(pi["id"])

    status, page, _ = stripe_sandbox._http(
        "GET", page_url.removeprefix(stripe_sandbox.base_url), None, {}
    )
    actions = re.findall(r'<form method="post" action="([^"]+)"', page)
    assert status == 200
    assert actions == [
        f"/_sandbox/three_d_secure/{pi['id']}/complete",
        f"/_sandbox/three_d_secure/{pi['id']}/fail",
    ]
    assert "onclick" not in page and "<script>" not in page

    status, done, _ = stripe_sandbox._http("POST", actions[0], b"", {"Accept": "text/html"})
    assert status == 200
    assert 'src="/_sandbox/three_d_secure.js"' in done
    _, after, _ = stripe_sandbox.api("GET", f"/v1/payment_intents/{pi['id']}")
    assert after["status"] == "succeeded"


def test_3ds_with_a_return_url_redirects_back_with_stripes_parameters(stripe_sandbox):
    pi = create_pi(stripe_sandbox)
    _, confirmed, _ = stripe_sandbox.api(
        "POST",
        f"/v1/payment_intents/{pi['id']}/confirm",
        {
            "payment_method": "pm_card_authenticationRequired",
            "return_url": "http://shop.test/done?x=1",
        },
    )
    redirect = confirmed["next_action"]["redirect_to_url"]
    assert redirect["return_url"] == "http://shop.test/done?x=1"

    host = urlsplit(stripe_sandbox.base_url).netloc
    connection = http.client.HTTPConnection(host, timeout=5)
    connection.request(
        "POST",
        f"/_sandbox/three_d_secure/{pi['id']}/fail",
        body=urlencode({"return_url": redirect["return_url"]}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()

    assert response.status == 303
    location = response.getheader("Location")
    assert location.startswith("http://shop.test/done?x=1&")
    query = parse_qs(urlsplit(location).query)
    assert query["payment_intent"] == [pi["id"]]
    assert query["payment_intent_client_secret"] == [pi["client_secret"]]
    assert query["redirect_status"] == ["failed"]
    _, after, _ = stripe_sandbox.api("GET", f"/v1/payment_intents/{pi['id']}")
    assert after["status"] == "requires_payment_method"
    assert after["last_payment_error"]["code"] == "payment_intent_authentication_failure"


def test_3ds_cannot_be_completed_twice(stripe_sandbox):
    pi = create_pi(stripe_sandbox)
    stripe_sandbox.confirm_payment_intent(pi["id"], "pm_card_authenticationRequired")
    stripe_sandbox.complete_3ds(pi["id"])

    with pytest.raises(AssertionError, match="not waiting for 3-D Secure"):
        stripe_sandbox.fail_3ds(pi["id"])


# --- bank payments --------------------------------------------------------------------------------
def test_a_sepa_debit_processes_then_fails(stripe_sandbox):
    pi = create_pi(stripe_sandbox, allowed_payment_method_types=["sepa_debit"])
    status, body, _ = stripe_sandbox.api(
        "POST",
        f"/v1/payment_intents/{pi['id']}/confirm",
        {
            "payment_method_data": {
                "type": "sepa_debit",
                "sepa_debit": {"iban": "DE89370400440532013000"},
                "billing_details": {"name": "Jenny Rosen", "email": "j@example.com"},
            }
        },
    )
    assert (status, body["status"]) == (200, "processing")

    failed = stripe_sandbox.bank_payment(pi["id"], "fail")

    assert failed["status"] == "requires_payment_method"
    assert failed["last_payment_error"]["code"] == "payment_method_provider_decline"
    assert event_types(stripe_sandbox)[-3:] == [
        "payment_intent.processing",
        "charge.failed",
        "payment_intent.payment_failed",
    ]


EU_TRANSFER = {
    "customer_balance": {
        "funding_type": "bank_transfer",
        "bank_transfer": {"type": "eu_bank_transfer", "eu_bank_transfer": {"country": "FR"}},
    }
}


def bank_transfer_pi(sandbox, amount=5000, currency="eur", options=EU_TRANSFER):
    _, customer, _ = sandbox.api("POST", "/v1/customers", {"email": "a@example.com"})
    pi = create_pi(
        sandbox,
        amount=amount,
        currency=currency,
        customer=customer["id"],
        allowed_payment_method_types=["customer_balance"],
        payment_method_options=options,
    )
    status, confirmed, _ = sandbox.api(
        "POST",
        f"/v1/payment_intents/{pi['id']}/confirm",
        {"payment_method_data": {"type": "customer_balance"}},
    )
    assert status == 200, confirmed
    return customer, confirmed


def test_a_bank_transfer_shows_the_instructions_of_the_type_and_country_asked_for(stripe_sandbox):
    _, pi = bank_transfer_pi(stripe_sandbox)
    assert (pi["status"], pi["next_action"]["type"]) == (
        "requires_action",
        "display_bank_transfer_instructions",
    )
    instructions = pi["next_action"]["display_bank_transfer_instructions"]
    (address,) = instructions["financial_addresses"]
    assert (instructions["type"], address["type"], address["iban"]["country"]) == (
        "eu_bank_transfer",
        "iban",
        "FR",
    )
    assert address["iban"]["iban"].startswith("FR")
    assert (instructions["amount_remaining"], instructions["currency"]) == (5000, "eur")
    assert instructions["reference"]


def test_a_gb_bank_transfer_shows_a_sort_code(stripe_sandbox):
    stripe_sandbox.set_account_country("GB")
    options = {
        "customer_balance": {
            "funding_type": "bank_transfer",
            "bank_transfer": {"type": "gb_bank_transfer"},
        }
    }
    _, pi = bank_transfer_pi(stripe_sandbox, currency="gbp", options=options)
    (address,) = pi["next_action"]["display_bank_transfer_instructions"]["financial_addresses"]
    assert address["type"] == "sort_code" and len(address["sort_code"]["account_number"]) == 8


def test_a_bank_transfer_is_partially_funded_then_succeeds(stripe_sandbox):
    customer, pi = bank_transfer_pi(stripe_sandbox)
    reference = pi["next_action"]["display_bank_transfer_instructions"]["reference"]
    stripe_sandbox.fund_cash_balance(customer["id"], 2000, "eur", reference)
    _, part, _ = stripe_sandbox.api("GET", f"/v1/payment_intents/{pi['id']}")
    assert part["status"] == "requires_action"
    assert part["next_action"]["display_bank_transfer_instructions"]["amount_remaining"] == 3000
    stripe_sandbox.fund_cash_balance(customer["id"], 3500, "eur")  # 500 more than remains
    _, paid, _ = stripe_sandbox.api("GET", f"/v1/payment_intents/{pi['id']}")
    assert (paid["status"], paid["amount_received"], paid["next_action"]) == (
        "succeeded",
        5000,
        None,
    )
    assert event_types(stripe_sandbox)[-3:] == [
        "payment_intent.partially_funded",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]


def test_a_bank_transfer_needs_its_funding_type(stripe_sandbox):
    _, customer, _ = stripe_sandbox.api("POST", "/v1/customers", {"email": "a@example.com"})
    pi = create_pi(
        stripe_sandbox, customer=customer["id"], allowed_payment_method_types=["customer_balance"]
    )
    status, body, _ = stripe_sandbox.api(
        "POST",
        f"/v1/payment_intents/{pi['id']}/confirm",
        {"payment_method_data": {"type": "customer_balance"}},
    )
    assert (status, body["error"]["code"]) == (400, "parameter_missing")
    assert body["error"]["param"] == "payment_method_options[customer_balance][funding_type]"


def test_a_bank_transfer_type_must_fit_the_currency(stripe_sandbox):
    _, customer, _ = stripe_sandbox.api("POST", "/v1/customers", {"email": "a@example.com"})
    options = {
        "customer_balance": {
            "funding_type": "bank_transfer",
            "bank_transfer": {"type": "gb_bank_transfer"},
        }
    }
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 5000,
            "currency": "eur",
            "customer": customer["id"],
            "allowed_payment_method_types": ["customer_balance"],
            "payment_method_options": options,
        },
    )
    assert status == 400
    assert body["error"]["param"] == "payment_method_options[customer_balance][bank_transfer][type]"


def test_card_payments_have_no_bank_controls(stripe_sandbox):
    pi = create_pi(stripe_sandbox)

    with pytest.raises(AssertionError, match="card payment"):
        stripe_sandbox.bank_payment(pi["id"], "processing")


# --- cancel ---------------------------------------------------------------------------------------
def test_cancel_records_when_and_why(stripe_sandbox):
    pi = create_pi(stripe_sandbox)

    _, canceled, _ = stripe_sandbox.api(
        "POST", f"/v1/payment_intents/{pi['id']}/cancel", {"cancellation_reason": "duplicate"}
    )
    bad, error, _ = stripe_sandbox.api(
        "POST", f"/v1/payment_intents/{pi['id']}/cancel", {"cancellation_reason": "bored"}
    )

    assert (canceled["status"], canceled["cancellation_reason"]) == ("canceled", "duplicate")
    assert isinstance(canceled["canceled_at"], int)
    assert (bad, error["error"]["param"]) == (400, "cancellation_reason")
    assert event_types(stripe_sandbox)[-1] == "payment_intent.canceled"


# --- refunds --------------------------------------------------------------------------------------
def test_a_refund_by_charge_updates_the_charge(stripe_sandbox):
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")

    _, refund, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"charge": pi["latest_charge"], "amount": 200}
    )
    _, charge, _ = stripe_sandbox.api("GET", f"/v1/charges/{pi['latest_charge']}")
    _, expanded, _ = stripe_sandbox.api(
        "GET", f"/v1/charges/{pi['latest_charge']}", {"expand": ["refunds"]}
    )
    _, by_charge, _ = stripe_sandbox.api("GET", "/v1/refunds", {"charge": charge["id"]})
    _, charges, _ = stripe_sandbox.api("GET", "/v1/charges", {"payment_intent": pi["id"]})

    assert (refund["payment_intent"], refund["amount"]) == (pi["id"], 200)
    assert (charge["amount_refunded"], charge["refunded"]) == (200, False)
    # Since API 2022-11-15 a charge's refunds come only when expanded.
    assert "refunds" not in charge
    assert expanded["refunds"]["data"][0]["id"] == refund["id"]
    assert [r["id"] for r in by_charge["data"]] == [refund["id"]]
    assert [c["id"] for c in charges["data"]] == [charge["id"]]
    assert event_types(stripe_sandbox)[-2:] == ["refund.created", "charge.refunded"]


def test_a_refund_needs_a_payment_intent_or_charge(stripe_sandbox):
    status, body, _ = stripe_sandbox.api("POST", "/v1/refunds", {"amount": 100})

    assert (status, body["error"]["code"]) == (400, "parameter_missing")


def test_a_7726_refund_starts_pending_and_succeeds_later(stripe_sandbox):
    pi = create_pi(stripe_sandbox)
    stripe_sandbox.confirm_payment_intent(pi["id"], card={"number": "4000000000007726"})
    _, refund, _ = stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"]})
    assert refund["status"] == "pending"

    stripe_sandbox.settle_refunds()

    _, settled, _ = stripe_sandbox.api("GET", f"/v1/refunds/{refund['id']}")
    assert settled["status"] == "succeeded"
    _, events, _ = stripe_sandbox.api("GET", "/v1/events", {"type": "charge.refund.updated"})
    [event] = events["data"]
    assert event["data"]["previous_attributes"] == {"status": "pending"}


def test_refunds_settle_by_themselves_after_the_delay(stripe_sandbox):
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_refundFail")
    _, refund, _ = stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"]})

    def failed() -> bool:
        return stripe_sandbox.api("GET", f"/v1/refunds/{refund['id']}")[1]["status"] == "failed"

    stripe_sandbox.wait_for_deliveries(lambda _: failed(), timeout=5)
    assert "refund.failed" in event_types(stripe_sandbox)


def test_a_decline_carries_stripes_advice_and_the_networks_code(stripe_sandbox):
    pi = create_pi(stripe_sandbox)
    status, body = stripe_sandbox.confirm_payment_intent(
        pi["id"], "pm_card_chargeDeclinedInsufficientFunds"
    )
    assert status == 402
    error = body["error"]
    assert (error["decline_code"], error["advice_code"], error["network_decline_code"]) == (
        "insufficient_funds",
        "try_again_later",
        "51",
    )
    status, body = stripe_sandbox.confirm_payment_intent(pi["id"], "pm_card_chargeDeclinedLostCard")
    assert (body["error"]["advice_code"], body["error"]["network_decline_code"]) == (
        "do_not_try_again",
        "41",
    )


def test_events_carry_a_charge_as_a_plain_retrieve_would(stripe_sandbox):
    pi = create_pi(stripe_sandbox, confirm="true", payment_method="pm_card_visa")
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"], "amount": 100})
    _, events, _ = stripe_sandbox.api("GET", "/v1/events", {"type": "charge.refunded"})
    assert "refunds" not in events["data"][0]["data"]["object"]
