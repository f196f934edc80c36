"""Webhook intake and applying.

1. Intake: signed `payment_intent.succeeded` events posted by concurrent clients (keep-alive) to
   the app under gunicorn (gunicorn.conf.py, production settings), interleaved round by round
   with the same load on the minimal synchronous hooks (scripts/minimal_webhook.py) under the
   same gunicorn settings. Ratios are per round.
2. How fast one Celery worker applies what was taken in.
3. Statements per delivery (a new event, a duplicate) and per applied event, counted in a
   process of its own with production settings (`python -m scripts.bench.webhooks statements`).
4. `charge.refunded` (whose applying asks Stripe for the refunds) against the Stripe stand-in,
   with and without WEBHOOKS_LATENCY of Stripe latency, interleaved, a worker running: the intake
   rate, and how long the worker takes to apply each round.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from typing import Any

from scripts.bench import common

API_VERSION = "2026-10-28.endive"
URL = "/api/payments/webhook/stripe/"
SANDBOX_KEY = "sk_test_sandbox"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("webhooks")
    group.add_argument("--webhooks-events", type=int, default=2000, help="events a round")
    group.add_argument("--webhooks-rounds", type=int, default=3, help="interleaved rounds")
    group.add_argument("--webhooks-clients", type=int, default=8, help="concurrent clients")
    group.add_argument("--webhooks-web-workers", type=int, default=2, help="gunicorn workers")
    group.add_argument("--webhooks-worker-concurrency", type=int, default=2)
    group.add_argument(
        "--webhooks-refunded-events",
        type=int,
        default=150,
        help="charge.refunded events a round of the Stripe-latency comparison",
    )
    group.add_argument(
        "--webhooks-latency", type=float, default=0.2, help="seconds of Stripe latency"
    )


def _signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    t = int(time.time())
    secret = common.BENCH_SECRET.encode()
    mac = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={t},v1={mac}"


def _event(type_: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"evt_bench_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "livemode": False,
        "type": type_,
        "data": {"object": obj},
    }


def _succeeded(i: int, intents: list[str]) -> dict[str, Any]:
    return _event(
        "payment_intent.succeeded",
        {
            "id": intents[i % len(intents)],
            "object": "payment_intent",
            "status": "succeeded",
            "latest_charge": f"ch_bench_{i % len(intents)}",
        },
    )


def _refunded(i: int, intents: list[str]) -> dict[str, Any]:
    pi = intents[i % len(intents)]
    charge = {"id": f"ch_bench_{i % len(intents)}", "object": "charge", "status": "succeeded"}
    return _event("charge.refunded", {**charge, "payment_intent": pi, "amount_refunded": 100})


def _events(n: int, intents: list[str], make: Any = _succeeded) -> list[tuple[bytes, str]]:
    return [_signed(make(i, intents)) for i in range(n)]


def _post_all(port: int, events: list[tuple[bytes, str]], clients: int) -> float:
    """Events per second, `clients` threads each on one keep-alive connection."""
    queue = list(events)
    lock = threading.Lock()
    failures: list[int] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                body, sig = queue.pop()
            conn.request(
                "POST", URL, body, {"Content-Type": "application/json", "Stripe-Signature": sig}
            )
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(response.status)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} deliveries failed: {sorted(set(failures))}")
    return len(events) / elapsed


def _bench_payments() -> list[str]:
    """500 pending payments of the benchmark's own (created once, kept between runs)."""
    from payments.models import Payment
    from shop.models import CustomUser, Order

    user, _ = CustomUser.objects.get_or_create(username="bench", defaults={"email": "b@x.test"})
    intents = [f"pi_bench_{i:05d}" for i in range(500)]
    existing = set(
        Payment.objects.filter(stripe_payment_intent_id__in=intents).values_list(
            "stripe_payment_intent_id", flat=True
        )
    )
    for pi in intents:
        if pi not in existing:
            order = Order.objects.create(user=user, total=10, currency="EUR")
            Payment.objects.create(
                order=order, user=user, amount=10, stripe_payment_intent_id=pi, status="pending"
            )
    return intents


