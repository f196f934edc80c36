"""The dashboard: the figures of the last days, and what needs someone's attention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import (
    HttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from backoffice import charts
from backoffice.views.common import (
    HtmxHttpRequest,
    staff_view,
)
from payments import selectors
from payments.models import StripeWebhookEvent


@require_safe
@staff_view()
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    figures = _dashboard_figures(request.GET.get("currency", "").upper())
    context = {
        **figures,
        # Always current: these are the events someone has to act on.
        "failed_events": selectors.webhook_events_needing_attention(),
        "failed_status": StripeWebhookEvent.Status.FAILED,
        "refunds_attention": selectors.refunds_needing_attention(),
        "disputes_due": selectors.disputes_due_soon(days=DISPUTES_DUE_DAYS),
        "disputes_due_days": DISPUTES_DUE_DAYS,
    }
    return render(request, "backoffice/dashboard.html", context)


# Disputes whose evidence is due within this many days (or overdue) need someone now.
DISPUTES_DUE_DAYS = 7

# The figures come from the dashboard summary (a few thousand hourly rows, not the payments);
# a minute-old overview is still fine for a page that says how old it is, and spares the
# database when many people keep the dashboard open.
DASHBOARD_CACHE_SECONDS = 60


def _dashboard_figures(asked_currency: str) -> dict[str, Any]:
    def overview() -> dict[str, Any]:
        periods = [selectors.dashboard_period(days=7), selectors.dashboard_period(days=30)]
        return {"periods": periods, "currencies": periods[1].currencies, "as_of": timezone.now()}

    figures = _cached("backoffice:dashboard:overview", overview)
    currencies = figures["currencies"]
    currency = asked_currency
    if currency not in currencies:
        default = settings.PAYMENTS_DEFAULT_CURRENCY
        currency = default if default in currencies or not currencies else currencies[0]

    def chart() -> dict[str, Any]:
        return {
            "chart": charts.daily_volume_chart(
                selectors.dashboard_daily_volume(currency=currency, days=30),
                currency=currency,
                today=timezone.localdate(),
                days=30,
            ),
            "as_of": timezone.now(),
        }

    # Per zone too: the chart's days are the viewer's days.
    drawn = _cached(
        f"backoffice:dashboard:chart:{currency}:{timezone.get_current_timezone_name()}", chart
    )
    # The older of the two is what the page can vouch for.
    return {**figures, **drawn, "as_of": min(figures["as_of"], drawn["as_of"])}


def _cached(key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    figures = cache.get_or_set(key, compute, DASHBOARD_CACHE_SECONDS)
    return figures if figures is not None else compute()
