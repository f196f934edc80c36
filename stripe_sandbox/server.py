"""The HTTP side: Stripe's wire format on /v1, stand-in-only controls on /_sandbox, Stripe.js.

Each /v1 request: authenticate (secret key as Bearer or Basic; publishable key as Bearer or a
`key` parameter, as Stripe.js sends it), log it, apply an injected fault if one matches, honour
its idempotency key, run the handler under the store's lock, persist, answer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import contract, forms, imports, objects
from .api import Ctx, StripeAPI, StripeError, format_amount, invalid
from .store import Fault, Store, WebhookEndpoint
from .webhooks import WebhookWorker

logger = logging.getLogger("stripe_sandbox")
STATIC = Path(__file__).parent / "static"
# Stripe's answer when it failed: whether the request ran is not said.
API_ERROR_500 = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
Obj = dict[str, Any]


def mask(key: str) -> str:
    return f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"


class SandboxServer:
    """The stand-in: HTTP server + state + webhook worker. `start()` runs it in threads."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 12111,
        *,
        state_file: Path | str | None = None,
        secret_key: str = "sk_test_sandbox",  # noqa: S107 (a test key)
        publishable_key: str = "pk_test_sandbox",
        webhooks: list[tuple[str, str]] | None = None,
        webhook_retry_base: float = 5.0,
        webhook_max_attempts: int = 8,
        webhook_timeout: float = 10.0,
        refund_settle_delay: float = 2.0,
        account_country: str = "NL",
        verbose: bool = False,
    ) -> None:
        self.store = Store(Path(state_file) if state_file else None)
        self.api = StripeAPI(
            self.store, refund_settle_delay=refund_settle_delay, account_country=account_country
        )
        self.secret_key = secret_key
        self.publishable_key = publishable_key
        self.verbose = verbose
        with self.store.lock:
            for endpoint in [e for e in self.store.endpoints() if e.source == "cli"]:
                self.store.remove_endpoint(endpoint.id)
            for url, secret in webhooks or []:
                digest = hashlib.sha256(url.encode()).hexdigest()[:16]
                self.store.add_endpoint(
                    WebhookEndpoint(f"we_cli_{digest}", url, secret, source="cli")
                )
            self.store.save()
        self.worker = WebhookWorker(
            self.api,
            retry_base=webhook_retry_base,
            max_attempts=webhook_max_attempts,
            timeout=webhook_timeout,
        )
        handler = type("Handler", (SandboxHandler,), {"sandbox": self})
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SandboxServer:
        self.worker.start()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), name="stripe-sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.worker.start()
        try:
            self.httpd.serve_forever()
        finally:
            self.worker.stop()

    def shutdown(self) -> None:
        self.worker.stop()
        self.httpd.shutdown()
        self.httpd.server_close()


