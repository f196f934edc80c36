"""The comparison points of `benchmark.py --webhooks`: the least a synchronous Stripe webhook can
do. Verify the signature, insert the event, lock the payment and update it: five SQL statements
(BEGIN, INSERT, SELECT ... FOR UPDATE, UPDATE, COMMIT), nothing queued, no retries.

- `scripts.minimal_webhook:django_app`: what a Django shop would write, a view in this project
  (same settings, middleware and connection reuse);
- `scripts.minimal_webhook:app`: the same with no framework at all, WSGI on psycopg.

Both are served by the same gunicorn settings as the app (gunicorn.conf.py).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import psycopg
import stripe

SECRET = os.environ["STRIPE_WEBHOOK_SECRET"]
DATABASE_URL = os.environ["DATABASE_URL"]
_local = threading.local()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DATABASE_URL)
    return conn


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    payload = environ["wsgi.input"].read(length)
    try:
        event = stripe.Webhook.construct_event(
            payload, environ.get("HTTP_STRIPE_SIGNATURE", ""), SECRET
        )
    except (ValueError, stripe.SignatureVerificationError):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"bad signature"]
    data = json.loads(payload)
    obj = data["data"]["object"]
    conn = _connection()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO payments_stripewebhookevent (stripe_event_id, event_type, api_version, "
            "data, processed, status, stripe_object_id, livemode, received_at, "
            "processing_error, delivery_count, attempts) VALUES (%s, %s, %s, %s, true, "
            "'processed', %s, false, now(), '', 1, 1) ON CONFLICT (stripe_event_id) DO NOTHING",
            [event["id"], data["type"], data.get("api_version") or "", json.dumps(data), obj["id"]],
        )
        cur.execute(
            "SELECT id FROM payments_payment WHERE stripe_payment_intent_id = %s FOR UPDATE",
            [obj["id"]],
        )
        cur.execute(
            "UPDATE payments_payment SET status = 'succeeded', updated_at = now() "
            "WHERE stripe_payment_intent_id = %s",
            [obj["id"]],
        )
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"status": 200}']


# --- The same hook as a Django view of this project ---------------------------------------------
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

django.setup()
settings.ROOT_URLCONF = __name__

from django.db import transaction  # noqa: E402
from django.http import HttpRequest, HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from payments.models import Payment, StripeWebhookEvent  # noqa: E402


@csrf_exempt
def minimal_hook(request: HttpRequest) -> HttpResponse:
    try:
        event = stripe.Webhook.construct_event(
            request.body, request.headers.get("Stripe-Signature", ""), SECRET
        )
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponse("bad signature", status=400)
    obj = event["data"]["object"]
    with transaction.atomic():
        StripeWebhookEvent.objects.create(
            stripe_event_id=event["id"],
            event_type=event["type"],
            data=json.loads(request.body),
            processed=True,
            status="processed",
            stripe_object_id=obj["id"],
            attempts=1,
        )
        payment = Payment.objects.select_for_update().get(stripe_payment_intent_id=obj["id"])
        payment.status = "succeeded"
        payment.save(update_fields=["status", "updated_at"])
    return JsonResponse({"status": 200, "at": timezone.now().isoformat()})


urlpatterns = [path("api/payments/webhook/stripe/", minimal_hook)]

from django.core.wsgi import get_wsgi_application  # noqa: E402

django_app = get_wsgi_application()
