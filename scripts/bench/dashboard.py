"""The dashboard, cold (cache cleared) and warm, beside the live aggregates it used to run.

The comparison point is the dashboard as it was before the summary: the figures aggregated live
from the payments (`live_*` below, the old selectors kept verbatim, and `live_figures`, the old
view helper). Both run in this process through Django's test client as the finance user, on the
same database, interleaved round by round. `--dashboard-small-db URL` runs the same against a
second (e.g. 10k-payment) database in a child process, so "warm at N within 1.5x of 10k" can be
checked; `--dashboard-updates K` then updates K payments one statement each (webhook-like: a
status moving forward), without VACUUM, and measures again, before and after compacting.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from unittest import mock

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.db.models.functions import TruncDate
from django.test import Client
from django.utils import timezone

from backoffice import charts
from payments import tasks
from payments.list_counts import CurrencyTotal
from payments.models import Dispute, Payment, Refund
from payments.selectors import _ENDED, _SUCCEEDED, PeriodSummary
from scripts.bench.common import BASE_DIR, finance_client, interleaved, median, ratios, series

URL = "/backoffice/"
# The module (backoffice.views re-exports its view function under the same name).
dashboard_view = importlib.import_module("backoffice.views.dashboard")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dashboard")
    group.add_argument("--dashboard-rounds", type=int, default=7, help="interleaved rounds")
    group.add_argument(
        "--dashboard-small-db", default="", help="a second database URL (e.g. 10k payments)"
    )
    group.add_argument(
        "--dashboard-updates", type=int, default=20_000, help="payment updates before re-measuring"
    )
    group.add_argument("--dashboard-json", action="store_true", help=argparse.SUPPRESS)


# --- The comparison point: the live aggregates over payments ----------------------------------


def live_period(*, days: int, now: dt.datetime | None = None) -> PeriodSummary:
    since = (now or timezone.now()) - dt.timedelta(days=days)
    recent = Payment.objects.filter(created_at__gte=since).order_by()
    by_status = {row["status"]: row["n"] for row in recent.values("status").annotate(n=Count("id"))}
    volume = [
        CurrencyTotal(row["currency"], row["total"], row["n"])
        for row in recent.filter(status__in=_SUCCEEDED)
        .values("currency")
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by("currency")
    ]
    refunded = [
        CurrencyTotal(row["payment__currency"], row["total"], row["n"])
        for row in Refund.objects.filter(created_at__gte=since, status=Refund.Status.SUCCEEDED)
        .values("payment__currency")
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by("payment__currency")
    ]
    disputes_lost = [
        CurrencyTotal(row["currency"], row["total"], row["n"])
        for row in Dispute.objects.filter(status=Dispute.Status.LOST, closed_at__gte=since)
        .values("currency")
        .annotate(total=Sum("amount"), n=Count("id"))
        .order_by("currency")
    ]
    ended = sum(by_status.get(s, 0) for s in _ENDED)
    succeeded = sum(by_status.get(s, 0) for s in _SUCCEEDED)
    rate = (Decimal(succeeded) * 100 / ended).quantize(Decimal("0.1")) if ended else None
    return PeriodSummary(
        days=days,
        count=sum(by_status.values()),
        volume=volume,
        refunded=refunded,
        success_rate=rate,
        disputes_lost=disputes_lost,
        currencies=live_currencies(days=days, now=now),
    )


def live_daily_volume(*, currency: str, days: int = 30, now: dt.datetime | None = None) -> list:
    since = (now or timezone.now()) - dt.timedelta(days=days)
    rows = (
        Payment.objects.filter(currency=currency, created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day", "status")
        .annotate(total=Sum("amount"), refunded=Sum("amount_refunded"), n=Count("id"))
        .order_by("day", "status")
    )
    return [dict(row) for row in rows]


def live_currencies(*, days: int = 30, now: dt.datetime | None = None) -> list[str]:
    since = (now or timezone.now()) - dt.timedelta(days=days)
    return list(
        Payment.objects.filter(created_at__gte=since)
        .order_by("currency")
        .values_list("currency", flat=True)
        .distinct()
    )


def live_figures(asked_currency: str) -> dict[str, Any]:
    """The old view helper: the currencies outside the cache, the rest cached per zone."""
    currencies = live_currencies(days=30)
    currency = asked_currency
    if currency not in currencies:
        default = settings.PAYMENTS_DEFAULT_CURRENCY
        currency = default if default in currencies or not currencies else currencies[0]

    def compute() -> dict[str, Any]:
        chart = charts.daily_volume_chart(
            live_daily_volume(currency=currency, days=30),
            currency=currency,
            today=timezone.localdate(),
            days=30,
        )
        return {
            "periods": [live_period(days=7), live_period(days=30)],
            "chart": chart,
            "currencies": currencies,
            "as_of": timezone.now(),
        }

    key = f"bench:live-dashboard:{currency}:{timezone.get_current_timezone_name()}"
    figures = cache.get_or_set(key, compute, 60)
    return figures if figures is not None else compute()


# --- Measuring ----------------------------------------------------------------------------------


def _request(client: Client, *, live: bool, cold: bool) -> Callable[[], float]:
    def once() -> float:
        patched = mock.patch.object(dashboard_view, "_dashboard_figures", live_figures)
        with patched if live else contextlib.nullcontext():
            if cold:
                cache.clear()
            else:
                client.get(URL)  # the cache filled, as for the second viewer in a minute
            start = time.perf_counter()
            response = client.get(URL)
            took = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.status_code
        return took

    return once


def measure(rounds: int) -> dict[str, dict[str, list[float]]]:
    client = finance_client()
    out = {}
    for mode in ("cold", "warm"):
        out[mode] = interleaved(
            {
                "summary": _request(client, live=False, cold=mode == "cold"),
                "live": _request(client, live=True, cold=mode == "cold"),
            },
            rounds,
        )
    return out


def _report(label: str, results: dict[str, dict[str, list[float]]]) -> None:
    for mode, by in results.items():
        ours, theirs = by["summary"], by["live"]
        r = ratios(ours, theirs)
        print(
            f"{label:<28} {mode:<5} summary {median(ours):7.1f} ms  live {median(theirs):7.1f} ms"
            f"  live/summary x{median([1 / x for x in r]):.1f}  (ms: {series(ours)} | "
            f"{series(theirs)})"
        )


def _check_same_figures() -> None:
    from payments import selectors

    now = timezone.now()
    for days in (7, 30):
        assert selectors.dashboard_period(days=days, now=now) == live_period(days=days, now=now)
    for currency in live_currencies(days=30, now=now):
        assert selectors.dashboard_daily_volume(currency=currency, now=now) == live_daily_volume(
            currency=currency, now=now
        ), currency


def _update_payments(count: int) -> tuple[int, float]:
    """`count` single-row UPDATEs of the newest payments, as webhooks make them, without VACUUM:
    a pending or processing one succeeds (a delta), any other gets its updated_at touched (a
    dead row version in payments, no delta), so the run can be repeated on the same copy."""
    rows = list(Payment.objects.order_by("-created_at").values_list("id", "status")[:count])
    open_ = {Payment.Status.PENDING, Payment.Status.PROCESSING}
    start = time.perf_counter()
    for i in range(0, len(rows), 500):
        with transaction.atomic():
            for pk, status in rows[i : i + 500]:
                changes: dict[str, Any] = {"updated_at": timezone.now()}
                if status in open_:
                    changes["status"] = Payment.Status.SUCCEEDED
                Payment.objects.filter(pk=pk).update(**changes)
    return len(rows), time.perf_counter() - start


def _small_db(args: argparse.Namespace) -> dict[str, dict[str, list[float]]]:
    env = {**os.environ, "DATABASE_URL": args.dashboard_small_db}
    out = subprocess.run(  # noqa: S603 (our own command)
        [
            sys.executable,
            "scripts/benchmark.py",
            "--payments",
            "10000",
            "--only",
            "dashboard",
            "--dashboard-json",
            "--dashboard-rounds",
            str(args.dashboard_rounds),
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(args: argparse.Namespace) -> None:
    logging.getLogger("axes").setLevel(logging.WARNING)  # a line per login otherwise
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE payments_dashboardsummary")
    tasks.dashboard_summary_compact()
    _check_same_figures()
    results = measure(args.dashboard_rounds)
    if args.dashboard_json:
        print(json.dumps(results))
        return
    total = Payment.objects.count()
    print(f"{connection.vendor}, {total:,} payments, {args.dashboard_rounds} interleaved rounds")
    print("the summary's figures equal the live aggregates' (7 and 30 days, every currency)")
    _report(f"at {total:,}", results)
    if args.dashboard_small_db:
        small = _small_db(args)
        _report("at the small database", small)
        for mode in ("cold", "warm"):
            big, little = median(results[mode]["summary"]), median(small[mode]["summary"])
            print(
                f"summary {mode}: {big:.1f} ms at {total:,} / {little:.1f} ms small = "
                f"x{big / little:.2f}"
            )
    if args.dashboard_updates:
        updated, took = _update_payments(args.dashboard_updates)
        print(f"\n{updated:,} single-row payment updates in {took:.0f} s, no VACUUM")
        _check_same_figures()
        _report("after updates, uncompacted", measure(args.dashboard_rounds))
        folded = tasks.dashboard_summary_compact()  # as the beat job: compact, then VACUUM
        print(f"compacted {folded:,} deltas (and vacuumed the dashboard's two tables)")
        _report("after updates, compacted", measure(args.dashboard_rounds))
