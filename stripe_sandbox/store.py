"""The stand-in's state: Stripe objects, events, idempotency records, webhook queue.

One re-entrant lock guards everything; the threaded server takes it for a whole API request, so
requests apply one at a time, as if Stripe serialised them. The JSON state file is rewritten
atomically (temporary file, fsync, rename) after every change, so a restart resumes where the demo
left off. The request log and injected faults are kept in memory only: they are test aids.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .objects import new_id

Obj = dict[str, Any]

KINDS = (
    "customer",
    "payment_method",
    "payment_intent",
    "charge",
    "refund",
    "dispute",
    "event",
)
# Stripe keeps idempotency keys for at least 24 hours.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600
REQUEST_LOG_LIMIT = 5000


@dataclass
class Fault:
    """Answer the next `remaining` requests matching method + path pattern with a failure."""

    method: str  # "POST", "GET", ... or "*"
    path: str  # fnmatch pattern: "/v1/payment_intents*"
    kind: str  # "500", "429" or "hang"
    remaining: int = 1
    seconds: float = 10.0  # hang duration

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path)


@dataclass
class WebhookEndpoint:
    id: str
    url: str
    secret: str
    enabled_events: list[str] = field(default_factory=lambda: ["*"])
    source: str = "runtime"  # "cli" endpoints come back after a reset

    def wants(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.enabled_events)


def _empty() -> Obj:
    return {
        "version": 1,
        "objects": {kind: {} for kind in KINDS},
        # Stand-in-only facts about objects (which test card a PaymentMethod was made from).
        "private": {},
        "idempotency": {},
        "webhook_endpoints": {},
        "deliveries": [],
        "scheduled": [],
    }


class Store:
    def __init__(self, path: Path | None = None) -> None:
        self.lock = threading.RLock()
        self.path = path
        self.data = _empty()
        # Bumped by reset(): a request held by a "hang" fault across a reset is dropped.
        self.generation = 0
        self.request_log: list[Obj] = []
        self.faults: list[Fault] = []
        # Idempotency keys of requests still running (Stripe answers a second one 409).
        self.keys_in_flight: set[str] = set()
        self.webhooks_paused = False
        # Set whenever the webhook worker has something new to look at.
        self.wakeup = threading.Event()
        if path is not None and path.exists():
            loaded = json.loads(path.read_text() or "{}")
            if loaded.get("version") == 1:
                self.data = loaded
                for kind in KINDS:
                    self.data["objects"].setdefault(kind, {})

    # --- objects ------------------------------------------------------------------------------
    def collection(self, kind: str) -> dict[str, Obj]:
        return self.data["objects"][kind]

    def get(self, kind: str, obj_id: str) -> Obj | None:
        return self.collection(kind).get(obj_id)

    def put(self, obj: Obj) -> Obj:
        self.collection(obj["object"])[obj["id"]] = obj
        return obj

    def private(self, obj_id: str) -> Obj:
        return self.data["private"].setdefault(obj_id, {})

    # --- webhook endpoints --------------------------------------------------------------------
    def endpoints(self) -> list[WebhookEndpoint]:
        return [WebhookEndpoint(**e) for e in self.data["webhook_endpoints"].values()]

    def add_endpoint(self, endpoint: WebhookEndpoint) -> None:
        self.data["webhook_endpoints"][endpoint.id] = asdict(endpoint)

    def remove_endpoint(self, endpoint_id: str) -> bool:
        return self.data["webhook_endpoints"].pop(endpoint_id, None) is not None

    def queue_delivery(self, event_id: str, endpoint_id: str) -> None:
        """Queue a webhook delivery of an event to an endpoint, due now (the sender picks it up)."""
        self.data["deliveries"].append(
            {
                "id": new_id("whdel"),
                "event": event_id,
                "endpoint": endpoint_id,
                "attempts": 0,
                "next_at": time.time(),
                "status": "pending",
                "history": [],
            }
        )

    # --- idempotency --------------------------------------------------------------------------
    def idempotent_result(self, key: str) -> Obj | None:
        record = self.data["idempotency"].get(key)
        if record and record["created"] < time.time() - IDEMPOTENCY_TTL_SECONDS:
            del self.data["idempotency"][key]
            return None
        return record

    def remember(self, key: str, record: Obj) -> None:
        self.data["idempotency"][key] = {**record, "created": time.time()}

    # --- faults -------------------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and fault.matches(method, path):
                fault.remaining -= 1
                return copy.copy(fault)
        return None

    # --- lifecycle ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything except the webhook endpoints given on the command line."""
        cli = {k: v for k, v in self.data["webhook_endpoints"].items() if v["source"] == "cli"}
        self.data = _empty()
        self.data["webhook_endpoints"] = cli
        self.generation += 1
        self.request_log.clear()
        self.faults.clear()
        self.webhooks_paused = False
        self.save()

    def log_request(self, entry: Obj) -> None:
        self.request_log.append(entry)
        del self.request_log[:-REQUEST_LOG_LIMIT]

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".stripe_sandbox.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.data, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
