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
