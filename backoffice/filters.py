"""FilterSets for the list pages. Each filter maps onto an index declared in payments.models.

Dates are whole days in the site's time zone, turned into a half-open range of aware datetimes
(`created_at >= start of day`), never `created_at__date`, which wraps the column in a function no
index can serve.
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from payments import money, selectors
from payments.models import Payment, Refund, StripeWebhookEvent

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AMOUNT_INPUT = forms.TextInput(attrs={"inputmode": "decimal", "size": 8})

# The currencies people pick most often first; every other currency Stripe charges in follows.
_COMMON_CURRENCIES = ["EUR", "USD", "GBP", "CHF", "JPY", "KWD"]
CURRENCY_CHOICES = [(c, c) for c in _COMMON_CURRENCIES] + [
    (c, c) for c in sorted(money.STRIPE_CURRENCIES - set(_COMMON_CURRENCIES))
]

# The event types this app receives; the filter is an exact match (indexed), the list a hint.
KNOWN_EVENT_TYPES = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.processing",
    "payment_intent.canceled",
    "payment_intent.requires_action",
    "payment_intent.created",
    "charge.succeeded",
    "charge.failed",
    "charge.refunded",
    "charge.refund.updated",
    "charge.dispute.created",
]


def _start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class DayFromFilter(django_filters.DateFilter):
    """On or after the start of the given day."""

    def filter(self, qs: QuerySet, value: dt.date | None) -> QuerySet:
        if not value:
            return qs
        return qs.filter(**{f"{self.field_name}__gte": _start_of_day(value)})


class DayToFilter(django_filters.DateFilter):
    """On or before the given day (up to, not including, the next midnight)."""

    def filter(self, qs: QuerySet, value: dt.date | None) -> QuerySet:
        if not value:
            return qs
        if value == dt.date.max:  # the end of time bounds nothing (and has no next day)
            return qs
        return qs.filter(**{f"{self.field_name}__lt": _start_of_day(value + dt.timedelta(days=1))})


def _date_filters(field: str) -> tuple[DayFromFilter, DayToFilter]:
    return (
        DayFromFilter(field_name=field, label="From", widget=DATE_INPUT),
        DayToFilter(field_name=field, label="To", widget=DATE_INPUT),
    )


def _amount_filters() -> tuple[django_filters.NumberFilter, django_filters.NumberFilter]:
    return (
        django_filters.NumberFilter(
            field_name="amount", lookup_expr="gte", label="Min amount", widget=AMOUNT_INPUT
        ),
        django_filters.NumberFilter(
            field_name="amount", lookup_expr="lte", label="Max amount", widget=AMOUNT_INPUT
        ),
    )


class PaymentFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "pi_…, ch_…, order #, or email",
                "aria-describedby": "q-help",
            }
        ),
    )
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices, empty_label="Any")
    currency = django_filters.ChoiceFilter(choices=CURRENCY_CHOICES, empty_label="Any")
    method = django_filters.ChoiceFilter(
        field_name="payment_method",
        choices=Payment.Method.choices,
        empty_label="Any",
        label="Method",
    )
    created_from, created_to = _date_filters("created_at")
    amount_min, amount_max = _amount_filters()

    class Meta:
        model = Payment
        fields: list[str] = []

    def search(self, queryset: QuerySet[Payment], name: str, value: str) -> QuerySet[Payment]:
        return selectors.payment_search(queryset, value)


# "Waiting for Stripe" is a pending refund Stripe has not confirmed (no Stripe id yet): its amount
# is held until Stripe's answer is known (a partial index keeps this a small scan).
WAITING = "waiting"


class RefundFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[*Refund.Status.choices, (WAITING, "Waiting for Stripe")],
        empty_label="Any",
        method="filter_status",
    )
    reason = django_filters.ChoiceFilter(choices=Refund.Reason.choices, empty_label="Any")
    created_by = django_filters.ModelChoiceFilter(
        label="Created by",
        empty_label="Anyone",
        # People who may refund: a short list, unlike "everyone who ever refunded" (a scan).
        queryset=lambda request: selectors.users_who_may_refund(),
    )
    created_from, created_to = _date_filters("created_at")
    amount_min, amount_max = _amount_filters()

    class Meta:
        model = Refund
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Refund], name: str, value: str) -> QuerySet[Refund]:
        if value == WAITING:
            return queryset.filter(Refund.UNANSWERED)
        return queryset.filter(status=value)


class WebhookEventFilter(django_filters.FilterSet):
    event_type = django_filters.CharFilter(
        label="Type",
        widget=forms.TextInput(attrs={"list": "event-types", "placeholder": "charge.refunded"}),
    )
    status = django_filters.ChoiceFilter(
        choices=StripeWebhookEvent.Status.choices, empty_label="Any"
    )
    received_from, received_to = _date_filters("received_at")

    class Meta:
        model = StripeWebhookEvent
        fields: list[str] = []
