"""The dashboard's summary, kept by triggers, always says what the payments and refunds say.

A model-based test: random sequences of the writes the app and its operators make (ORM creates
and updates, bulk_create, raw SQL, deletes, status moves, amount_refunded changes, refunds and
their status moves), with compactions at random points; after each sequence the summary-based
figures must equal the live aggregates over the rows (scripts/bench/dashboard.py's `live_*`, the
dashboard's queries from before the summary), for 7 and 30 days and for the chart in several
zones, including +05:30, +05:45 and one with daylight saving time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import selectors, services
from payments.models import AMOUNT_QUANTUM, DashboardDelta, DashboardSummary, Payment, Refund
from scripts.bench.dashboard import live_currencies, live_daily_volume, live_period
from tests import factories

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "Asia/Kolkata", "Asia/Kathmandu", "America/New_York", "Pacific/Chatham"]
CURRENCIES = {"EUR": 2, "JPY": 0, "KWD": 3}
STATUSES = [s.value for s in Payment.Status]
REFUND_STATUSES = [s.value for s in Refund.Status]
# Fixed, and not on an hour: the window's start cuts an hour, as it does in real use.
NOW = dt.datetime(2026, 3, 10, 12, 34, 56, 789012, tzinfo=dt.UTC)  # days after a US DST change
_attempt = itertools.count(1)

minutes_ago = st.integers(min_value=-5, max_value=40 * 24 * 60)
amounts = st.integers(min_value=1, max_value=10**7)
new_payment = st.tuples(
    minutes_ago, st.sampled_from(sorted(CURRENCIES)), st.sampled_from(STATUSES), amounts
)
pick = st.integers(min_value=0, max_value=10**6)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("create"), new_payment),
        st.tuples(st.just("bulk"), st.lists(new_payment, min_size=1, max_size=6)),
        st.tuples(st.just("status"), pick, st.sampled_from(STATUSES)),
        st.tuples(st.just("refunded"), pick, st.integers(min_value=0, max_value=100)),
        st.tuples(st.just("raw"), st.sampled_from(STATUSES), st.sampled_from(STATUSES)),
        st.tuples(st.just("delete"), pick),
        st.tuples(st.just("refund"), pick, st.sampled_from(REFUND_STATUSES), minutes_ago),
        st.tuples(st.just("refund_status"), pick, st.sampled_from(REFUND_STATUSES)),
        st.tuples(st.just("refund_delete"), pick),
        st.tuples(st.just("delete_before_refunds"), pick),
        st.tuples(st.just("currency"), pick, st.sampled_from(sorted(CURRENCIES))),
        st.tuples(st.just("compact")),
    ),
    max_size=25,
)


@pytest.fixture
def orders():
    return {c: factories.order(currency=c) for c in CURRENCIES}


def _payment(orders, spec) -> Payment:
    ago, currency, status, units = spec
    order = orders[currency]
    amount = Decimal(units).scaleb(-CURRENCIES[currency])
    return Payment(
        order=order,
        user=order.user,
        intent_attempt=next(_attempt) % 30000 + 1,
        stripe_payment_intent_id=f"pi_model_{next(_attempt)}",
        amount=amount,
        currency=currency,
        status=status,
        created_at=NOW - dt.timedelta(minutes=ago, seconds=units % 60, microseconds=units % 997),
    )


def _nth(queryset, index):
    ids = list(queryset.order_by("id").values_list("id", flat=True))
    return ids[index % len(ids)] if ids else None


def _apply(orders, op) -> None:
    kind = op[0]
    if kind == "create":
        _payment(orders, op[1]).save()
    elif kind == "bulk":
        Payment.objects.bulk_create([_payment(orders, spec) for spec in op[1]])
    elif kind == "status" and (pk := _nth(Payment.objects, op[1])):
        Payment.objects.filter(pk=pk).update(status=op[2])
    elif kind == "refunded" and (pk := _nth(Payment.objects, op[1])):
        p = Payment.objects.get(pk=pk)
        p.amount_refunded = (p.amount * op[2] / 100).quantize(Decimal("0.001"))
        p.save(update_fields=["amount_refunded"])
    elif kind == "raw":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE payments_payment SET status = %s WHERE status = %s", [op[2], op[1]]
            )
    elif kind == "delete" and (pk := _nth(Payment.objects, op[1])):
        Refund.objects.filter(payment_id=pk).delete()
        Payment.objects.filter(pk=pk).delete()
    elif kind == "refund" and (pk := _nth(Payment.objects, op[1])):
        p = Payment.objects.get(pk=pk)
        Refund.objects.create(
            payment=p,
            amount=max(p.amount / 3, Decimal("0.001")).quantize(Decimal("0.001")),
            status=op[2],
            created_at=NOW - dt.timedelta(minutes=op[3], microseconds=pk),
        )
    elif kind == "refund_status" and (pk := _nth(Refund.objects, op[1])):
        Refund.objects.filter(pk=pk).update(status=op[2])
    elif kind == "refund_delete" and (pk := _nth(Refund.objects, op[1])):
        Refund.objects.filter(pk=pk).delete()
    elif kind == "delete_before_refunds" and (pk := _nth(Payment.objects, op[1])):
        # Raw SQL in the order a foreign key checked at commit allows: the payment first.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM payments_payment WHERE id = %s", [pk])
            cursor.execute("DELETE FROM payments_refund WHERE payment_id = %s", [pk])
    elif kind == "currency" and (pk := _nth(Payment.objects, op[1])):
        Payment.objects.filter(pk=pk).update(currency=op[2])
    elif kind == "compact":
        services.dashboard_summary_compact()


def _exact(figures: Any) -> Any:
    """The live aggregates' amounts to AMOUNT_PLACES (AMOUNT_QUANTUM), as the dashboard
    gives its own: on SQLite
    a SUM of decimals is a sum of floats (0.0199999999999998 for 0.01 + 0.01 after deltas)."""
    if isinstance(figures, Decimal):
        return figures.quantize(AMOUNT_QUANTUM)
    if isinstance(figures, list):
        return [_exact(f) for f in figures]
    if isinstance(figures, dict):
        return {k: _exact(v) for k, v in figures.items()}
    if dataclasses.is_dataclass(figures) and not isinstance(figures, type):
        fields = dataclasses.fields(figures)
        return dataclasses.replace(
            figures, **{f.name: _exact(getattr(figures, f.name)) for f in fields}
        )
    return figures


def _assert_figures_match() -> None:
    for days in (1, 7, 30):
        ours = selectors.dashboard_period(days=days, now=NOW)
        assert ours == _exact(ours)  # the dashboard's own amounts are exact
        assert ours == _exact(live_period(days=days, now=NOW))
    for name in ZONES:
        with timezone.override(zoneinfo.ZoneInfo(name)):
            for currency in live_currencies(days=30, now=NOW):
                ours = selectors.dashboard_daily_volume(currency=currency, now=NOW)
                assert ours == _exact(ours)
                assert ours == _exact(live_daily_volume(currency=currency, now=NOW)), (
                    name,
                    currency,
                )


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_the_summary_equals_the_live_aggregates(orders, ops):
    Refund.objects.all().delete()
    Payment.objects.all().delete()
    DashboardDelta.objects.all().delete()
    DashboardSummary.objects.all().delete()
    for op in ops:
        _apply(orders, op)
    _assert_figures_match()
    services.dashboard_summary_compact()
    assert not DashboardDelta.objects.exists()
    _assert_figures_match()


def test_a_window_starting_mid_hour_counts_only_what_is_inside_it(orders):
    start = NOW - dt.timedelta(days=7)
    inside, outside = _payment(orders, (0, "EUR", "succeeded", 500)), None
    inside.created_at = start + dt.timedelta(microseconds=1)
    outside = _payment(orders, (0, "EUR", "succeeded", 700))
    outside.created_at = start - dt.timedelta(microseconds=1)
    Payment.objects.bulk_create([inside, outside])
    services.dashboard_summary_compact()
    week = selectors.dashboard_period(days=7, now=NOW)
    assert [(t.currency, t.amount, t.count) for t in week.volume] == [("EUR", Decimal("5.00"), 1)]


def test_a_kathmandu_day_starts_at_18_15_utc(orders):
    # 18:14 and 18:16 UTC fall in one UTC hour but on two Kathmandu days (UTC+05:45).
    day = (NOW - dt.timedelta(days=3)).replace(hour=18, minute=14)
    before = _payment(orders, (0, "EUR", "succeeded", 100))
    before.created_at = day
    after = _payment(orders, (0, "EUR", "succeeded", 200))
    after.created_at = day + dt.timedelta(minutes=2)
    Payment.objects.bulk_create([before, after])
    services.dashboard_summary_compact()
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kathmandu")):
        rows = selectors.dashboard_daily_volume(currency="EUR", now=NOW)
    assert [(r["day"].isoformat(), r["total"]) for r in rows] == [
        ("2026-03-07", Decimal("1.00")),
        ("2026-03-08", Decimal("2.00")),
    ]


def test_the_command_folds_every_delta_and_keeps_the_figures(orders):
    Payment.objects.bulk_create(
        [_payment(orders, (60 * 24, "KWD", "succeeded", 1234)) for _ in range(3)]
    )
    before = selectors.dashboard_period(days=7, now=NOW)
    assert DashboardDelta.objects.exists()
    out = io.StringIO()
    call_command("compact_dashboard", stdout=out)
    assert not DashboardDelta.objects.exists()
    assert "Folded" in out.getvalue()
    assert selectors.dashboard_period(days=7, now=NOW) == before
    assert [(t.currency, t.amount, t.count) for t in before.volume] == [
        ("KWD", Decimal("3.702"), 3)
    ]
