"""config.wsgi: Stripe's webhook is served with WEBHOOK_MIDDLEWARE alone, every other path with
the whole MIDDLEWARE. Driven through the WSGI application gunicorn serves (the test client has
a handler of its own)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest
from django.core import signals
from django.db import close_old_connections

from config import wsgi
from payments.models import StripeWebhookEvent
from tests import factories
from tests.payments.webhook_helpers import SECRET, URL, event, intent, signature

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """As Django's test client does: the test's transaction outlives each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _serve(method: str, path: str, body: bytes = b"", **headers: str):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        **{f"HTTP_{name.upper()}": value for name, value in headers.items()},
    }
    got: dict = {}

    def start_response(status: str, response_headers: list, *_: object) -> None:
        got["status"] = int(status.split()[0])
        got["headers"] = {}
        for name, value in response_headers:
            got["headers"].setdefault(name.lower(), []).append(value)

    got["body"] = b"".join(wsgi.application(environ, start_response))
    return got


def test_the_webhook_is_served_without_sessions_users_or_csp(settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_lean")
    body = json.dumps(event("payment_intent.succeeded", intent("pi_lean", "succeeded"))).encode()

    answer = _serve("POST", URL, body, STRIPE_SIGNATURE=signature(body))

    assert answer["status"] == 200, answer["body"]
    payment.refresh_from_db()
    assert payment.status == "succeeded"  # the demo (no worker) applies it in the request
    assert StripeWebhookEvent.objects.get().status == "processed"
    headers = answer["headers"]
    assert "no-store" in headers["cache-control"][0]  # still: it is under /api/
    assert headers["x-frame-options"] == ["DENY"]
    assert "set-cookie" not in headers
    assert "content-security-policy" not in headers
    assert "Cookie" not in ",".join(headers.get("vary", []))


def test_a_forged_webhook_is_still_refused():
    body = json.dumps(event("payment_intent.succeeded", intent("pi_x", "succeeded"))).encode()
    answer = _serve("POST", URL, body, STRIPE_SIGNATURE=signature(body, "whsec_forged"))
    assert answer["status"] == 400
    assert not StripeWebhookEvent.objects.exists()


def test_a_wrong_host_is_refused_on_the_webhook_too():
    body = b"{}"
    answer = _serve("POST", URL, body, HOST="evil.example")
    assert answer["status"] == 400


def test_other_pages_keep_the_whole_middleware():
    answer = _serve("GET", "/accounts/login/")
    assert answer["status"] == 200
    headers = answer["headers"]
    assert "content-security-policy" in headers
    assert any(c.strip().startswith("csrftoken=") for c in headers["set-cookie"])
    assert "Cookie" in ",".join(headers["vary"])
