"""Webhook intake: signed `payment_intent.succeeded` events posted by concurrent clients
(keep-alive) to the app under gunicorn (gunicorn.conf.py, production settings), interleaved round
by round with the same load on a minimal synchronous hook (scripts/minimal_webhook.py) under the
same gunicorn settings; then how fast one Celery worker applies what was taken in."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
import uuid

from payments.models import Payment
from scripts.bench import common
from shop.models import CustomUser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("webhooks")
    group.add_argument("--events", type=int, default=2000, help="events a round")
    group.add_argument("--rounds", type=int, default=3, help="rounds")
    group.add_argument("--clients", type=int, default=8, help="concurrent clients")
    group.add_argument("--web-workers", type=int, default=2, help="gunicorn workers")
    group.add_argument("--worker-concurrency", type=int, default=2)


def _signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    t = int(time.time())
    secret = common.BENCH_SECRET.encode()
    mac = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={t},v1={mac}"


def _events(n: int, intents: list[str]) -> list[tuple[bytes, str]]:
    now = int(time.time())
    return [
        _signed(
            {
                "id": f"evt_bench_{uuid.uuid4().hex}",
                "object": "event",
                "api_version": "2026-10-28.endive",
                "created": now,
                "livemode": False,
                "type": "payment_intent.succeeded",
                "data": {
                    "object": {
                        "id": intents[i % len(intents)],
                        "object": "payment_intent",
                        "status": "succeeded",
                        "latest_charge": f"ch_bench_{i}",
                    }
                },
            }
        )
        for i in range(n)
    ]


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
                "POST",
                "/api/payments/webhook/stripe/",
                body,
                {"Content-Type": "application/json", "Stripe-Signature": sig},
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


def run(args: argparse.Namespace) -> None:
    """Webhook intake: the app (store and enqueue) against a minimal synchronous hook."""
    from payments.models import StripeWebhookEvent
    from shop.models import Order

    common.require_postgres("the webhooks section")
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
    StripeWebhookEvent.objects.filter(stripe_event_id__startswith="evt_bench_").delete()
    env = common.production_env(WEB_CONCURRENCY=str(args.web_workers))
    servers = {
        "app: verify, store, wake": common.serve("config.wsgi", env),
        "minimal hook, Django view": common.serve("scripts.minimal_webhook:django_app", env),
        "minimal hook, bare WSGI": common.serve("scripts.minimal_webhook:app", env),
    }
    results: dict[str, list[float]] = {name: [] for name in servers}
    names = list(servers)
    try:
        for _, port in servers.values():  # warm up
            _post_all(port, _events(200, intents), args.clients)
        for round_ in range(args.rounds):  # interleaved, each round in another order
            for name in names[round_ % 3 :] + names[: round_ % 3]:
                port = servers[name][1]
                results[name].append(_post_all(port, _events(args.events, intents), args.clients))
    finally:
        for proc, _ in servers.values():
            common.stop(proc)

    print(
        f"\nWebhook intake, {args.clients} clients, {args.events} events a round, "
        f"{args.rounds} rounds, gunicorn x {args.web_workers} workers (gunicorn.conf.py)\n"
    )
    for name, rates in results.items():
        print(
            f"{name:<30} median {statistics.median(rates):7.0f} events/s  "
            f"({', '.join(f'{r:.0f}' for r in rates)})"
        )
    for other in names[1:]:
        ratios = [a / b for a, b in zip(results[names[0]], results[other], strict=True)]
        label = "app / " + other.removeprefix("minimal hook, ")
        print(
            f"{label:<30} median {statistics.median(ratios):7.2f}x "
            f"({', '.join(f'{r:.2f}' for r in ratios)})"
        )

    pending = StripeWebhookEvent.objects.filter(
        stripe_event_id__startswith="evt_bench_", status="pending"
    )
    waiting = pending.count()
    worker = subprocess.Popen(  # noqa: S603 (our own command)
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=WARNING",
            f"--concurrency={args.worker_concurrency}",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=common.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    start = time.perf_counter()
    try:
        while pending.exists():
            time.sleep(0.2)
    finally:
        elapsed = time.perf_counter() - start
        common.stop(worker)
    print(
        f"{'worker applies':<30} {waiting / elapsed:7.0f} events/s "
        f"({waiting} events, concurrency {args.worker_concurrency}, start-up included)"
    )
