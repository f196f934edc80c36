"""Writers of the same day and currency at once, with compactions among them (PostgreSQL: real
connections in threads): no delta is lost or counted twice, and nobody deadlocks."""

from __future__ import annotations

import datetime as dt
import random
import threading
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from payments import selectors, services, tasks
from payments.models import DashboardDelta, DashboardSummary, Payment
from scripts.bench.dashboard import live_daily_volume, live_period
from tests import factories
from tests.payments.test_concurrency import run_together

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

WRITERS, ROUNDS = 6, 15


def test_concurrent_updates_and_compactions_lose_no_delta():
    order = factories.order(currency="EUR")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    Payment.objects.bulk_create(
        Payment(
            order=order,
            user=order.user,
            intent_attempt=i + 1,
            stripe_payment_intent_id=f"pi_race_{i}",
            amount=Decimal("10.00"),
            currency="EUR",
            status=Payment.Status.PROCESSING,
            created_at=hour + dt.timedelta(minutes=i),
        )
        for i in range(WRITERS * 4)
    )
    ids = list(Payment.objects.values_list("id", flat=True))
    statuses = [Payment.Status.SUCCEEDED, Payment.Status.FAILED, Payment.Status.PROCESSING]
    stop = threading.Event()

    def write(i: int) -> int:
        # Each writer moves its own payments (the services lock a payment before changing it),
        # all of the same hour, currency and statuses: every transaction changes the same
        # summary keys, in a random order, as concurrent webhooks would.
        rng = random.Random(i)
        mine = ids[i::WRITERS]
        for _ in range(ROUNDS):
            with transaction.atomic():
                for pk in rng.sample(mine, 3):
                    Payment.objects.filter(pk=pk).update(
                        status=rng.choice(statuses),
                        amount_refunded=Decimal(rng.randint(0, 1000)) / 100,
                    )
        return i

    def compact_until_stopped() -> None:
        while not stop.is_set():
            services.dashboard_summary_compact()
        connection.close()

    compactors = [threading.Thread(target=compact_until_stopped) for _ in range(2)]
    for t in compactors:
        t.start()
    results = run_together(WRITERS, write)
    stop.set()
    for t in compactors:
        t.join(timeout=60)
    assert results == list(range(WRITERS)), results  # no deadlock, no other error

    now = timezone.now()
    assert selectors.dashboard_period(days=7, now=now) == live_period(days=7, now=now)
    expected = live_daily_volume(currency="EUR", now=now)
    assert selectors.dashboard_daily_volume(currency="EUR", now=now) == expected
    tasks.dashboard_summary_compact()  # the beat job: compact, then VACUUM outside a transaction
    assert not DashboardDelta.objects.exists()
    assert selectors.dashboard_daily_volume(currency="EUR", now=now) == expected
    assert sum(row["n"] for row in expected) == WRITERS * 4


def test_after_a_burst_of_deltas_the_compaction_leaves_the_delta_table_empty_on_disk():
    """Every dashboard read scans the delta table: once folded, its pages must go. A burst
    folded while later deltas sat at the table's end leaves empty pages that only a VACUUM
    with its index pass can cut off (PostgreSQL bypasses it for a few dead rows)."""
    hour = timezone.now().replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)

    def deltas(count: int) -> None:
        DashboardDelta.objects.bulk_create(
            DashboardDelta(
                kind="payment",
                bucket=hour,
                currency="EUR",
                status="succeeded",
                n=1,
                amount=Decimal("1.00"),
                amount_refunded=Decimal("0"),
            )
            for _ in range(count)
        )

    def pages() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_relation_size('payments_dashboarddelta') / 8192")
            return int(cursor.fetchone()[0])

    deltas(50_000)
    burst_end = DashboardDelta.objects.order_by("-id").values_list("id", flat=True).first()
    deltas(100)  # written while the burst was being folded: at the table's end
    DashboardDelta.objects.filter(id__lte=burst_end).delete()  # the burst, folded
    with connection.cursor() as cursor:
        cursor.execute("VACUUM payments_dashboarddelta")  # its pages emptied, the end still used
    assert pages() > 100

    tasks.dashboard_summary_compact()  # folds the last 100, then vacuums
    assert not DashboardDelta.objects.exists()
    assert pages() == 0
    folded = DashboardSummary.objects.get(kind="payment", bucket=hour, currency="EUR")
    assert (folded.n, folded.amount) == (100, Decimal("100.00"))
