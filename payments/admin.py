"""Read-only admin over payments, refunds, disputes and the webhook log.

Nothing is added, changed or deleted here: payments and refunds are created through the API and
the back-office services (which talk to Stripe), never by editing rows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from payments.models import Dispute, Payment, Refund, StripeWebhookEvent, StripeWebhookRefusal


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RefundInline(admin.TabularInline):
    model = Refund
    extra = 0
    fields = ("stripe_refund_id", "amount", "status", "reason", "created_by", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Refund]:
        return super().get_queryset(request).select_related("created_by")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "order_id",
        "customer_email",
        "amount",
        "currency",
        "status",
        "payment_method",
        "amount_refunded",
        "stripe_payment_intent_id",
    ]
    list_filter = ["status", "currency", "payment_method", "created_at"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    search_fields = [
        "=stripe_payment_intent_id",
        "=stripe_charge_id",
        "=stripe_customer_id",
        "user__email",
    ]
    search_help_text = "PaymentIntent id, charge id, customer id, order number or customer email"
    ordering = ["-created_at", "-id"]
    show_full_result_count = False  # no COUNT(*) over a million rows on every page
    inlines = [RefundInline]

    @admin.display(description="Customer", ordering="user__email")
    def customer_email(self, obj: Payment) -> str:
        return obj.user.email

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Payment], search_term: str
    ) -> tuple[QuerySet[Payment], bool]:
        # An order number ("1234" or "#1234") is an exact match on the order, not a text search
        # that would also bring every email containing those digits.
        term = search_term.strip().lstrip("#")
        if term.isdigit():
            return queryset.filter(order_id=int(term)), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "payment",
        "amount",
        "status",
        "reason",
        "created_by",
        "stripe_refund_id",
    ]
    list_filter = ["status", "reason", "created_at"]
    list_select_related = ["payment", "created_by"]
    date_hierarchy = "created_at"
    search_fields = [
        "=stripe_refund_id",
        "=payment__stripe_payment_intent_id",
        "=payment__stripe_charge_id",
        "payment__user__email",
    ]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False


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
    list_filter = ["status", "processed", "event_type", "received_at"]
    list_select_related = ["payment"]
    date_hierarchy = "received_at"
    search_fields = ["=stripe_event_id", "=stripe_object_id", "event_type"]
    ordering = ["-received_at", "-id"]
    show_full_result_count = False


@admin.register(StripeWebhookRefusal)
class StripeWebhookRefusalAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "reason", "stripe_event_id", "event_type", "body_bytes"]
    search_fields = ["=stripe_event_id"]
    ordering = ["-received_at", "-id"]
    show_full_result_count = False


@admin.register(Dispute)
class DisputeAdmin(ReadOnlyAdmin):
    list_display = [
        "stripe_dispute_id",
        "payment_id",
        "amount",
        "currency",
        "reason",
        "status",
        "evidence_due_by",
        "funds_withdrawn",
        "funds_reinstated",
    ]
    list_filter = ["status", "reason"]
    search_fields = ["=stripe_dispute_id", "=stripe_charge_id"]
    ordering = ["evidence_due_by", "id"]
    show_full_result_count = False
