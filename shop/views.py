"""The demo checkout page: a static page whose script uses only the JSON API and Stripe.js."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET

STRIPE_API = "https://api.stripe.com"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@require_GET
def checkout(request: HttpRequest) -> HttpResponse:
    response = TemplateResponse(
        request,
        "shop/checkout.html",
        {"test_cards": TEST_CARDS},
    )
    # Stripe.js (the real one, or the offline stand-in's) is loaded from its own origin, talks to
    # the Stripe API and may frame the bank's 3-D Secure page: allow exactly those origins here.
    stripe_origins = sorted(
        {_origin(settings.STRIPE_JS_URL), _origin(settings.STRIPE_API_BASE or STRIPE_API)}
    )
    response._csp_update = {  # type: ignore[attr-defined]
        "script-src": stripe_origins,
        "connect-src": stripe_origins,
        "frame-src": stripe_origins,
    }
    return response


TEST_CARDS = [
    ("4242 4242 4242 4242", "Success"),
    ("4000 0000 0000 0002", "Card declined"),
    ("4000 0000 0000 9995", "Insufficient funds"),
    ("4000 0025 0000 3155", "Requires authentication (3D Secure)"),
]
