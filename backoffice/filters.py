"""FilterSets for the list pages. Each filter maps onto an index declared in payments.models.

Dates are whole days in the viewer's time zone (the one shop.timezones activates for the
request, else the site's TIME_ZONE; the form says which), turned into a half-open range of aware
datetimes (`created_at >= start of day`), never `created_at__date`, which wraps the column in a
function no index can serve.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from audit import selectors as audit_selectors
from audit.models import AuditEntry
from backoffice.person_filter import PersonFilter
from payments import selectors
from payments.models import Dispute, Payment, Refund, StripeWebhookEvent

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
AMOUNT_INPUT = forms.TextInput(attrs={"inputmode": "decimal", "size": 8})


def currency_choices() -> list[tuple[str, str]]:
    """The currencies payments are in (a few, not Stripe's 150), read when the form is built."""
    return [(c, c) for c in selectors.currencies_in_use()]


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


class RangeCheckedForm(forms.Form):
    """A list's filter form: a range whose start is after its end ("From" after "To", "Min
    amount" above "Max amount") is an error on the field, not an empty list."""

    RANGES = [
        ("created_from", "created_to"),
        ("received_from", "received_to"),
        ("at_from", "at_to"),
        ("amount_min", "amount_max"),
    ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for low, high in self.RANGES:
            start, end = data.get(low), data.get(high)
            if start is not None and end is not None and start > end:
                relation = "at least" if low.startswith("amount") else "on or after"
                self.add_error(
                    high, f"{self.fields[high].label} must be {relation} {self.fields[low].label}."
                )
        return data


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


def search_filter(placeholder: str) -> django_filters.CharFilter:
    """A list's one search box (its FilterSet's `search` method), described by the help text
    under it (templates/backoffice/_filters.html)."""
    return django_filters.CharFilter(
        label="Search",
        method="search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": placeholder, "aria-describedby": "q-help"}
        ),
    )


class PaymentFilter(django_filters.FilterSet):
    q = search_filter("pi_…, ch_…, re_…, order #, email or name")
    status = django_filters.ChoiceFilter(choices=Payment.Status.choices, empty_label="Any")
    currency = django_filters.ChoiceFilter(choices=currency_choices, empty_label="Any")
    method = django_filters.ChoiceFilter(
        field_name="payment_method",
        choices=Payment.Method.choices,
        empty_label="Any",
        label="Method",
    )
    disputed = django_filters.ChoiceFilter(
        label="Dispute",
        choices=[("any", "Disputed"), ("open", "Open dispute"), ("lost", "Dispute lost")],
        empty_label="Any",
        method="filter_disputed",
    )
    created_from, created_to = _date_filters("created_at")
    amount_min, amount_max = _amount_filters()

    class Meta:
        model = Payment
        form = RangeCheckedForm
        fields: list[str] = []

    def search(self, queryset: QuerySet[Payment], name: str, value: str) -> QuerySet[Payment]:
        return selectors.payment_search(queryset, value)

    def filter_disputed(self, queryset: QuerySet[Payment], name: str, value: str) -> QuerySet:
        # `<> ''` first: the partial index of disputed payments serves every choice.
        disputed = queryset.exclude(dispute_status="")
        if value == "open":
            return disputed.exclude(dispute_status__in=Dispute.FINAL_STATUSES)
        if value == "lost":
            return disputed.filter(dispute_status=Dispute.Status.LOST)
        return disputed


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
    created_by = PersonFilter(
        label="Created by",
        empty_label="Anyone",
        # People who may refund: a short list, unlike "everyone who ever refunded" (a scan).
        select=selectors.users_who_may_refund,
    )
    created_from, created_to = _date_filters("created_at")
    amount_min, amount_max = _amount_filters()

    class Meta:
        model = Refund
        form = RangeCheckedForm
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Refund], name: str, value: str) -> QuerySet[Refund]:
        if value == WAITING:
            return queryset.filter(Refund.UNANSWERED)
        return queryset.filter(status=value)


