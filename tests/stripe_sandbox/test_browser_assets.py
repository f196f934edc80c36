"""The Stripe.js slice and the bank pages: served, and usable under a strict CSP."""

from __future__ import annotations

import re


def test_stripe_js_is_served_where_pages_load_it(stripe_sandbox):
    for path in ("/v3/", "/v3/stripe.js", "/js/stripe.js"):
        status, source, headers = stripe_sandbox._http("GET", path, None, {})

        assert status == 200
        assert headers["Content-Type"].startswith("application/javascript")
        for api in ("confirmCardPayment", "elements", "retrievePaymentIntent", "window.Stripe"):
            assert api in source


def test_stripe_js_needs_no_unsafe_inline(stripe_sandbox):
    _, source, _ = stripe_sandbox._http("GET", "/v3/", None, {})

    assert "innerHTML" not in source
    assert 'setAttribute("style"' not in source and "eval(" not in source
    assert not re.search(r"\son[a-z]+\s*=", source)  # no inline handlers


def test_the_bank_page_has_no_inline_script_or_style(stripe_sandbox):
    _, pi, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1234,
            "currency": "eur",
            "confirm": "true",
            "payment_method": "pm_card_authenticationRequired",
        },
    )

    _, page, _ = stripe_sandbox._http("GET", f"/_sandbox/three_d_secure/{pi['id']}", None, {})

    assert "Complete authentication" in page and "Fail authentication" in page
    assert "12.34 EUR" in page
    assert not re.search(r"<script>|style=|\son[a-z]+=", page)
    status, css, _ = stripe_sandbox._http("GET", "/_sandbox/sandbox.css", None, {})
    assert status == 200 and "button" in css


def test_the_hosted_bank_transfer_page_sends_the_money_in_parts(stripe_sandbox):
    _, customer, _ = stripe_sandbox.api("POST", "/v1/customers", {})
    _, pi, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": 1234,
            "currency": "eur",
            "customer": customer["id"],
            "allowed_payment_method_types": ["customer_balance"],
            "confirm": "true",
            "payment_method_data": {"type": "customer_balance"},
            "payment_method_options": {
                "customer_balance": {
                    "funding_type": "bank_transfer",
                    "bank_transfer": {
                        "type": "eu_bank_transfer",
                        "eu_bank_transfer": {"country": "NL"},
                    },
                }
            },
        },
    )
    url = pi["next_action"]["display_bank_transfer_instructions"]["hosted_instructions_url"]

    _, page, _ = stripe_sandbox._http("GET", url.removeprefix(stripe_sandbox.base_url), None, {})

    # The customer's bank: half of what remains, or the rest (Stripe's partial funding).
    assert re.findall(r'action="[^"]+/(\w+)"', page) == ["fund_half", "fund_rest"]
    assert "12.34 EUR still to come" in page
