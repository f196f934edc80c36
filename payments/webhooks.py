"""Stripe's door in: POST /api/payments/webhook/stripe/.

Nothing in a request is trusted until its `Stripe-Signature` verifies against one of our signing
secrets (several during a rotation) within Stripe's five-minute tolerance. A verified event is
recorded once (the verified body, as the JSON it is) and applied by payments.services: with a
worker, off the request path (the answer is 200 as soon as the event is stored, and no Stripe
call happens here); without one (the demo), here. The status code tells Stripe what to do next:
200 (stored; or done, or a copy of something done), 400 (forged, stale or malformed: do not
retry), 500 (not stored, or, without a worker, applying failed: retry later).
"""

from __future__ import annotations

import logging

from csp.decorators import csp_exempt
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments import services, stripe_client

logger = logging.getLogger(__name__)

# Stripe's events are a few kilobytes; anything near this is not from Stripe.
MAX_BODY_BYTES = 512 * 1024


def _answer(status: int, message: str, **extra: str) -> JsonResponse:
    return JsonResponse({"status": status, "message": message, **extra}, status=status)


@csrf_exempt  # Stripe cannot send a CSRF token; the signature is the proof of origin
@csp_exempt()  # a JSON answer to Stripe, never rendered: building the header is wasted work
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        logger.warning("webhook refused: body of %s bytes", length)
        return _answer(413, "Payload too large.")
    payload = request.body
    signature = request.headers.get("Stripe-Signature", "")
    if not signature:
        logger.warning("webhook refused: no Stripe-Signature header")
        return _answer(400, "Missing Stripe-Signature header.")
    try:
        data = stripe_client.webhook_event_verify(payload, signature)
    except stripe_client.WebhookSignatureInvalid as exc:
        # Log why, never the payload: it may carry customer data.
        logger.warning("webhook refused: %s", exc)
        return _answer(400, "Invalid signature or payload.")
    problem = services.webhook_event_problem(data, payload)
    if problem is not None:
        services.webhook_refusal_record(payload=payload, data=data, reason=problem)
        logger.warning("webhook refused: signed, but %s", problem)
        return _answer(400, f"Signed, but not an event this endpoint takes: {problem}.")
    try:
        row = services.webhook_event_receive(event=data, payload=payload)
    except services.WebhookProcessingFailed as exc:
        return _answer(500, str(exc))
    return _answer(200, "ok", event=row.stripe_event_id, outcome=row.status)
