"""Webhook delivery: signed exactly as Stripe signs, retried with exponential back-off.

`Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, computed afresh for
each attempt. A delivery that answers non-2xx, or cannot connect, is retried after
`retry_base * 2 ** (attempt - 1)` seconds, up to `max_attempts` attempts (Stripe itself keeps
trying for three days; the stand-in's numbers are small so tests and demos see retries quickly).

The worker also runs the stand-in's scheduled jobs (refunds that settle later). It never holds
the store's lock while it waits on a receiver, because receivers often call the API back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import StripeAPI

logger = logging.getLogger("stripe_sandbox.webhooks")


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value for `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class WebhookWorker(threading.Thread):
    def __init__(
        self,
        api: StripeAPI,
        *,
        retry_base: float = 5.0,
        max_attempts: int = 8,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(name="stripe-sandbox-webhooks", daemon=True)
        self.api = api
        self.store = api.store
        self.retry_base = retry_base
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.store.wakeup.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.tick()
            except Exception:  # keep delivering whatever one bad event did
                logger.exception("webhook worker tick failed")
            self.store.wakeup.wait(timeout=self.next_wait())
            self.store.wakeup.clear()

    def next_wait(self) -> float:
        with self.store.lock:
            times = [job["at"] for job in self.store.data["scheduled"]]
            if not self.store.webhooks_paused:
                times += [
                    d["next_at"] for d in self.store.data["deliveries"] if d["status"] == "pending"
                ]
        if not times:
            return 1.0
        return max(0.0, min(1.0, min(times) - time.time()))

    def tick(self) -> None:
        with self.store.lock:
            self.api.run_due_jobs()
            if self.store.webhooks_paused:
                return
            now = time.time()
            generation = self.store.generation
            endpoints = {e.id: e for e in self.store.endpoints()}
            batch: list[tuple[dict[str, Any], str, str, str]] = []
            for delivery in self.store.data["deliveries"]:
                if delivery["status"] != "pending" or delivery["next_at"] > now:
                    continue
                endpoint = endpoints.get(delivery["endpoint"])
                event = self.store.get("event", delivery["event"])
                if endpoint is None or event is None:
                    delivery["status"] = "abandoned"
                    continue
                payload = json.dumps(event, indent=2)
                batch.append((delivery, endpoint.url, endpoint.secret, payload))
        for delivery, url, secret, payload in batch:
            status, error = self.post(url, secret, payload)
            with self.store.lock:
                if self.store.generation != generation:
                    return  # reset while we were posting: these deliveries no longer exist
                self.record(delivery, status, error)
        if batch:
            with self.store.lock:
                self.store.save()

    def post(self, url: str, secret: str, payload: str) -> tuple[int | None, str | None]:
        if not url.startswith(("http://", "https://")):
            return None, f"not an http(s) URL: {url}"
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url,
            data=payload.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                "Stripe-Signature": sign(payload, secret),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, None
        except OSError as exc:  # refused, reset, timed out
            return None, f"{type(exc).__name__}: {exc}"

    def record(self, delivery: dict[str, Any], status: int | None, error: str | None) -> None:
        delivery["attempts"] += 1
        delivery["history"].append({"at": time.time(), "status": status, "error": error})
        event = self.store.get("event", delivery["event"])
        if status is not None and 200 <= status < 300:
            delivery["status"] = "succeeded"
        elif delivery["attempts"] >= self.max_attempts:
            delivery["status"] = "failed"
        else:
            delivery["next_at"] = time.time() + self.retry_base * 2 ** (delivery["attempts"] - 1)
            return
        if event is not None:
            event["pending_webhooks"] = max(0, event["pending_webhooks"] - 1)
        logger.info(
            "webhook %s -> %s: %s", delivery["event"], delivery["endpoint"], delivery["status"]
        )
