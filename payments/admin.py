"""Read-only admin over payments, refunds, disputes and the webhook log.

Nothing is added, changed or deleted here: payments and refunds are created through the API and
the back-office services (which talk to Stripe), never by editing rows.

Built to stay fast at a million payments, like the back-office's lists: no date hierarchy (a
DISTINCT over every row's month), filters from fixed choices (never a DISTINCT over the rows),
searches through the back-office's indexed lookups (payments.selectors), pages without a COUNT(*)
of the table (EstimatedCountPaginator) and default orderings that are indexes.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.functional import cached_property

from backoffice.filters import DISPUTE_REASONS, KNOWN_EVENT_TYPES
from payments import list_counts, selectors
from payments.models import Dispute, Payment, Refund, StripeWebhookEvent, StripeWebhookRefusal
from payments.money import UnsupportedCurrency, format_amount


def _money(amount: Decimal | None, currency: str) -> str | None:
    """'JPY 3,500', 'KWD 12.340', 'EUR 99.99': the currency's precision, not the column's
    three places ('3500.000'); None (the admin's '-') for no amount."""
    if amount is None:
        return None
    try:
        return format_amount(amount, currency)
    except UnsupportedCurrency:  # a row the admin is there to inspect must not break the page
        return f"{currency} {amount}"


def _when(value: Any) -> str:
    # "2026-12-02 06:23" rather than "Dec. 2, 2026, 6:23 a.m.": a narrower column.
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


class EstimatedCountPaginator(Paginator):
    """The admin's paging without a COUNT(*) of the whole table on every page: exact up to ten
    thousand rows, beyond that the planner's estimate (list_counts.count_or_estimate)."""

    @cached_property
    def count(self) -> int:
        if not isinstance(self.object_list, QuerySet):
            return len(self.object_list)
        return list_counts.count_or_estimate(self.object_list)


class ChoicesListFilter(admin.SimpleListFilter):
    """A filter on one column, offering fixed choices rather than a DISTINCT over every row
    (what the admin does for a column without choices). Named `<field>__exact`, as the admin's
    own filter was, so that bookmarked filters keep working."""

    field = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.parameter_name = f"{self.field}__exact"
        super().__init__(*args, **kwargs)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class CurrencyFilter(ChoicesListFilter):
    title = "currency"
    field = "currency"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # The back-office's list: a loose index scan, cached for five minutes.
        return [(c, c) for c in selectors.currencies_in_use()]


class EventTypeFilter(ChoicesListFilter):
    title = "event type"
    field = "event_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(t, t) for t in KNOWN_EVENT_TYPES]


class DisputeReasonFilter(ChoicesListFilter):
    title = "reason"
    field = "reason"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return DISPUTE_REASONS


ADMIN_PER_PAGE = 25


class IndexedSortChangeList(ChangeList):
    """A change list sorted by one column at a time, and only by the columns whose order an
    index gives (the admin's `indexed_sorts`): the admin's own sort of any column with the id
    after it is, at a million rows, a sort of every row (a webhook event's status: 1.7 s).
    Another column asked for in the URL, or a second one, is the default order."""

    @property
    def _sorts(self) -> dict[str, tuple[str, ...]]:
        return getattr(self.model_admin, "indexed_sorts", {})

    def _sorted_column(self) -> tuple[int, bool] | None:
        first = (self.params.get(ORDER_VAR) or "").split(".")[0]
        descending, number = first.startswith("-"), first.removeprefix("-")
        if not number.isdigit() or int(number) >= len(self.list_display):
            return None
        if self.list_display[int(number)] not in self._sorts:
            return None
        return int(number), descending

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        sorted_column = self._sorted_column()
        if sorted_column is None:
            ordering = self.model_admin.get_ordering(request) or self._get_default_ordering()  # type: ignore[attr-defined]
            return self._get_deterministic_ordering(ordering)  # type: ignore[attr-defined]
        number, descending = sorted_column
        fields = self._sorts[str(self.list_display[number])]
        return [_reversed(f) if descending else f for f in fields]

    def get_ordering_field_columns(self) -> dict[int, Literal["desc", "asc"]]:
        if ORDER_VAR not in self.params:
            return super().get_ordering_field_columns()
        sorted_column = self._sorted_column()
        if sorted_column is None:
            return {}
        number, descending = sorted_column
        return {number: "desc" if descending else "asc"}


def _reversed(field: str) -> str:
    return field.removeprefix("-") if field.startswith("-") else f"-{field}"


class IndexedSorts:
    """For an admin over a large table: its column headers sort only where an index gives the
    order. `indexed_sorts`: a list_display column -> its ascending order, ending with a unique
    field (descending reverses each field, so the same index serves it backwards)."""

    indexed_sorts: dict[str, tuple[str, ...]] = {}

    def get_sortable_by(self, request: HttpRequest) -> Any:
        return list(self.indexed_sorts)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return IndexedSortChangeList


class ReadOnlyAdmin(IndexedSorts, admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False  # no COUNT(*) of the whole table for "(N total)"
    # Drawing a row costs more than finding it (the admin's cells: a fifth of a millisecond a
    # row): the back-office's 25, not the admin's 100, keeps every list within twice the
    # back-office's time at a million rows (at 50 a page, webhook events took 2.35x).
    list_per_page = ADMIN_PER_PAGE
    # Amount fields shown on the change page by a display method in the currency's precision:
    # model field -> method (which takes the field's place, label included).
    money_fields: dict[str, str] = {}

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), *self.money_fields.values()]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        methods = set(self.money_fields.values())
        fields = super().get_fields(request, obj)
        return [
            self.money_fields.get(f, f) if isinstance(f, str) else f
            for f in fields
            if f not in methods
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The list orders by `ordering`, or by the column clicked and then the id, by itself:
        # `ordering` applied here as well would follow a clicked column ("amount DESC,
        # created_at DESC, id DESC"), an order no index serves, a sort of every row.
        return super().get_queryset(request).order_by()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("stripe_refund_id", "amount_shown", "status", "reason", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    @admin.display(description="Amount")
    def amount_shown(self, obj: Refund) -> str | None:
        return _money(obj.amount, obj.payment.currency)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        return super().get_queryset(request).select_related("created_by", "payment")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    # Eight short columns beside the filters fit a 1,366 px screen: the currency is in the
    # amount, and the PaymentIntent id (searchable) is on the payment's own page.
    list_display = [
        "id",
        "created",
        "order_id",
        "customer_email",
        "amount_shown",
        "refunded_shown",
        "status",
        "method",
    ]
    money_fields = {
        "amount": "amount_shown",
        "amount_refunded": "refunded_shown",
        "amount_remaining": "remaining_shown",
    }
    list_filter = ["status", CurrencyFilter, "payment_method", "created_at"]
    list_select_related = ["user"]
    search_fields = ["stripe_payment_intent_id"]  # shows the box; get_search_results searches
    search_help_text = (
        "Order number, PaymentIntent, charge or refund id (or their start), or part of the "
        "customer's email or name"
    )
    ordering = ["-created_at", "-id"]
    # As the back-office sorts (backoffice.tables.PaymentTable), each by its index.
    indexed_sorts = {
        "id": ("id",),
        "created": ("created_at", "id"),
        "customer_email": ("user__email", "-created_at", "-id"),
        "amount_shown": ("amount", "id"),
        "status": ("status", "-created_at", "-id"),
        "method": ("payment_method", "-created_at", "-id"),
    }
    inlines = [RefundInline]

    @admin.display(description="Customer", ordering="user__email")
    def customer_email(self, obj: Payment) -> str:
        return obj.user.email

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Payment) -> str:
        return _when(obj.created_at)

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, obj: Payment) -> str | None:
        return _money(obj.amount, obj.currency)

    @admin.display(description="Refunded", ordering="amount_refunded")
    def refunded_shown(self, obj: Payment) -> str | None:
        return _money(obj.amount_refunded, obj.currency) if obj.amount_refunded else None

    @admin.display(description="Method", ordering="payment_method")
    def method(self, obj: Payment) -> str:
        return obj.get_payment_method_display()

    @admin.display(description="Amount remaining")
    def remaining_shown(self, obj: Payment) -> str | None:
        return _money(obj.amount_remaining, obj.currency)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        # The back-office's search, one index lookup per kind of term, not an OR of UPPER()s.
        return selectors.payment_search(queryset, search_term), False


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created",
        "payment",
        "amount_shown",
        "status",
        "reason",
        "created_by",
        "stripe_refund_id",
    ]
    money_fields = {"amount": "amount_shown"}
    list_filter = ["status", "reason", "created_at"]
    list_select_related = ["payment", "created_by"]
    search_fields = ["stripe_refund_id"]  # shows the box; get_search_results searches
    search_help_text = "Refund id (or its start), or what finds its payment in the payments search"
    ordering = ["-created_at", "-id"]
    indexed_sorts = {
        "id": ("id",),
        "created": ("created_at", "id"),
        "amount_shown": ("amount", "id"),
        "status": ("status", "-created_at", "-id"),
        "reason": ("reason", "-created_at", "-id"),
        "created_by": ("created_by_id", "-created_at", "-id"),
        "stripe_refund_id": ("stripe_refund_id",),
    }

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Refund) -> str:
        return _when(obj.created_at)

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, obj: Refund) -> str | None:
        return _money(obj.amount, obj.payment.currency)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Refund], search_term: str
    ) -> tuple[QuerySet[Refund], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        if term.startswith(("re_", "pyr_")):  # this refund, not every refund of its payment
            return queryset.filter(stripe_refund_id__startswith=term), False
        payments = selectors.payment_search(Payment.objects.all(), term)
        return queryset.filter(payment_id__in=payments.values("pk")), False


@admin.register(StripeWebhookEvent)
class StripeWebhookEventAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_event_id",
        "event_type",
        "status",
        "processed",
        "delivery_count",
        "received_at",
        "payment",
    ]
    # No "processed" filter: it has no index (not processed = status pending or failed, which
    # the status filter finds through its own).
    list_filter = ["status", EventTypeFilter, "received_at"]
    list_select_related = ["payment"]
    search_fields = ["stripe_event_id"]  # shows the box; get_search_results searches
    search_help_text = "Event id (evt_…) or the id of its object (pi_…, ch_…, re_…), or their start"
    ordering = ["-received_at", "-id"]
    indexed_sorts = {
        "stripe_event_id": ("stripe_event_id",),
        "event_type": ("event_type", "-received_at", "-id"),
        "status": ("status", "-received_at", "-id"),
        "received_at": ("received_at", "id"),
    }

    def get_queryset(self, request: HttpRequest) -> QuerySet[StripeWebhookEvent]:
        return super().get_queryset(request).defer("data")  # the payload, on the event's page

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[StripeWebhookEvent], search_term: str
    ) -> tuple[QuerySet[StripeWebhookEvent], bool]:
        return selectors.webhook_event_search(queryset, search_term), False