class SandboxHandler(BaseHTTPRequestHandler):
    sandbox: SandboxServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without TCP_NODELAY a keep-alive client
    # waits for the delayed ACK (~40 ms) on every request.
    disable_nagle_algorithm = True
    server_version = "stripe-sandbox/1.0"
    # Whether this request's idempotency key was released once its outcome was stored.
    key_released = False

    # --- plumbing -----------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        if self.sandbox.verbose:
            logger.info("%s %s", self.address_string(), format % args)

    def base_url(self) -> str:
        return f"http://{self.headers.get('Host') or self.sandbox.base_url.removeprefix('http://')}"

    def read_body(self) -> str:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length).decode("utf-8") if length else ""

    def send(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Expose-Headers", "Request-Id, Idempotent-Replayed")
            self.send_header("Cache-Control", "no-cache, no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a "hang" fault outlived its timeout)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send(status, json.dumps(payload, indent=2).encode(), "application/json", headers)

    def send_html(self, status: int, body: str) -> None:
        self.send(status, body.encode(), "text/html; charset=utf-8")

    def do_OPTIONS(self) -> None:
        self.send(
            204,
            b"",
            "text/plain",
            {
                "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": (
                    "Authorization, Content-Type, Idempotency-Key, Stripe-Version"
                ),
                "Access-Control-Max-Age": "600",
            },
        )

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        try:
            if path.startswith("/v1/"):
                self.handle_api(method)
            elif path.startswith("/_sandbox"):
                self.handle_sandbox(method, path)
            elif path in ("/v3", "/v3/", "/v3/stripe.js", "/js/stripe.js") and method == "GET":
                self.send_static("stripe.js", "application/javascript; charset=utf-8")
            else:
                self.send_json(
                    404, invalid(f"Unrecognized request URL ({method}: {path}).", status=404).body()
                )
        except Exception:
            logger.exception("stand-in failure on %s %s", method, path)
            self.send_json(
                500,
                {"error": {"type": "api_error", "message": "The stand-in failed; see its log."}},
            )

    def send_static(self, name: str, content_type: str) -> None:
        self.send(200, (STATIC / name).read_bytes(), content_type)

    # --- /v1: the Stripe API ------------------------------------------------------------------
    def authenticate(self, params: Obj) -> tuple[str | None, str | None, StripeError | None]:
        """(key type, masked key, error). Keys: Bearer, Basic (key as user), or `key` param."""
        header = self.headers.get("Authorization", "")
        key = None
        if header.startswith("Bearer "):
            key = header[7:].strip()
        elif header.startswith("Basic "):
            try:
                key = base64.b64decode(header[6:]).decode().split(":", 1)[0]
            except ValueError:
                key = ""
        if key is None and isinstance(params.get("key"), str):
            key = params["key"]
        params.pop("key", None)
        if not key:
            return (
                None,
                None,
                invalid(
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                    "details.",
                    status=401,
                ),
            )
        if key == self.sandbox.secret_key:
            return "secret", mask(key), None
        if key == self.sandbox.publishable_key:
            return "publishable", mask(key), None
        return None, mask(key), invalid(f"Invalid API Key provided: {mask(key)}", status=401)

    def handle_api(self, method: str) -> None:
        store = self.sandbox.store
        split = urlsplit(self.path)
        path = split.path.rstrip("/")
        request_id = objects.new_id("req", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": self.headers.get("Stripe-Version") or objects.DEFAULT_API_VERSION,
        }
        body = self.read_body()
        try:
            params = forms.decode(split.query)
            if method == "POST":
                params.update(forms.decode(body))
        except forms.MalformedParams as exc:
            self.send_json(400, invalid(str(exc)).body(), headers)
            return
        key_type, masked_key, auth_error = self.authenticate(params)
        idempotency_key = self.headers.get("Idempotency-Key") if method == "POST" else None
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        entry: Obj = {
            "id": request_id,
            "time": time.time(),
            "method": method,
            "path": path,
            "params": params,
            "idempotency_key": idempotency_key,
            "key_type": key_type,
            "api_key": masked_key,
            "stripe_version": self.headers.get("Stripe-Version"),
            "status": None,
            "replayed": False,
            "fault": None,
        }
        with store.lock:
            store.log_request(entry)
            generation = store.generation
            fault = None if auth_error else store.take_fault(method, path)
            # Refused at the door (401, an injected 500 or 429) before idempotency is looked at.
            at_the_door = auth_error is not None or (
                fault is not None and fault.kind in ("500", "429")
            )
            in_use = (
                not at_the_door
                and bool(idempotency_key)
                and idempotency_key in store.keys_in_flight
            )
            tracked = bool(idempotency_key) and not at_the_door and not in_use
            if tracked:
                store.keys_in_flight.add(str(idempotency_key))
        if auth_error:
            entry["status"] = 401
            self.send_json(401, auth_error.body(), headers)
            return
        if in_use:
            # As Stripe: a second request with a key whose first is still running is refused
            # (nothing stored for it), and may be retried once the first has finished.
            entry["status"] = 409
            error = invalid(
                "There is currently another in-progress request using this Idempotent Key "
                "(that probably means you submitted twice, and the other request is still going "
                f"through): {idempotency_key}. Please try again later.",
                code="idempotency_key_in_use",
                status=409,
            )
            self.send_json(409, error.body(), headers)
            return
        self.key_released = False
        try:
            self.run_v1(
                method,
                path,
                params,
                key_type,
                idempotency_key,
                request_id,
                entry,
                headers,
                fault,
                generation,
            )
        finally:
            if tracked and not self.key_released:
                with store.lock:
                    store.keys_in_flight.discard(str(idempotency_key))

    def run_v1(
        self,
        method: str,
        path: str,
        params: Obj,
        key_type: str | None,
        idempotency_key: str | None,
        request_id: str,
        entry: Obj,
        headers: dict[str, str],
        fault: Any,
        generation: int,
    ) -> None:
        """Run a /v1 request that passed authentication: its fault first, if one was set."""
        store = self.sandbox.store
        if fault is not None:
            entry["fault"] = fault.kind
            if fault.kind == "500":
                entry["status"] = 500
                self.send_json(500, API_ERROR_500, headers)
                return
            if fault.kind == "429":
                entry["status"] = 429
                error = invalid(
                    "Request rate limit exceeded. Learn more about rate limits here "
                    "https://stripe.com/docs/rate-limits.",
                    code="rate_limit",
                    status=429,
                )
                self.send_json(429, error.body(), headers)
                return
            if fault.kind == "failed":
                # It began executing, then Stripe failed: nothing was done, and (as at Stripe)
                # the 500 is stored, so a retry with the key gets the same 500 back.
                entry["status"] = 500
                if idempotency_key:
                    with store.lock:
                        store.remember(
                            idempotency_key,
                            {
                                "fingerprint": json.dumps([method, path, params], sort_keys=True),
                                "status": 500,
                                "body": API_ERROR_500,
                                "request_id": request_id,
                            },
                        )
                self.send_json(500, API_ERROR_500, headers)
                return
            if fault.kind == "hang":
                time.sleep(fault.seconds)  # Stripe is slow; the request still runs after
        with store.lock:
            if store.generation != generation:
                entry["status"] = 500
                self.send_json(
                    500,
                    {
                        "error": {
                            "type": "api_error",
                            "message": "The stand-in was reset during this request.",
                        }
                    },
                    headers,
                )
                return
            status, payload, extra = self.run_api(
                method, path, params, key_type or "", idempotency_key, request_id
            )
            entry["status"] = status
            entry["replayed"] = "Idempotent-Replayed" in extra
            headers.update(extra)
            if method == "POST":
                store.save()
            if idempotency_key:
                # Done before the answer goes out: a retry sent as soon as it arrives is a
                # replay, not a 409 for a request still in progress.
                store.keys_in_flight.discard(idempotency_key)
                self.key_released = True
        if fault is not None and fault.kind == "lost":
            # The request ran (and its idempotent result is stored), but its answer is lost on
            # the way back: the client sees a 500, as when Stripe fails after acting.
            entry["status"] = 500
            self.send_json(500, API_ERROR_500, headers)
            return
        self.send_json(status, payload, headers)

    def run_api(
        self,
        method: str,
        path: str,
        params: Obj,
        key_type: str,
        idempotency_key: str | None,
        request_id: str,
    ) -> tuple[int, Obj, dict[str, str]]:
        store, api = self.sandbox.store, self.sandbox.api
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        if idempotency_key:
            record = store.idempotent_result(idempotency_key)
            if record is not None:
                if record["fingerprint"] != fingerprint:
                    return (
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with the "
                                "same "
                                "parameters they were first used with. Try using a key other than "
                                f"'{idempotency_key}' if you meant to execute a different request.",
                            }
                        },
                        {},
                    )
                return (
                    record["status"],
                    record["body"],
                    {
                        "Idempotent-Replayed": "true",
                        "Original-Request": record["request_id"],
                    },
                )
        ctx = Ctx(
            params=params,
            key_type=key_type,
            base_url=self.base_url(),
            request_id=request_id,
            idempotency_key=idempotency_key,
            api_version=self.headers.get("Stripe-Version"),
        )
        try:
            handler, path_args, publishable_ok, template = api.route(method, path)
            # As Stripe refuses it, before it runs.
            contract.check(
                method,
                template,
                params,
                publishable=key_type == "publishable",
                api_version=self.headers.get("Stripe-Version"),
            )
            if key_type == "publishable" and not publishable_ok:
                raise invalid(
                    "This API call cannot be made with a publishable API key. Please use a secret "
                    "API key. You can find a list of your API keys at "
                    "https://dashboard.stripe.com/account/apikeys.",
                    status=401,
                )
            status, payload, extra = 200, handler(ctx, **path_args), {}
        except StripeError as exc:
            status, payload, extra = exc.status, exc.body(), exc.headers
        # Stripe saves the outcome of any request that began executing; validation errors (4xx
        # other than a card decline) are not saved, so a corrected retry may reuse the key.
        if idempotency_key and (status < 400 or status == 402):
            store.remember(
                idempotency_key,
                {
                    "fingerprint": fingerprint,
                    "status": status,
                    "body": payload,
                    "request_id": request_id,
                },
            )
        return status, payload, extra

    # --- /_sandbox: stand-in-only controls ----------------------------------------------------
    def sandbox_params(self) -> Obj:
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body = self.read_body()
        if body:
            if (self.headers.get("Content-Type") or "").startswith("application/json"):
                params.update(json.loads(body))
            else:
                params.update(forms.decode(body))
        return params

    def handle_sandbox(self, method: str, path: str) -> None:
        store = self.sandbox.store
        params = self.sandbox_params()
        parts = [p for p in path.split("/") if p][1:]  # after "_sandbox"
        route = "/".join(parts)
        try:
            with store.lock:
                result = self.sandbox_route(method, parts, route, params)
                if method != "GET":
                    store.save()
        except StripeError as exc:
            if self.wants_html():
                self.send_html(
                    exc.status,
                    page("Stripe sandbox", f"<p>{html.escape(exc.error['message'])}</p>"),
                )
            else:
                self.send_json(exc.status, exc.body())
            return
        if isinstance(result, Response):
            self.send(result.status, result.body.encode(), result.content_type, result.headers)
        else:
            self.send_json(200, result)

    def wants_html(self) -> bool:
        return "text/html" in (self.headers.get("Accept") or "")

    def sandbox_route(self, method: str, parts: list[str], route: str, params: Obj) -> Any:
        store, api = self.sandbox.store, self.sandbox.api
        if route == "health":
            return {"ok": True}
        if route == "reset" and method == "POST":
            store.reset()
            api.account_country = api.default_account_country
            return {"reset": True}
        if route == "account":
            if method == "POST":
                country = str(params.get("country", "")).upper()
                if len(country) != 2:
                    raise invalid("country must be a two-letter code", param="country")
                api.account_country = country
            return {"country": api.account_country}
        if route == "requests":
            if method == "DELETE":
                store.request_log.clear()
                return {"cleared": True}
            return {"object": "list", "data": list(store.request_log)}
        if route == "import/payments" and method == "POST":
            # Payments the app recorded before the stand-in ran (demo data), with their ids.
            return imports.import_payments(store, params)
        if route == "idempotency_keys/expire" and method == "POST":
            # As if Stripe's 24 hours had passed: a key sent again now runs its request anew.
            forgotten = len(store.data["idempotency"])
            store.data["idempotency"].clear()
            return {"expired": forgotten}
        if route == "faults":
            if method == "POST":
                kind = str(params.get("kind", "500"))
                if kind not in ("500", "429", "hang", "lost", "failed"):
                    raise invalid("kind must be 500, 429, hang, lost or failed", param="kind")
                fault = Fault(
                    method=str(params.get("method", "*")).upper(),
                    path=str(params.get("path", "*")),
                    kind=kind,
                    remaining=int(params.get("count", 1)),
                    seconds=float(params.get("seconds", 10.0)),
                )
                store.faults.append(fault)
                return fault.__dict__
            if method == "DELETE":
                store.faults.clear()
            return {"data": [f.__dict__ for f in store.faults if f.remaining > 0]}
        if parts[:1] == ["webhook_endpoints"]:
            if method == "POST" and len(parts) == 1:
                url, secret = params.get("url"), params.get("secret")
                if not url or not secret:
                    raise invalid("url and secret are required")
                events = params.get("enabled_events") or ["*"]
                endpoint = WebhookEndpoint(
                    objects.new_id("we"), str(url), str(secret), list(events)
                )
                store.add_endpoint(endpoint)
                return endpoint.__dict__
            if method == "DELETE" and len(parts) == 2:
                return {"id": parts[1], "deleted": store.remove_endpoint(parts[1])}
            return {"data": [e.__dict__ for e in store.endpoints()]}
        if route == "webhook_deliveries":
            return {"data": list(store.data["deliveries"]), "paused": store.webhooks_paused}
        if route in ("webhooks/pause", "webhooks/resume") and method == "POST":
            store.webhooks_paused = route.endswith("pause")
            store.wakeup.set()
            return {"paused": store.webhooks_paused}
        if len(parts) == 3 and parts[0] == "events" and parts[2] == "resend" and method == "POST":
            event = api.lookup("event", parts[1])
            for endpoint in store.endpoints():
                if endpoint.wants(event["type"]):
                    store.queue_delivery(event["id"], endpoint.id)
                    event["pending_webhooks"] += 1
            store.wakeup.set()
            return event
        if route == "scheduled/run" and method == "POST":
            for job in store.data["scheduled"]:
                job["at"] = 0
            api.run_due_jobs()
            return {"ran": True}
        if parts[:1] == ["disputes"] and parts[2:] == ["decide"] and method == "POST":
            # The card issuer's decision on a dispute: {"outcome": "won" | "lost"}.
            return api.dispute_decide(parts[1], str(params.get("outcome", "")))
        if parts[:1] == ["three_d_secure"] and len(parts) in (2, 3):
            return self.three_d_secure(method, parts, params)
        if route in ("three_d_secure.js", "sandbox.css"):
            kind = "application/javascript" if route.endswith(".js") else "text/css"
            return Response(200, (STATIC / route).read_text(), f"{kind}; charset=utf-8")
        if parts[:1] == ["payment_intents"] and len(parts) in (2, 3):
            if len(parts) == 3 and method == "POST":
                if parts[2] in ("fund_half", "fund_rest"):  # a bank transfer's money arriving
                    pi = api.fund_payment_intent(parts[1], parts[2].removeprefix("fund_"))
                else:
                    pi = api.bank_payment(parts[1], parts[2])
                if self.wants_html():
                    return Response(
                        303, "", "text/html", {"Location": f"/_sandbox/payment_intents/{pi['id']}"}
                    )
                return pi
            return self.bank_page(api.lookup("payment_intent", parts[1]))
        raise invalid(f"Unknown stand-in endpoint: {method} /_sandbox/{route}", status=404)

    def three_d_secure(self, method: str, parts: list[str], params: Obj) -> Any:
        api = self.sandbox.api
        pi = api.lookup("payment_intent", parts[1])
        return_url = params.get("return_url")
        if len(parts) == 2:
            return self.three_d_secure_page(pi, return_url)
        if method != "POST" or parts[2] not in ("complete", "fail"):
            raise invalid("POST /_sandbox/three_d_secure/<id>/complete or /fail", status=404)
        api.three_d_secure(pi["id"], parts[2])
        if return_url:
            # The redirect flow: back to the merchant's page, as Stripe appends these parameters.
            query = urlencode(
                {
                    "payment_intent": pi["id"],
                    "payment_intent_client_secret": pi["client_secret"],
                    "redirect_status": "succeeded" if pi["status"] == "succeeded" else "failed",
                }
            )
            sep = "&" if "?" in return_url else "?"
            return Response(303, "", "text/html", {"Location": f"{return_url}{sep}{query}"})
        if self.wants_html():
            # Inside Stripe.js's frame: tell the parent page, which then fetches the outcome.
            outcome = "completed" if parts[2] == "complete" else "failed"
            script = (
                f'<script src="/_sandbox/three_d_secure.js" data-done="{html.escape(pi["id"])}" '
                f'data-outcome="{outcome}"></script>'
            )
            body = f"<p>Authentication {outcome}. You can close this window.</p>{script}"
            return Response(200, page(f"Authentication {outcome}", body), HTML)
        return pi

    def three_d_secure_page(self, pi: Obj, return_url: str | None) -> Response:
        pi_id = html.escape(pi["id"])
        if pi["status"] != "requires_action":
            status = html.escape(pi["status"])
            body = f"<p>This payment is not waiting for authentication (status {status}).</p>"
            return Response(200, page("3D Secure 2 Test Page", body), HTML)
        hidden = ""
        if return_url:
            hidden = f'<input type="hidden" name="return_url" value="{html.escape(return_url)}">'
        forms_html = "".join(
            f'<form method="post" action="/_sandbox/three_d_secure/{pi_id}/{action}">{hidden}'
            f'<button type="submit" class="{action}">{label}</button></form>'
            for action, label in (
                ("complete", "Complete authentication"),
                ("fail", "Fail authentication"),
            )
        )
        body = (
            f"<p>Authenticate the payment of <strong>{money(pi)}</strong> "
            f"(<code>{pi_id}</code>).</p>"
            "<p>This page plays the card issuer's part in the 3-D Secure test.</p>"
            f'<div class="actions">{forms_html}</div>'
        )
        return Response(200, page("3D Secure 2 Test Page", body), HTML)

    def bank_page(self, pi: Obj) -> Response:
        pi_id = html.escape(pi["id"])
        instructions = (pi["next_action"] or {}).get("display_bank_transfer_instructions")
        actions: tuple[tuple[str, str], ...]
        if pi["payment_method_types"] == ["customer_balance"]:
            actions = (("fund_half", "Send half of what remains"), ("fund_rest", "Send the rest"))
        else:
            actions = (
                ("processing", "Funds sent (processing)"),
                ("succeed", "Funds arrived (succeed)"),
                ("fail", "Payment failed"),
            )
        buttons = "".join(
            f'<form method="post" action="/_sandbox/payment_intents/{pi_id}/{action}">'
            f'<button type="submit">{label}</button></form>'
            for action, label in actions
        )
        remaining = ""
        if instructions:
            due = format_amount(instructions["amount_remaining"], pi["currency"]).upper()
            remaining = f", {html.escape(due)} still to come"
        body = (
            f"<p>Bank payment <code>{pi_id}</code> of <strong>{money(pi)}</strong>: "
            f"status <strong>{html.escape(pi['status'])}</strong>{remaining}.</p>"
            f'<div class="actions">{buttons}</div>'
        )
        return Response(200, page("Sandbox bank transfer", body), HTML)


HTML = "text/html; charset=utf-8"


def money(pi: Obj) -> str:
    return html.escape(format_amount(pi["amount"], pi["currency"]).upper())


class Response:
    def __init__(
        self, status: int, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status, self.body, self.content_type, self.headers = (
            status,
            body,
            content_type,
            headers or {},
        )


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title><link rel="stylesheet" href="/_sandbox/sandbox.css">'
        f'</head><body><main class="sandbox-bank"><h1>{html.escape(title)}</h1>{body}'
        '<p class="note">Stripe sandbox: an offline stand-in. No real bank is involved.</p>'
        "</main></body></html>"
    )
