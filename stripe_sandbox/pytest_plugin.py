"""pytest fixtures for the offline Stripe stand-in.

Register in tests/conftest.py: `pytest_plugins = ["stripe_sandbox.pytest_plugin"]`.

- `stripe_sandbox_server` (session): the real server on a free port of 127.0.0.1, in threads of
  the test process, with fast webhook retries and refund settling.
- `stripe_sandbox` (function): resets the stand-in (objects, events, faults, request log, webhook
  endpoints), points Django settings at it, and returns a `StripeSandbox` handle.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from . import forms
from .server import SandboxServer

SECRET_KEY = "sk_test_sandbox"  # noqa: S105 (the stand-in's own test key)
PUBLISHABLE_KEY = "pk_test_sandbox"
WEBHOOK_SECRET = "whsec_sandbox_test_secret"  # noqa: S105

Obj = dict[str, Any]


class StripeSandbox:
    """A handle on a running stand-in: its stand-in-only controls, plus raw access to its API."""

    def __init__(
        self,
        base_url: str,
        *,
        secret_key: str = SECRET_KEY,
        publishable_key: str = PUBLISHABLE_KEY,
        webhook_secret: str = WEBHOOK_SECRET,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret_key = secret_key
        self.publishable_key = publishable_key
        # The secret `add_webhook_endpoint` uses by default; the fixture puts it in settings.
        self.webhook_secret = webhook_secret

    @property
    def js_url(self) -> str:
        return f"{self.base_url}/v3/"

    # --- raw HTTP -------------------------------------------------------------------------------
    def _http(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        request = urllib.request.Request(  # noqa: S310 (our own base URL)
            self.base_url + path, data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (our URL)
                status, raw, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), dict(exc.headers)
        is_json = got.get("Content-Type", "").startswith("application/json")
        return status, (json.loads(raw) if is_json and raw else raw.decode()), got

    def control(self, method: str, path: str, payload: Obj | None = None) -> Any:
        """Call a stand-in-only endpoint under /_sandbox; raise on an error answer."""
        body = json.dumps(payload).encode() if payload is not None else None
        status, result, _ = self._http(
            method, f"/_sandbox/{path}", body, {"Content-Type": "application/json"}
        )
        if status >= 400:
            raise AssertionError(f"{method} /_sandbox/{path} answered {status}: {result}")
        return result

    def api(
        self,
        method: str,
        path: str,
        params: Obj | None = None,
        *,
        key: str | None = None,
        idempotency_key: str | None = None,
        stripe_version: str | None = None,
    ) -> tuple[int, Obj, dict[str, str]]:
        """Call the Stripe API as a client would: form-encoded, Bearer key (the secret key
        unless given). Returns (status, JSON body, headers)."""
        encoded = forms.encode(params or {})
        headers = {"Authorization": f"Bearer {key or self.secret_key}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if stripe_version:
            headers["Stripe-Version"] = stripe_version
        if method == "GET":
            return self._http("GET", f"{path}?{encoded}" if encoded else path, None, headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self._http(method, path, encoded.encode(), headers)

    # --- lifecycle, request log, faults ----------------------------------------------------------
    def reset(self) -> None:
        self.control("POST", "reset")

    def requests_log(self, *, method: str | None = None, path: str | None = None) -> list[Obj]:
        """What the stand-in was asked on /v1: method, path, params (decoded), idempotency_key,
        key_type ("secret"/"publishable"/None), api_key (masked), status, replayed, fault."""
        entries = self.control("GET", "requests")["data"]
        return [
            e
            for e in entries
            if (method is None or e["method"] == method) and (path is None or e["path"] == path)
        ]

    def clear_requests_log(self) -> None:
        self.control("DELETE", "requests")

    def inject_fault(
        self, method: str, path: str, kind: str, *, count: int = 1, seconds: float = 3.0
    ) -> Obj:
        """The next `count` calls matching `method` ("*" for any) and `path` (an fnmatch pattern
        such as "/v1/payment_intents*") answer `kind`: "500" or "429" (nothing runs), "hang"
        (wait `seconds`, then run the request anyway, as a slow Stripe would after the client has
        given up), or "lost" (run it, then answer 500: Stripe acted and the answer was lost)."""
        return self.control(
            "POST",
            "faults",
            {"method": method, "path": path, "kind": str(kind), "count": count, "seconds": seconds},
        )

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def set_account_country(self, country: str) -> None:
        """The account's country (until the next reset): which payment methods work."""
        self.control("POST", "account", {"country": country})

    def expire_idempotency_keys(self) -> None:
        """Forget every stored idempotency key, as once Stripe's 24 hours have passed."""
        self.control("POST", "idempotency_keys/expire")

    # --- webhooks --------------------------------------------------------------------------------
    def add_webhook_endpoint(
        self, url: str, secret: str | None = None, *, enabled_events: list[str] | None = None
    ) -> Obj:
        return self.control(
            "POST",
            "webhook_endpoints",
            {
                "url": url,
                "secret": secret or self.webhook_secret,
                "enabled_events": enabled_events or ["*"],
            },
        )

    def remove_webhook_endpoint(self, endpoint_id: str) -> None:
        self.control("DELETE", f"webhook_endpoints/{endpoint_id}")

    def webhook_deliveries(self) -> list[Obj]:
        return self.control("GET", "webhook_deliveries")["data"]

    def pause_webhooks(self) -> None:
        self.control("POST", "webhooks/pause")

    def resume_webhooks(self) -> None:
        self.control("POST", "webhooks/resume")

    def resend_event(self, event_id: str) -> Obj:
        return self.control("POST", f"events/{event_id}/resend")

    def wait_for_deliveries(
        self, until: Callable[[list[Obj]], bool] | None = None, *, timeout: float = 5.0
    ) -> list[Obj]:
        """Wait until no delivery is pending (or `until(deliveries)` holds); return them all."""
        done = until or (lambda ds: all(d["status"] != "pending" for d in ds))
        deadline = time.monotonic() + timeout
        while True:
            deliveries = self.webhook_deliveries()
            if done(deliveries):
                return deliveries
            if time.monotonic() > deadline:
                raise AssertionError(f"webhook deliveries still pending: {deliveries}")
            time.sleep(0.02)

    # --- the customer's side: Stripe.js, the bank ------------------------------------------------
    def confirm_payment_intent(
        self, pi_id: str, payment_method: str = "pm_card_visa", *, card: Obj | None = None
    ) -> tuple[int, Obj]:
        """Do what Stripe.js's confirmCardPayment does, with the publishable key and client
        secret: `card={"number": "4000002500003155"}` creates the PaymentMethod from a raw card
        (expiry and CVC filled in); otherwise `payment_method` is an id or a test token."""
        status, pi, _ = self.api("GET", f"/v1/payment_intents/{pi_id}")
        assert status == 200, pi
        client_secret = pi["client_secret"]
        if card is not None:
            card = {
                "exp_month": "12",
                "exp_year": str(time.gmtime().tm_year + 2),
                "cvc": "123",
            } | card
            status, pm, _ = self.api(
                "POST",
                "/v1/payment_methods",
                {"type": "card", "card": card},
                key=self.publishable_key,
            )
            if status != 200:
                return status, pm
            payment_method = pm["id"]
        status, body, _ = self.api(
            "POST",
            f"/v1/payment_intents/{pi_id}/confirm",
            {"payment_method": payment_method, "client_secret": client_secret},
            key=self.publishable_key,
        )
        return status, body

    def three_d_secure_url(self, pi_id: str) -> str:
        return f"{self.base_url}/_sandbox/three_d_secure/{pi_id}"

    def complete_3ds(self, pi_id: str) -> Obj:
        return self.control("POST", f"three_d_secure/{pi_id}/complete")

    def fail_3ds(self, pi_id: str) -> Obj:
        return self.control("POST", f"three_d_secure/{pi_id}/fail")

    def fund_cash_balance(
        self, customer_id: str, amount: int, currency: str, reference: str | None = None
    ) -> Obj:
        """The customer's bank transfer arrives (Stripe's test helper): it pays their
        PaymentIntent waiting for one, in part or in full."""
        params: Obj = {"amount": amount, "currency": currency}
        if reference:
            params["reference"] = reference
        status, body, _ = self.api(
            "POST", f"/v1/test_helpers/customers/{customer_id}/fund_cash_balance", params
        )
        assert status == 200, body
        return body

    def bank_payment(self, pi_id: str, action: str) -> Obj:
        """Move a bank-transfer/debit PaymentIntent: "processing", then "succeed" or "fail"."""
        return self.control("POST", f"payment_intents/{pi_id}/{action}")

    def settle_refunds(self) -> None:
        """Run the refunds that settle later (test cards 5126 and 7726) now, and every other
        scheduled change (disputes decided by Stripe's test evidence)."""
        self.control("POST", "scheduled/run")

    def run_scheduled(self) -> None:
        """Run every scheduled change now (`settle_refunds` by another name)."""
        self.control("POST", "scheduled/run")

    # --- disputes (test cards 0259, 2685, 1976; `pm_card_createDispute...`) ----------------------
    def disputes(
        self, payment_intent_id: str | None = None, *, charge_id: str | None = None
    ) -> list[Obj]:
        """The disputes (newest first), of one PaymentIntent or charge if given."""
        params: Obj = {"limit": 100, "payment_intent": payment_intent_id, "charge": charge_id}
        status, body, _ = self.api("GET", "/v1/disputes", params)
        assert status == 200, body
        return body["data"]

    def dispute(self, dispute_id: str) -> Obj:
        status, body, _ = self.api("GET", f"/v1/disputes/{dispute_id}")
        assert status == 200, body
        return body

    def dispute_decide(self, dispute_id: str, outcome: str) -> Obj:
        """The card issuer decides: "won" or "lost" (`charge.dispute.closed`, and for a won
        chargeback `charge.dispute.funds_reinstated`). Returns the dispute."""
        return self.control("POST", f"disputes/{dispute_id}/decide", {"outcome": outcome})


@pytest.fixture(scope="session")
def stripe_sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(
        "127.0.0.1",
        0,
        secret_key=SECRET_KEY,
        publishable_key=PUBLISHABLE_KEY,
        webhook_retry_base=0.05,
        webhook_max_attempts=4,
        webhook_timeout=2.0,
        refund_settle_delay=0.3,
    ).start()
    yield server
    server.shutdown()


@pytest.fixture
def stripe_sandbox(stripe_sandbox_server: SandboxServer, settings: Any) -> StripeSandbox:
    handle = StripeSandbox(stripe_sandbox_server.base_url)
    handle.reset()
    settings.STRIPE_API_BASE = handle.base_url
    settings.STRIPE_SECRET_KEY = handle.secret_key
    settings.STRIPE_PUBLIC_KEY = handle.publishable_key
    settings.STRIPE_WEBHOOK_SECRETS = [handle.webhook_secret]
    settings.STRIPE_JS_URL = handle.js_url
    # Short enough that a "hang" fault (3 s by default) outlasts it.
    settings.STRIPE_TIMEOUT_SECONDS = 2.0
    return handle