class WebhookEventFilter(django_filters.FilterSet):
    q = search_filter("evt_…, pi_…, ch_…, re_…, dp_…")
    # The start of a type: "payment_intent" finds every payment_intent.* event.
    event_type = django_filters.CharFilter(
        label="Type",
        lookup_expr="startswith",
        widget=forms.TextInput(attrs={"list": "event-types", "placeholder": "payment_intent"}),
    )
    status = django_filters.ChoiceFilter(
        choices=StripeWebhookEvent.Status.choices, empty_label="Any"
    )
    received_from, received_to = _date_filters("received_at")
    # Ignored events (types this app does not act on) are noise: hidden unless this is ticked
    # or the status asked for is "Ignored" (see filter_queryset).
    show_ignored = django_filters.BooleanFilter(
        label="Show ignored", widget=forms.CheckboxInput, method="keep_all"
    )

    class Meta:
        model = StripeWebhookEvent
        form = RangeCheckedForm
        fields: list[str] = []

    def keep_all(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        return queryset

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return selectors.webhook_event_search(queryset, value)

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        data = self.form.cleaned_data
        ignored = StripeWebhookEvent.Status.IGNORED
        if not data.get("show_ignored") and data.get("status") != ignored:
            queryset = queryset.exclude(status=ignored)
        return super().filter_queryset(queryset)


# Stripe's dispute reasons (an open set at Stripe: others still show, unfiltered).
DISPUTE_REASONS = [
    (r, r.replace("_", " ").capitalize())
    for r in (
        "bank_cannot_process",
        "check_returned",
        "credit_not_processed",
        "customer_initiated",
        "debit_not_authorized",
        "duplicate",
        "fraudulent",
        "general",
        "incorrect_account_details",
        "insufficient_funds",
        "noncompliant",
        "product_not_received",
        "product_unacceptable",
        "subscription_canceled",
        "unrecognized",
    )
]
OPEN = "open"
NEEDS_RESPONSE = "needs_response_any"


class DaysFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


# The largest id a database row can have (a signed 64-bit integer): a bigger number names none.
MAX_ID = 2**63 - 1


class _IdField(forms.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class IdFilter(django_filters.NumberFilter):
    """A row's number: a whole number from 1 up to what the database holds, else a 400."""

    field_class = _IdField


class DisputeFilter(django_filters.FilterSet):
    q = search_filter("dp_…, ch_…, payment #")
    status = django_filters.ChoiceFilter(
        choices=[
            (NEEDS_RESPONSE, "Needs our answer"),
            (OPEN, "Open (not decided)"),
            *Dispute.Status.choices,
        ],
        empty_label="Any",
        method="filter_status",
    )
    reason = django_filters.ChoiceFilter(choices=DISPUTE_REASONS, empty_label="Any")
    due_within = DaysFilter(
        label="Due within (days)",
        method="filter_due_within",
        min_value=0,
        max_value=365,
        widget=forms.NumberInput(attrs={"min": 0, "max": 365, "step": 1, "inputmode": "numeric"}),
    )

    class Meta:
        model = Dispute
        fields: list[str] = []

    def filter_status(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet:
        if value == NEEDS_RESPONSE:
            return queryset.filter(status__in=Dispute.NEEDS_RESPONSE_STATUSES)
        if value == OPEN:
            return queryset.exclude(status__in=Dispute.FINAL_STATUSES)
        return queryset.filter(status=value)

    def filter_due_within(self, queryset: QuerySet[Dispute], name: str, value: Any) -> QuerySet:
        """Still waiting for our answer, with evidence due within `value` days (or overdue)."""
        if value is None:
            return queryset
        until = timezone.now() + dt.timedelta(days=int(value))
        return queryset.filter(
            status__in=Dispute.NEEDS_RESPONSE_STATUSES, evidence_due_by__lte=until
        )

    def search(self, queryset: QuerySet[Dispute], name: str, value: str) -> QuerySet[Dispute]:
        term = value.strip().lstrip("#")
        if not term:
            return queryset
        if term.isdigit():
            if int(term) > MAX_ID:
                return queryset.none()
            return queryset.filter(payment_id=int(term))
        if term.startswith("ch_"):
            return queryset.filter(stripe_charge_id=term)
        return queryset.filter(stripe_dispute_id=term)


AUDIT_OBJECT_TYPES = [
    ("payment", "Payment"),
    ("refund", "Refund"),
    ("dispute", "Dispute"),
    ("webhook_event", "Webhook event"),
    ("job", "Job run (reconcile, sweep)"),
]


class AuditFilter(django_filters.FilterSet):
    q = search_filter("evt_…, refund id, or words of the summary")
    action = django_filters.ChoiceFilter(choices=AuditEntry.Action.choices, empty_label="Any")
    actor = PersonFilter(
        label="Who",
        empty_label="Anyone",
        select=audit_selectors.audit_actors,
    )
    object_type = django_filters.ChoiceFilter(
        label="About", choices=AUDIT_OBJECT_TYPES, empty_label="Anything"
    )
    payment = IdFilter(
        label="Payment #",
        method="filter_payment",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 8}),
    )
    at_from, at_to = _date_filters("at")

    class Meta:
        model = AuditEntry
        form = RangeCheckedForm
        fields: list[str] = []

    def filter_payment(self, queryset: QuerySet[AuditEntry], name: str, value: Any) -> QuerySet:
        """What the payment's own timeline shows: its entries and the job runs that changed it."""
        if value is None:
            return queryset
        return queryset.filter(audit_selectors.about_payment(int(value)))

    def search(self, queryset: QuerySet[AuditEntry], name: str, value: str) -> QuerySet:
        """An exact object id (evt_…, a refund's or a dispute's id), or words of the summary."""
        return audit_selectors.audit_search(queryset, value)
