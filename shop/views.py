"""The demo checkout page: a static page whose script uses only the JSON API and Stripe.js."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

STRIPE_API = "https://api.stripe.com"
# What Stripe's CSP guide asks of a page using Stripe.js from js.stripe.com: its scripts and
# frames come from js.stripe.com and its subdomains, 3-D Secure frames from hooks.stripe.com.
STRIPE_JS_CSP = {
    "script-src": ["https://js.stripe.com", "https://*.js.stripe.com"],
    "frame-src": ["https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com"],
}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def stripe_csp() -> dict[str, list[str]]:
    """The checkout page's additions to the Content-Security-Policy, from where Stripe.js and the
    Stripe API are (STRIPE_JS_URL, STRIPE_API_BASE): Stripe's own list for the real Stripe.js,
    exactly the stand-in's origin offline."""
    js, api = _origin(settings.STRIPE_JS_URL), _origin(settings.STRIPE_API_BASE or STRIPE_API)
    if js == "https://js.stripe.com":
        return {
            "script-src": STRIPE_JS_CSP["script-src"],
            "connect-src": [api],
            "frame-src": STRIPE_JS_CSP["frame-src"],
        }
    origins = sorted({js, api})
    return {"script-src": origins, "connect-src": origins, "frame-src": origins}


@require_GET
def checkout(request: HttpRequest) -> HttpResponse:
    response = TemplateResponse(
        request,
        "shop/checkout.html",
        {"test_cards": TEST_CARDS},
    )
    # Stripe.js (the real one, or the offline stand-in's) is loaded from its own origin, talks to
    # the Stripe API and may frame the bank's 3-D Secure page: allow exactly those origins here.
    response._csp_update = stripe_csp()  # type: ignore[attr-defined]
    return response


TEST_CARDS = [
    ("4242 4242 4242 4242", "Success"),
    ("4000 0000 0000 0002", "Card declined"),
    ("4000 0000 0000 9995", "Insufficient funds"),
    ("4000 0025 0000 3155", "Requires authentication (3D Secure)"),
    ("4000 0000 0000 0259", "Paid, then disputed as fraudulent (a chargeback)"),
    ("4000 0000 0000 1976", "Paid, then an inquiry (may become a chargeback)"),
]
