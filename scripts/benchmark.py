#!/usr/bin/env python
"""Measure the back-office and API at volume: `scripts/benchmark.py --payments 1000000`.

Seeds the database named by DATABASE_URL (PostgreSQL for numbers that mean something) up to N
demo payments (`seed_demo`, which only adds what is missing), then requests each page a few times
through Django's test client as the finance user and prints the median time and the number of
queries. Measure with this, not with timing assertions in tests.

`scripts/benchmark.py --webhooks` measures webhook intake instead: signed
`payment_intent.succeeded` events posted by 8 concurrent clients (keep-alive) to the app under
gunicorn (gunicorn.conf.py, a broker at CELERY_BROKER_URL or local Redis), interleaved round by
round with the same load on a minimal synchronous hook (scripts/minimal_webhook.py) under the
same gunicorn settings; then how fast one Celery worker applies what was taken in.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from html import unescape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from payments.models import Payment  # noqa: E402
from shop.models import CustomUser  # noqa: E402


def pages(payment: Payment) -> list[tuple[str, str]]:
    email = payment.user.email
    return [
        ("dashboard", "/backoffice/"),
        ("payments, newest first", "/backoffice/payments/"),
        ("payments, page 50", "/backoffice/payments/?page=50"),
        ("payments, status=failed", "/backoffice/payments/?status=failed"),
        ("payments, currency=JPY", "/backoffice/payments/?currency=JPY"),
        ("payments, method=wallet", "/backoffice/payments/?method=wallet"),
        ("payments, sort by amount", "/backoffice/payments/?sort=-amount"),
        ("payments, amount 100-200", "/backoffice/payments/?amount_min=100&amount_max=200"),
        ("payments, last 7 days", "/backoffice/payments/?created_from=" + _days_ago(7)),
        ("payments, search email", f"/backoffice/payments/?q={email}"),
        ("payments, search order", f"/backoffice/payments/?q={payment.order_id}"),
        ("payments, search PI id", f"/backoffice/payments/?q={payment.stripe_payment_intent_id}"),
        (
            "payments, search PI prefix",
            f"/backoffice/payments/?q={payment.stripe_payment_intent_id[:9]}",
        ),
        ("payments, search email part", f"/backoffice/payments/?q={email.split('@')[0][-6:]}"),
        (
            "payments, search name part",
            f"/backoffice/payments/?q={(payment.user.last_name or 'x')[:4]}",
        ),
        ("payments, sort by customer", "/backoffice/payments/?sort=customer"),
        ("payments, sort by status", "/backoffice/payments/?sort=status"),
        ("payment detail", f"/backoffice/payments/{payment.pk}/"),
        ("refunds", "/backoffice/refunds/"),
        ("refunds, status=failed", "/backoffice/refunds/?status=failed"),
        ("webhook events", "/backoffice/webhooks/"),
        ("webhook events, failed", "/backoffice/webhooks/?status=failed"),
        ("webhook events, type prefix", "/backoffice/webhooks/?event_type=charge"),
        ("disputes", "/backoffice/disputes/"),
        ("audit trail", "/backoffice/audit/"),
        ("API payments (staff)", "/api/payments/payments/"),
    ]


def _list_says(html: str) -> str:
    """What a list page says of its rows (count, estimate, totals), as plain text."""
    found = re.search(r'data-testid="list-summary">(.*?)</p>', html, re.S)
    if not found:
        return ""
    text = re.sub(r"<[^>]+>", "", found.group(1))
    return "  " + " ".join(unescape(text).split())[:90]


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() - timedelta(days=days)).date().isoformat()


BASE_DIR = Path(__file__).resolve().parents[1]
BENCH_SECRET = "whsec_benchmark_secret"  # noqa: S105 (a benchmark's own signing secret)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(app: str, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    proc = subprocess.Popen(  # noqa: S603 (our own command)
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{app} did not start")


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def _signed(event: dict) -> tuple[bytes, str]:
    body = json.dumps(event).encode()
    t = int(time.time())
    mac = hmac.new(BENCH_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
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


def webhooks(args: argparse.Namespace) -> None:
    """Webhook intake: the app (store and enqueue) against a minimal synchronous hook."""
    from payments.models import StripeWebhookEvent
    from shop.models import Order

    if connection.vendor != "postgresql":
        raise SystemExit("--webhooks needs DATABASE_URL pointing at PostgreSQL")
    call_command("migrate", verbosity=0)
    broker = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/8"
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
    db = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "ENV_FILE": "/dev/null",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "STRIPE_IDEMPOTENCY_PREFIX": "bench",
        "STRIPE_SECRET_KEY": "sk_test_unused",
        "STRIPE_WEBHOOK_SECRET": BENCH_SECRET,
        "DATABASE_URL": (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        ),
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": broker,
        "WEB_CONCURRENCY": str(args.web_workers),
        "LOG_LEVEL": "WARNING",
    }
    servers = {
        "app: verify, store, wake": _serve("config.wsgi", env),
        "minimal hook, Django view": _serve("scripts.minimal_webhook:django_app", env),
        "minimal hook, bare WSGI": _serve("scripts.minimal_webhook:app", env),
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
            _stop(proc)

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
        cwd=BASE_DIR,
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
        _stop(worker)
    print(
        f"{'worker applies':<30} {waiting / elapsed:7.0f} events/s "
        f"({waiting} events, concurrency {args.worker_concurrency}, start-up included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--webhooks", action="store_true", help="measure webhook intake")
    parser.add_argument("--events", type=int, default=2000, help="--webhooks: events a round")
    parser.add_argument("--rounds", type=int, default=3, help="--webhooks: rounds")
    parser.add_argument("--clients", type=int, default=8, help="--webhooks: concurrent clients")
    parser.add_argument("--web-workers", type=int, default=2, help="--webhooks: gunicorn workers")
    parser.add_argument("--worker-concurrency", type=int, default=2)
    args = parser.parse_args()
    if args.webhooks:
        webhooks(args)
        return

    call_command("migrate", verbosity=0)
    call_command("seed_demo", payments=args.payments, allow_production=True, verbosity=1)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    client = Client()
    client.force_login(CustomUser.objects.get(username="finance"))
    sample = Payment.objects.select_related("user").order_by("-id")[1000]
    total = Payment.objects.count()
    print(f"\n{connection.vendor}, {total:,} payments, {args.repeat} requests per page\n")
    print(f"{'page':<30} {'status':>6} {'first ms':>9} {'median ms':>10} {'queries':>8}  list says")
    for name, url in pages(sample):
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
        said = _list_says(response.content.decode(errors="replace"))
        print(
            f"{name:<30} {response.status_code:>6} {times[0]:>9.1f} "
            f"{statistics.median(times):>10.1f} {len(queries):>8}{said}"
        )


if __name__ == "__main__":
    main()
