"""The checkout page's Content-Security-Policy lets exactly Stripe.js do its work."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: set(p[1:]) for p in parts}


def test_real_stripe_js_gets_what_stripes_csp_guide_asks(client, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.STRIPE_API_BASE = ""
    csp = directives(client.get("/checkout/"))
    assert csp["script-src"] == {"'self'", "https://js.stripe.com", "https://*.js.stripe.com"}
    assert csp["frame-src"] == {
        "https://js.stripe.com",
        "https://*.js.stripe.com",
        "https://hooks.stripe.com",
    }
    assert csp["connect-src"] == {"'self'", "https://api.stripe.com"}
    assert "'unsafe-inline'" not in csp["script-src"] | csp.get("style-src", set())


def test_the_stand_in_gets_exactly_its_own_origin(client, settings):
    settings.STRIPE_JS_URL = "http://127.0.0.1:12111/v3/"
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    csp = directives(client.get("/checkout/"))
    assert csp["script-src"] == {"'self'", "http://127.0.0.1:12111"}
    assert csp["frame-src"] == {"http://127.0.0.1:12111"}
    assert "https://js.stripe.com" not in str(csp)


def test_other_pages_allow_no_stripe_origin(client):
    csp = directives(client.get("/accounts/login/"))
    assert csp["script-src"] == {"'self'"}
    assert "frame-src" not in csp or "stripe" not in str(csp["frame-src"])