def _worker(env: dict[str, str], concurrency: int) -> subprocess.Popen:
    return subprocess.Popen(  # noqa: S603 (our own command)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=common.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _pending() -> Any:
    from payments.models import StripeWebhookEvent

    return StripeWebhookEvent.objects.filter(
        stripe_event_id__startswith="evt_bench_", status__in=["pending", "failed"]
    )


def _wait_applied(timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while _pending().exists():
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not apply the events in time")
        time.sleep(0.1)


def _intake(args: argparse.Namespace, env: dict[str, str], intents: list[str]) -> None:
    servers = {
        "app: verify, store, wake": common.serve("config.wsgi", env),
        "minimal hook, Django view": common.serve("scripts.minimal_webhook:django_app", env),
        "minimal hook, bare WSGI": common.serve("scripts.minimal_webhook:app", env),
    }
    names = list(servers)
    clients = args.webhooks_clients

    def contender(name: str) -> Any:
        port = servers[name][1]
        return lambda: _post_all(port, _events(args.webhooks_events, intents), clients)

    try:
        for _, port in servers.values():  # warm up
            _post_all(port, _events(200, intents), clients)
        results = common.interleaved({n: contender(n) for n in names}, args.webhooks_rounds)
    finally:
        for proc, _ in servers.values():
            common.stop(proc)
    print(
        f"\nWebhook intake, payment_intent.succeeded: {clients} clients, "
        f"{args.webhooks_events} events a round, {args.webhooks_rounds} rounds, "
        f"gunicorn x {args.webhooks_web_workers} workers (gunicorn.conf.py)\n"
    )
    for name, rates in results.items():
        print(f"{name:<30} median {common.median(rates):7.0f} events/s  ({common.series(rates)})")
    for other in names[1:]:
        ratios = common.ratios(results[names[0]], results[other])
        label = "app / " + other.removeprefix("minimal hook, ")
        print(f"{label:<30} median {common.median(ratios):7.2f}x ({common.series(ratios, '.2f')})")

    waiting = _pending().count()
    worker = _worker(env, args.webhooks_worker_concurrency)
    start = time.perf_counter()
    try:
        _wait_applied()
    finally:
        elapsed = time.perf_counter() - start
        common.stop(worker)
    print(
        f"{'worker applies':<30} {waiting / elapsed:7.0f} events/s "
        f"({waiting} events, concurrency {args.webhooks_worker_concurrency}, start-up included)"
    )


def _statements(env: dict[str, str]) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "scripts.bench.webhooks", "statements"],
        cwd=common.BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    print("\nSQL statements (production settings, a worker configured)\n")
    print(out.stdout, end="")


def _count_statements() -> None:
    """In a process of its own: the statements of one delivery (new, then the same again), and
    of applying 200 events (the worker's loop: claim, then apply each)."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from payments import services

    intents = _bench_payments()
    client = Client(HTTP_HOST="127.0.0.1")

    def deliver(body: bytes, sig: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=sig
            )
        assert response.status_code == 200, response.content
        return len(queries)

    body, sig = _signed(_succeeded(0, intents))
    print(f"{'a new event':<30} {deliver(body, sig):7d} statements")
    print(f"{'the same event again':<30} {deliver(body, sig):7d} statements")
    for body, sig in _events(200, intents):
        deliver(body, sig)
    with CaptureQueriesContext(connection) as queries:
        applied = services.webhook_events_apply_due()
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
    rewrites = sum('"data"' in sql.split("WHERE")[0] for sql in updates)
    print(
        f"{'applying, per event':<30} {len(queries) / max(applied, 1):7.1f} statements "
        f"({applied} payment_intent.succeeded applied; {rewrites} UPDATEs rewrote the payload)"
    )


def _sandbox(port: int, path: str, payload: Any, method: str = "POST") -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/_sandbox/{path}",
        data=None if payload is None else json.dumps(payload).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


def _latency(args: argparse.Namespace, env: dict[str, str], intents: list[str]) -> None:
    """charge.refunded with and without Stripe latency, interleaved, a worker running."""
    port = common.free_port()
    sandbox = subprocess.Popen(  # noqa: S603 (our own command)
        [sys.executable, "-m", "stripe_sandbox", "--port", str(port), "--secret-key", SANDBOX_KEY],
        cwd=common.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    env = {**env, "STRIPE_API_BASE": f"http://127.0.0.1:{port}", "STRIPE_SECRET_KEY": SANDBOX_KEY}
    deadline = time.monotonic() + 30
    while True:
        try:
            _sandbox(port, "faults", None, "GET")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    created = int(time.time()) - 3600
    _sandbox(
        port,
        "import/payments",
        {
            "payments": [
                {
                    "id": pi,
                    "amount": 1000,
                    "currency": "eur",
                    "created": created,
                    "status": "succeeded",
                    "charge": {"id": f"ch_bench_{i}", "card": None},
                    "refunds": [
                        {"id": f"re_bench_{i}", "amount": 100, "status": "succeeded"}
                        | {"created": created + 60}
                    ],
                }
                for i, pi in enumerate(intents)
            ]
        },
    )
    server, app_port = common.serve("config.wsgi", env)
    worker = _worker(env, args.webhooks_worker_concurrency)
    n, clients = args.webhooks_refunded_events, args.webhooks_clients
    applying: dict[str, list[float]] = {}

    def contender(name: str, seconds: float) -> Any:
        def measure() -> float:
            _sandbox(port, "faults", None, "DELETE")
            if seconds:
                fault = {"kind": "hang", "seconds": seconds, "count": 10**6}
                _sandbox(port, "faults", {"method": "GET", "path": "/v1/refunds*", **fault})
            start = time.perf_counter()
            rate = _post_all(app_port, _events(n, intents, _refunded), clients)
            _wait_applied()
            applying.setdefault(name, []).append(n / (time.perf_counter() - start))
            return rate

        return measure

    names = {"no Stripe latency": 0.0, f"{args.webhooks_latency * 1000:.0f} ms": 0.0}
    names[list(names)[1]] = args.webhooks_latency
    try:
        _post_all(app_port, _events(50, intents, _refunded), clients)  # warm up
        _wait_applied()
        results = common.interleaved(
            {name: contender(name, s) for name, s in names.items()}, args.webhooks_rounds
        )
    finally:
        common.stop(worker)
        common.stop(server)
        common.stop(sandbox)
    print(
        f"\ncharge.refunded (applying lists the refunds at the stand-in): {n} events a round, "
        f"{args.webhooks_rounds} rounds, one worker (concurrency "
        f"{args.webhooks_worker_concurrency}) running\n"
    )
    for name, rates in results.items():
        print(
            f"intake, {name:<22} median {common.median(rates):7.0f} events/s  "
            f"({common.series(rates)}); applied {common.median(applying[name]):5.1f} events/s "
            f"({common.series(applying[name], '.1f')})"
        )
    first, second = list(results)
    ratios = common.ratios(results[second], results[first])
    print(
        f"intake with latency / without: median {common.median(ratios):.2f}x "
        f"({common.series(ratios, '.2f')})"
    )


def run(args: argparse.Namespace) -> None:
    """Webhook intake: the app (store and enqueue) against a minimal synchronous hook; applying."""
    from payments.models import StripeWebhookEvent

    common.require_postgres("the webhooks section")
    intents = _bench_payments()
    StripeWebhookEvent.objects.filter(stripe_event_id__startswith="evt_bench_").delete()
    env = common.production_env(WEB_CONCURRENCY=str(args.webhooks_web_workers))
    _intake(args, env, intents)
    _statements(env)
    _latency(args, env, intents)
    StripeWebhookEvent.objects.filter(stripe_event_id__startswith="evt_bench_").delete()


if __name__ == "__main__" and sys.argv[1:] == ["statements"]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    _count_statements()
