"""The back-office's pages through Django's test client as the finance user: the median time
and the number of queries of each, and what each list says of its rows."""

from __future__ import annotations

import argparse
import re
import statistics
import time
from html import unescape

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from payments.models import Payment
from shop.models import CustomUser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument_group("pages").add_argument(
        "--repeat", type=int, default=5, help="requests per page"
    )


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


def run(args: argparse.Namespace) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    client = Client()
    client.force_login(CustomUser.objects.get(username="finance"))
    total = Payment.objects.count()
    sample = Payment.objects.select_related("user").order_by("-id")[min(1000, total - 1)]
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
