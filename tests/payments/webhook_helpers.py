"""Build and sign webhook deliveries the way Stripe does (independently of the stand-in)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any

URL = "/api/payments/webhook/stripe/"
SECRET = "whsec_tests_signing_secret"
_ids = itertools.count(1)


def signature(body: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(type_: str, obj: dict[str, Any], *, created: int | None = None, id_: str | None = None):
    return {
        "id": id_ or f"evt_test_{next(_ids)}",
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created if created is not None else int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
        "data": {"object": obj},
    }


def intent(pi_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"id": pi_id, "object": "payment_intent", "status": status, **fields}


def deliver(client, evt: dict[str, Any], *, secret: str = SECRET, timestamp: int | None = None):
    body = json.dumps(evt).encode()
    return client.post(
        URL,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=signature(body, secret, timestamp),
    )


def charge(payment, **fields: Any) -> dict[str, Any]:
    """The charge object of a payment as a charge.* event carries it."""
    return {
        "id": payment.stripe_charge_id,
        "object": "charge",
        "status": "succeeded",
        "payment_intent": payment.stripe_payment_intent_id,
        **fields,
    }


def sandbox_events(sandbox, type_: str, object_id: str | None = None) -> list[dict[str, Any]]:
    """The events the Stripe stand-in recorded of a type (oldest first), optionally only those
    about one object: what Stripe would deliver, for tests that deliver them in their own order."""
    status, body, _ = sandbox.api("GET", "/v1/events", {"type": type_, "limit": 100})
    assert status == 200, body
    found = [e for e in reversed(body["data"]) if e["type"] == type_]
    if object_id is not None:
        found = [e for e in found if e["data"]["object"]["id"] == object_id]
    return found
