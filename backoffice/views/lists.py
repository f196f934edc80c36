"""The list pages (payments, refunds, webhook events) and their CSV exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.http import (
    HttpResponse,
    HttpResponseBadRequest,
)
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from backoffice.filters import (
    KNOWN_EVENT_TYPES,
    PaymentFilter,
    RefundFilter,
    WebhookEventFilter,
)
from backoffice.tables import PaymentTable, RefundTable, WebhookEventTable
from backoffice.views.common import (
    HtmxHttpRequest,
    csv_response,
    iso_local,
    list_page,
    ordered,
    plain,
    staff_view,
)
from payments import selectors


@require_safe
@staff_view()
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def payment_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/payments.html",
        filterset=PaymentFilter(request.GET, queryset=selectors.payment_list()),
        table_class=PaymentTable,
        summary=lambda qs: selectors.list_summary(
            qs, currency_field="currency", refunded_field="amount_refunded"
        ),
        summary_noun="payment",
    )


@require_safe
@staff_view("payments.view_refund")
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def refund_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/refunds.html",
        filterset=RefundFilter(request.GET, queryset=selectors.refund_list(), request=request),
        table_class=RefundTable,
        summary=lambda qs: selectors.list_summary(qs, currency_field="payment__currency"),
        summary_noun="refund",
    )


@require_safe
@staff_view("payments.view_stripewebhookevent")
@vary_on_headers("HX-Request", "HX-History-Restore-Request")
def webhook_event_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/webhook_events.html",
        filterset=WebhookEventFilter(request.GET, queryset=selectors.webhook_event_list()),
        table_class=WebhookEventTable,
        extra={
            "known_event_types": KNOWN_EVENT_TYPES,
            "refusals": selectors.webhook_refusals_recent(),
        },
    )


@require_safe
@staff_view()
def payment_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    filterset = PaymentFilter(request.GET, queryset=selectors.payment_list())
    if not filterset.is_valid():
        return HttpResponseBadRequest(f"Invalid filter: {filterset.errors.as_text()}")
    fields = [
        "id",
        "created_at",
        "order_id",
        "user__email",
        "amount",
        "currency",
        "amount_refunded",
        "status",
        "payment_method",
        "card_brand",
        "card_last4",
        "stripe_payment_intent_id",
        "stripe_charge_id",
        "dispute_status",
    ]
    rows = ordered(PaymentTable, filterset.qs, request).values_list(*fields)
    header = [
        "payment_id",
        "created_at",
        "order_id",
        "customer_email",
        "amount",
        "currency",
        "amount_refunded",
        "status",
        "method",
        "card_brand",
        "card_last4",
        "payment_intent_id",
        "charge_id",
        "dispute_status",
    ]

    zone = timezone.get_current_timezone()

    def out() -> Iterator[list[Any]]:
        for pk, created, order, email, amount, cur, refunded, *rest in rows.iterator(
            chunk_size=2000
        ):
            yield [
                pk,
                iso_local(created, zone),
                order,
                email,
                plain(amount, cur),
                cur,
                plain(refunded, cur),
                *(v or "" for v in rest),
            ]

    return csv_response("payments", header, out())


@require_safe
@staff_view("payments.view_refund")
def refund_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    filterset = RefundFilter(request.GET, queryset=selectors.refund_list(), request=request)
    if not filterset.is_valid():
        return HttpResponseBadRequest(f"Invalid filter: {filterset.errors.as_text()}")
    fields = [
        "id",
        "created_at",
        "payment_id",
        "amount",
        "payment__currency",
        "status",
        "reason",
        "created_by__username",
        "description",
        "failure_reason",
        "stripe_refund_id",
    ]
    rows = ordered(RefundTable, filterset.qs, request).values_list(*fields)
    header = [
        "refund_id",
        "created_at",
        "payment_id",
        "amount",
        "currency",
        "status",
        "reason",
        "created_by",
        "note",
        "failure_reason",
        "stripe_refund_id",
    ]

    zone = timezone.get_current_timezone()

    def out() -> Iterator[list[Any]]:
        for pk, created, payment_id, amount, cur, *rest in rows.iterator(chunk_size=2000):
            yield [pk, iso_local(created, zone), payment_id, plain(amount, cur), cur] + [
                v or "" for v in rest
            ]

    return csv_response("refunds", header, out())


@require_safe
@staff_view("payments.view_stripewebhookevent")
def webhook_event_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    """The events the list shows (ignored ones only when asked for), without payloads."""
    filterset = WebhookEventFilter(request.GET, queryset=selectors.webhook_event_list())
    if not filterset.is_valid():
        return HttpResponseBadRequest(f"Invalid filter: {filterset.errors.as_text()}")
    fields = [
        "id",
        "received_at",
        "stripe_event_id",
        "event_type",
        "status",
        "payment_id",
        "stripe_object_id",
        "stripe_created_at",
        "processed_at",
        "delivery_count",
        "processing_error",
    ]
    rows = ordered(WebhookEventTable, filterset.qs, request).values_list(*fields)
    header = [
        "event_id",
        "received_at",
        "stripe_event_id",
        "type",
        "status",
        "payment_id",
        "stripe_object_id",
        "stripe_created_at",
        "processed_at",
        "deliveries",
        "processing_error",
    ]

    zone = timezone.get_current_timezone()

    def out() -> Iterator[list[Any]]:
        for row in rows.iterator(chunk_size=2000):
            # Times in ISO 8601 in the viewer's zone, with its offset; no payment (or not
            # processed yet) is an empty cell.
            yield [
                "" if v is None else iso_local(v, zone) if isinstance(v, dt.datetime) else v
                for v in row
            ]

    return csv_response("webhook-events", header, out())
