#!/usr/bin/env python
"""Measure the back-office and API at volume: `scripts/benchmark.py --payments 1000000`.

Seeds the database named by DATABASE_URL (PostgreSQL for numbers that mean something) up to N
demo payments (`seed_demo`, which only adds what is missing), then requests each page a few times
through Django's test client as the finance user and prints the median time and the number of
queries. Measure with this, not with timing assertions in tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
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
        ("payment detail", f"/backoffice/payments/{payment.pk}/"),
        ("refunds", "/backoffice/refunds/"),
        ("refunds, status=failed", "/backoffice/refunds/?status=failed"),
        ("webhook events", "/backoffice/webhooks/"),
        ("webhook events, failed", "/backoffice/webhooks/?status=failed"),
        ("API payments (staff)", "/api/payments/payments/"),
    ]


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() - timedelta(days=days)).date().isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

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
    print(f"{'page':<28} {'status':>6} {'first ms':>9} {'median ms':>10} {'queries':>8}")
    for name, url in pages(sample):
        times = []
        for _ in range(args.repeat):
            with CaptureQueriesContext(connection) as queries:
                start = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - start) * 1000)
        print(
            f"{name:<28} {response.status_code:>6} {times[0]:>9.1f} "
            f"{statistics.median(times):>10.1f} {len(queries):>8}"
        )


if __name__ == "__main__":
    main()
