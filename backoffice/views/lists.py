"""The list pages (payments, refunds, webhook events) and their CSV exports."""

from __future__ import annotations

from django.http import (
    HttpResponse,
)
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from backoffice.filters import (
    KNOWN_EVENT_TYPES,
    PaymentFilter,
    RefundFilter,
    WebhookEventFilter,
)
from backoffice.tables import PaymentTable, RefundTable, WebhookEventTable
from backoffice.views.common import CsvColumn as Col
from backoffice.views.common import (
    HtmxHttpRequest,
    list_page,
    staff_view,
)
from backoffice.views.exports import CsvExportSpec, csv_export
from payments import list_counts, selectors

PAYMENT_COLUMNS = [
    Col("payment_id", "id"),
    Col("created_at", "created_at"),
    Col("order_id", "order_id"),
    Col("customer_email", "user__email"),
    Col("amount", "amount", currency_field="currency"),
    Col("currency", "currency"),
    Col("amount_refunded", "amount_refunded", currency_field="currency"),
    Col("status", "status"),
    Col("method", "payment_method"),
    Col("card_brand", "card_brand"),
    Col("card_last4", "card_last4"),
    Col("payment_intent_id", "stripe_payment_intent_id"),
    Col("charge_id", "stripe_charge_id"),
    Col("dispute_status", "dispute_status"),
]
PAYMENT_EXPORT = CsvExportSpec(
    kind="payments",
    filename="payments",
    filterset=lambda data, request: PaymentFilter(data, queryset=selectors.payment_list()),
    table_class=PaymentTable,
    columns=PAYMENT_COLUMNS,
    perms=(),
)


@require_safe
@staff_view(*PAYMENT_EXPORT.perms)
def payment_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    return csv_export(request, PAYMENT_EXPORT)


REFUND_COLUMNS = [
    Col("refund_id", "id"),
    Col("created_at", "created_at"),
    Col("payment_id", "payment_id"),
    Col("amount", "amount", currency_field="payment__currency"),
    Col("currency", "payment__currency"),
    Col("status", "status"),
    Col("reason", "reason"),
    Col("created_by", "created_by__username"),
    Col("note", "description"),
    Col("failure_reason", "failure_reason"),
    Col("stripe_refund_id", "stripe_refund_id"),
]
REFUND_EXPORT = CsvExportSpec(
    kind="refunds",
    filename="refunds",
    filterset=lambda data, request: RefundFilter(
        data, queryset=selectors.refund_list(), request=request
    ),
    table_class=RefundTable,
    columns=REFUND_COLUMNS,
    perms=("payments.view_refund",),
)


@require_safe
@staff_view(*REFUND_EXPORT.perms)
def refund_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    return csv_export(request, REFUND_EXPORT)


WEBHOOK_EVENT_COLUMNS = [
    Col("event_id", "id"),
    Col("received_at", "received_at"),
    Col("stripe_event_id", "stripe_event_id"),
    Col("type", "event_type"),
    Col("status", "status"),
    Col("payment_id", "payment_id"),
    Col("stripe_object_id", "stripe_object_id"),
    Col("stripe_created_at", "stripe_created_at"),
    Col("processed_at", "processed_at"),
    Col("deliveries", "delivery_count"),
    Col("processing_error", "processing_error"),
]
WEBHOOK_EVENT_EXPORT = CsvExportSpec(
    kind="webhook-events",
    filename="webhook-events",
    filterset=lambda data, request: WebhookEventFilter(
        data, queryset=selectors.webhook_event_list()
    ),
    table_class=WebhookEventTable,
    columns=WEBHOOK_EVENT_COLUMNS,
    perms=("payments.view_stripewebhookevent",),
)


@require_safe
@staff_view(*WEBHOOK_EVENT_EXPORT.perms)
def webhook_event_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    """The events the list shows (ignored ones only when asked for), without payloads."""
    return csv_export(request, WEBHOOK_EVENT_EXPORT)


# The list pages, each behind its export spec's permissions (written once, there).
@require_safe
@staff_view(*PAYMENT_EXPORT.perms)
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def payment_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/payments.html",
        filterset=PAYMENT_EXPORT.filterset(request.GET, request),
        table_class=PaymentTable,
        summary=lambda qs, rows: list_counts.list_summary(
            qs, currency_field="currency", refunded_field="amount_refunded", every_row=rows
        ),
        summary_noun="payment",
    )


@require_safe
@staff_view(*REFUND_EXPORT.perms)
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def refund_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/refunds.html",
        filterset=REFUND_EXPORT.filterset(request.GET, request),
        table_class=RefundTable,
        summary=lambda qs, rows: list_counts.list_summary(
            qs, currency_field="payment__currency", every_row=rows
        ),
        summary_noun="refund",
    )


@require_safe
@staff_view(*WEBHOOK_EVENT_EXPORT.perms)
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def webhook_event_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/webhook_events.html",
        filterset=WEBHOOK_EVENT_EXPORT.filterset(request.GET, request),
        table_class=WebhookEventTable,
        extra={
            "known_event_types": KNOWN_EVENT_TYPES,
            "refusals": selectors.webhook_refusals_recent(),
        },
    )