@admin.register(StripeWebhookRefusal)
class StripeWebhookRefusalAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "reason", "stripe_event_id", "event_type", "body_bytes"]
    search_fields = ["=stripe_event_id"]
    ordering = ["-received_at", "-id"]
    indexed_sorts = {"received_at": ("received_at", "id")}


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_dispute_id",
        "payment_id",
        "amount_shown",
        "reason",
        "status",
        "evidence_due_by",
        "funds_withdrawn",
        "funds_reinstated",
    ]
    list_filter = ["status", DisputeReasonFilter]
    search_fields = ["=stripe_dispute_id", "=stripe_charge_id"]
    ordering = ["evidence_due_by", "id"]
    indexed_sorts = {
        "stripe_dispute_id": ("stripe_dispute_id",),
        "reason": ("reason", "evidence_due_by", "id"),
        "status": ("status", "evidence_due_by", "id"),
        "evidence_due_by": ("evidence_due_by", "id"),
    }
    money_fields = {"amount": "amount_shown", "balance_net": "balance_shown"}

    @admin.display(description="Amount", ordering="amount")
    def amount_shown(self, obj: Dispute) -> str | None:
        return _money(obj.amount, obj.currency)

    @admin.display(description="Balance effect")
    def balance_shown(self, obj: Dispute) -> str | None:
        return _money(obj.balance_net, obj.balance_currency or obj.currency)
