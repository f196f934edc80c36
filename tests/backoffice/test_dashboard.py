"""The dashboard: volume, counts, success rate, refunds, failed events and the chart."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Payment, StripeWebhookEvent
from tests import factories

pytestmark = pytest.mark.django_db
URL = reverse("backoffice:dashboard")


def _pay(total, currency="EUR", status=Payment.Status.SUCCEEDED, days_ago=0):
    p = factories.payment(factories.order(total=total, currency=currency), status=status)
    Payment.objects.filter(pk=p.pk).update(
        created_at=timezone.now() - dt.timedelta(days=days_ago, hours=1)
    )
    return p


def test_it_sums_per_currency_and_period(finance: Client):
    _pay("10.00", days_ago=1)
    _pay("5.50", days_ago=2)
    _pay("1000", "JPY", days_ago=3)
    _pay("20.00", days_ago=20)
    _pay("99.00", status=Payment.Status.FAILED, days_ago=1)
    p = _pay("50.00", status=Payment.Status.PARTIALLY_REFUNDED, days_ago=1)
    factories.refund(p, amount="7.00")
    response = finance.get(URL)
    assert response.status_code == 200
    week, month = response.context["periods"]
    assert week.count == 5
    assert {(t.currency, t.amount) for t in week.volume} == {
        ("EUR", Decimal("65.50")),
        ("JPY", Decimal("1000")),
    }
    assert month.count == 6
    assert week.success_rate == 80  # 4 of the 5 that ended
    html = response.content.decode()
    assert "EUR 65.50" in html
    assert "JPY 1,000" in html
    assert "EUR 7.00" in html  # refunded
    assert "80.0%" in html


def test_it_counts_failed_webhook_events(finance: Client):
    StripeWebhookEvent.objects.create(
        stripe_event_id="evt_1", event_type="charge.refunded", data={}, status="failed"
    )
    html = finance.get(URL).content.decode()
    assert f'href="{reverse("backoffice:webhook_events")}?status=failed"' in html


def test_needs_attention_counts_stop_at_a_thousand(finance: Client):
    """Past a thousand failed events nobody goes through them one by one, and counting on
    would scan the table: the page says "1,000+" and the link still lists them all."""
    StripeWebhookEvent.objects.bulk_create(
        StripeWebhookEvent(
            stripe_event_id=f"evt_{i}", event_type="charge.refunded", data={}, status="failed"
        )
        for i in range(1001)
    )
    html = finance.get(URL).content.decode()
    assert '<span class="stat-number">1,000+</span>' in html
    StripeWebhookEvent.objects.filter(stripe_event_id="evt_0").delete()
    html = finance.get(URL).content.decode()
    assert '<span class="stat-number">1,000</span>' in html


def test_it_draws_the_chart_as_svg_without_inline_styles(finance: Client):
    _pay("10.00", days_ago=1)
    _pay("3.00", status=Payment.Status.FAILED, days_ago=2)
    html = finance.get(URL).content.decode()
    assert '<svg viewBox="0 0 720 240" role="img"' in html
    assert 'class="bar bar-succeeded"' in html
    assert 'class="bar bar-failed"' in html
    assert "style=" not in html


def test_the_chart_picks_a_currency(finance: Client):
    _pay("10.00", days_ago=1)
    _pay("1000", "JPY", days_ago=1)
    response = finance.get(URL, {"currency": "jpy"})
    assert response.context["chart"].currency == "JPY"
    assert '<label for="chart-currency">Currency</label>' in response.content.decode()
    assert finance.get(URL, {"currency": "XXX"}).context["chart"].currency == "EUR"


def test_an_empty_dashboard_works(finance: Client):
    response = finance.get(URL)
    assert response.status_code == 200
    assert b"No EUR payments in the last 30 days." in response.content


def test_the_figures_are_cached_for_a_minute_and_say_how_old_they_are(
    client, django_assert_max_num_queries
):
    client.force_login(factories.user(group="Finance"))
    factories.payment(status="succeeded")
    first = client.get("/backoffice/")
    assert "Figures as of" in first.content.decode()
    factories.payment(status="succeeded")
    # From the cache: the session, the user and permissions, the currencies, the failed events,
    # the refunds waiting for Stripe, the recently failed ones, those awaiting approval and the
    # disputes due soon; not the month of payments.
    with django_assert_max_num_queries(10):
        second = client.get("/backoffice/")
    assert second.context["periods"][0].count == first.context["periods"][0].count == 1


def _day_row(response) -> dict:
    (row,) = [r for r in response.context["chart"].rows if r["sum"]]
    return row


def test_the_charts_refunded_series_counts_refunded_money_not_whole_payments(finance: Client):
    _pay("10.00", days_ago=1)
    part = _pay("50.00", status=Payment.Status.PARTIALLY_REFUNDED, days_ago=1)
    whole = _pay("20.00", status=Payment.Status.REFUNDED, days_ago=1)
    Payment.objects.filter(pk=part.pk).update(amount_refunded=Decimal("7.00"))
    Payment.objects.filter(pk=whole.pk).update(amount_refunded=Decimal("20.00"))
    _pay("4.00", status=Payment.Status.FAILED, days_ago=1)
    response = finance.get(URL)
    row = _day_row(response)
    # Kept: 10 + (50 - 7) + (20 - 20); refunded: 7 + 20; the day's volume is still all of it.
    assert row["totals"] == ["EUR 53.00", "EUR 27.00", "EUR 0.00", "EUR 4.00"]
    assert row["sum"] == Decimal("84.00")
    html = response.content.decode()
    assert ": Refunded EUR 27.00</title>" in html
    assert ": Succeeded (less refunds) EUR 53.00</title>" in html
    assert '<th scope="col" class="num">Refunded</th>' in html
    assert "Refunded (part or all)" not in html
    assert 'data-testid="chart-note"' in html


def test_it_says_what_the_success_rate_counts(finance: Client):
    _pay("10.00", days_ago=1)
    _pay("10.00", status=Payment.Status.REFUNDED, days_ago=1)
    _pay("10.00", status=Payment.Status.CANCELLED, days_ago=1)
    _pay("10.00", status=Payment.Status.PENDING, days_ago=1)  # not ended: left out
    response = finance.get(URL)
    assert response.context["periods"][0].success_rate == Decimal("66.7")  # 2 of 3
    html = response.content.decode()
    assert '<span class="stat-number">66.7%</span>' in html
    assert html.count('data-testid="success-rate-note"') == 2  # under each period's rate
    assert "succeeded ÷ (succeeded + failed + cancelled)" in html
    assert "refunded ones included" in html
    assert "Pending and processing ones are left out" in html


def test_the_figures_take_as_many_queries_however_many_payments(finance: Client):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> int:
        cache.clear()
        with CaptureQueriesContext(connection) as ctx:
            assert finance.get(URL).status_code == 200
        return len(ctx.captured_queries)

    _pay("10.00", days_ago=1)
    few = count()
    for i in range(20):
        p = _pay("30.00", status=Payment.Status.PARTIALLY_REFUNDED, days_ago=i % 7)
        Payment.objects.filter(pk=p.pk).update(amount_refunded=Decimal("5.00"))
    assert count() == few
