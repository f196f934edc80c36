"""The finance back-office: thin views over payments.selectors (reads) and payments.services
(writes).

Every view checks login and permission on the server, for every request: `view_payment` to see
anything, `add_refund` to refund, `change_stripewebhookevent` to replay a webhook. A hidden button
is not a permission.

Each page is one template; an htmx request gets only the named partial that it swaps (the table
of a list page, the payment panel or the refund panel of the detail page), a plain request the
whole page, so every link and form also works without JavaScript.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.cache import cache
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_filters import FilterSet
from django_htmx.middleware import HtmxDetails
from django_tables2 import RequestConfig, Table
from django_tables2.paginators import LazyPaginator

from backoffice import charts
from backoffice.filters import (
    KNOWN_EVENT_TYPES,
    PaymentFilter,
    RefundFilter,
    WebhookEventFilter,
)
from backoffice.forms import RefundForm, confirmation_token, refund_destination
from backoffice.tables import PaymentTable, RefundTable, WebhookEventTable
from payments import money, selectors, services, stripe_client
from payments.models import Payment, Refund, StripeWebhookEvent
from shop.models import CustomUser

VIEW_PERM = "payments.view_payment"
REFUND_PERM = "payments.add_refund"
REPLAY_PERM = "payments.change_stripewebhookevent"
PER_PAGE = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _staff_user(request: HttpRequest) -> CustomUser:
    """The logged-in user of a view behind `_staff_view` (never anonymous there)."""
    assert isinstance(request.user, CustomUser)
    return request.user


def _staff_view(*perms: str) -> Callable:
    """Login (a redirect for strangers), then the permissions (403 for colleagues without them)."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required([VIEW_PERM, *perms], raise_exception=True)(view))

    return decorate


def _get_payment(payment_id: int) -> Payment:
    try:
        return selectors.payment_detail(payment_id=payment_id)
    except Payment.DoesNotExist:
        raise Http404("No such payment.") from None


# --- Dashboard --------------------------------------------------------------------------------


@require_safe
@_staff_view()
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    figures = _dashboard_figures(request.GET.get("currency", "").upper())
    context = {
        **figures,
        # Always current: these are the events someone has to act on.
        "failed_events": selectors.webhook_events_needing_attention(),
        "failed_status": StripeWebhookEvent.Status.FAILED,
        "refunds_attention": selectors.refunds_needing_attention(),
    }
    return render(request, "backoffice/dashboard.html", context)


# The dashboard's totals read a month of payments (about a third of a second at a million); a
# minute-old overview is fine, and the page says how old it is.
DASHBOARD_CACHE_SECONDS = 60


def _dashboard_figures(asked_currency: str) -> dict[str, Any]:
    currencies = selectors.dashboard_currencies(days=30)
    currency = asked_currency
    if currency not in currencies:
        default = settings.PAYMENTS_DEFAULT_CURRENCY
        currency = default if default in currencies or not currencies else currencies[0]

    def compute() -> dict[str, Any]:
        chart = charts.daily_volume_chart(
            selectors.dashboard_daily_volume(currency=currency, days=30),
            currency=currency,
            today=timezone.localdate(),
            days=30,
        )
        return {
            "periods": [selectors.dashboard_period(days=7), selectors.dashboard_period(days=30)],
            "chart": chart,
            "currencies": currencies,
            "as_of": timezone.now(),
        }

    figures = cache.get_or_set(f"backoffice:dashboard:{currency}", compute, DASHBOARD_CACHE_SECONDS)
    return figures if figures is not None else compute()


# --- List pages -------------------------------------------------------------------------------


def _list_page(
    request: HtmxHttpRequest,
    *,
    template: str,
    filterset: FilterSet,
    table_class: type[Table],
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """Filter, sort and page one list; a filter that does not validate is a 400 with its errors."""
    valid = filterset.is_valid()
    table = table_class(filterset.qs if valid else filterset.queryset.none())
    # LazyPaginator fetches one row more than a page instead of counting the whole table.
    RequestConfig(
        request, paginate={"paginator_class": LazyPaginator, "per_page": PER_PAGE}
    ).configure(table)
    export_query = request.GET.copy()
    export_query.pop("page", None)
    context = {
        "filter": filterset,
        "table": table,
        "export_query": export_query.urlencode(),
        **(extra or {}),
    }
    if request.htmx:
        template += "#table"
    return render(request, template, context, status=200 if valid else 400)


@require_safe
@_staff_view()
@vary_on_headers("HX-Request")
def payment_list(request: HtmxHttpRequest) -> HttpResponse:
    return _list_page(
        request,
        template="backoffice/payments.html",
        filterset=PaymentFilter(request.GET, queryset=selectors.payment_list()),
        table_class=PaymentTable,
    )


@require_safe
@_staff_view("payments.view_refund")
@vary_on_headers("HX-Request")
def refund_list(request: HtmxHttpRequest) -> HttpResponse:
    return _list_page(
        request,
        template="backoffice/refunds.html",
        filterset=RefundFilter(request.GET, queryset=selectors.refund_list(), request=request),
        table_class=RefundTable,
    )


@require_safe
@_staff_view("payments.view_stripewebhookevent")
@vary_on_headers("HX-Request")
def webhook_event_list(request: HtmxHttpRequest) -> HttpResponse:
    return _list_page(
        request,
        template="backoffice/webhook_events.html",
        filterset=WebhookEventFilter(request.GET, queryset=selectors.webhook_event_list()),
        table_class=WebhookEventTable,
        extra={
            "known_event_types": KNOWN_EVENT_TYPES,
            "refusals": selectors.webhook_refusals_recent(),
        },
    )


# --- CSV exports ------------------------------------------------------------------------------


class _Echo:
    """A file-like object whose write() hands back the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it (CSV injection).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable[Any]]
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


def _ordered(table_class: type[Table], queryset: QuerySet, request: HttpRequest) -> QuerySet:
    """The queryset in the order the table shows it (same `sort` parameter, same tie-breakers)."""
    table = table_class(queryset, order_by=request.GET.get("sort") or None)
    return table.data.data


def _plain(amount: Decimal, currency: str) -> str:
    return str(money.to_decimal(amount, currency))


@require_safe
@_staff_view()
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
    ]
    rows = _ordered(PaymentTable, filterset.qs, request).values_list(*fields)
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
    ]

    def out() -> Iterator[list[Any]]:
        for pk, created, order, email, amount, cur, refunded, *rest in rows.iterator(
            chunk_size=2000
        ):
            yield [
                pk,
                created.isoformat(),
                order,
                email,
                _plain(amount, cur),
                cur,
                _plain(refunded, cur),
                *(v or "" for v in rest),
            ]

    return _csv_response("payments", header, out())


@require_safe
@_staff_view("payments.view_refund")
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
    rows = _ordered(RefundTable, filterset.qs, request).values_list(*fields)
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

    def out() -> Iterator[list[Any]]:
        for pk, created, payment_id, amount, cur, *rest in rows.iterator(chunk_size=2000):
            yield [pk, created.isoformat(), payment_id, _plain(amount, cur), cur] + [
                v or "" for v in rest
            ]

    return _csv_response("refunds", header, out())


# --- Payment detail, refresh and refund -------------------------------------------------------


def _render_payment(
    request: HtmxHttpRequest,
    payment: Payment,
    *,
    partial: str | None = None,
    form: RefundForm | None = None,
    confirm: str | None = None,
    error: str | None = None,
    refund_error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    """The payment page, or one of its partials: "payment" (all of it) or "refund" (the form)."""
    can_refund = request.user.has_perm(REFUND_PERM) and payment.amount_refundable > 0
    context = {
        "payment": payment,
        "order": payment.order,
        "customer": payment.user,
        "refunds": selectors.payment_refunds(payment=payment),
        "attempts": selectors.payment_attempts(payment=payment),
        "events": selectors.payment_webhook_events(payment=payment),
        "amount_refundable": money.format_amount(payment.amount_refundable, payment.currency),
        "amount_refunded": money.format_amount(payment.amount_refunded, payment.currency),
        "refund_destination": refund_destination(payment),
        "can_refund": can_refund,
        "may_refund": request.user.has_perm(REFUND_PERM),
        "form": form if form is not None else (RefundForm(payment=payment) if can_refund else None),
        "confirm": confirm,
        "error": error,
        "refund_error": refund_error,
    }
    template = "backoffice/payment_detail.html"
    if request.htmx and partial:
        template += f"#{partial}"
    return render(request, template, context, status=status)


@require_safe
@_staff_view()
@vary_on_headers("HX-Request")
def payment_detail(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    return _render_payment(request, _get_payment(payment_id), partial="payment")


def _provider_status(exc: stripe_client.PaymentProviderError) -> int:
    """503 when Stripe is unreachable or busy (try again), 502 when it answered with an error."""
    unavailable = (
        stripe_client.ProviderUnavailable,
        stripe_client.RateLimited,
        stripe_client.AuthenticationFailed,
    )
    return 503 if isinstance(exc, unavailable) else 502


@require_POST
@_staff_view()
def payment_refresh(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    """Fetch the payment's PaymentIntent and refunds from Stripe and record what they say."""
    payment = _get_payment(payment_id)
    try:
        services.payment_sync_from_stripe(
            payment_id=payment.pk,
            # Finance may finish refunds Stripe never answered for; others only read.
            settle_refunds=request.user.has_perm(REFUND_PERM),
        )
    except stripe_client.PaymentProviderError as exc:
        error, status = exc.user_message, _provider_status(exc)
    except services.ServiceError as exc:
        error, status = str(exc), 409
    else:
        messages.success(request, "Refreshed from Stripe.")
        if not request.htmx:
            return redirect("backoffice:payment_detail", payment_id=payment.pk)
        return _render_payment(request, _get_payment(payment_id), partial="payment")
    return _render_payment(
        request, _get_payment(payment_id), partial="payment", error=error, status=status
    )


@require_POST
@_staff_view(REFUND_PERM)
def payment_refund(request: HtmxHttpRequest, payment_id: int) -> HttpResponse:
    """The guarded refund, in the admin's delete-confirmation style.

    step=review (the form's submit): validate and answer the confirmation, which states exactly
    what will happen and carries a fresh one-time token; step=edit goes back to the form with the
    same values; step=confirm: re-validate, then refund_create (which locks the payment and
    re-checks everything) and redirect to the payment (or, under htmx, swap the payment panel).
    """
    payment = _get_payment(payment_id)
    step = request.POST.get("step", "review")
    if step == "confirm":
        return _refund_confirm(request, payment)
    if payment.amount_refundable <= 0:
        return _render_payment(
            request,
            payment,
            partial="refund",
            refund_error=f"Payment #{payment.pk} is {payment.get_status_display().lower()}: "
            "nothing remains to refund.",
            status=409,
        )

    if step == "edit":
        form = RefundForm(request.POST, payment=payment)
        form.is_valid()  # show any problem again, next to the field
        return _render_payment(request, payment, partial="refund", form=form)

    form = RefundForm(request.POST, payment=payment)
    if not form.is_valid():
        return _render_payment(
            request, payment, partial="refund", form=form, status=_form_status(form)
        )
    # The confirmation carries the checked values, and a fresh one-time token, as hidden
    # fields: posting it twice (double click, second tab) still makes one refund.
    data = form.cleaned_data
    token = confirmation_token(payment, data["amount"], data["reason"])
    confirm_form = RefundForm(payment=payment, initial={**data, "token": token})
    return _render_payment(
        request, payment, partial="refund", form=confirm_form, confirm=form.summary()
    )


def _refund_confirm(request: HtmxHttpRequest, payment: Payment) -> HttpResponse:
    """The final POST: refund_create finds a resubmitted token's refund, or locks the payment,
    re-checks what remains and refunds. Success redirects (or swaps the payment in place)."""
    form = RefundForm(request.POST, payment=payment, confirming=True)
    if not form.is_valid():
        return _render_payment(
            request, payment, partial="payment", form=form, status=_form_status(form)
        )
    data = form.cleaned_data
    try:
        refund = services.refund_create(
            payment_id=payment.pk,
            amount=data["amount"],
            reason=data["reason"],
            description=data["description"],
            created_by=_staff_user(request),
            request_token=data["nonce"],
            expected_amount_refunded=data["reviewed_refunded"],
        )
    except services.RefundPending as exc:
        # Stripe may have made it: the page shows it pending, and offers no second try.
        payment = _get_payment(payment.pk)
        return _render_payment(
            request, payment, partial="payment", refund_error=str(exc), status=503
        )
    except services.RefundRefused as exc:
        status, error = 502, str(exc)  # nothing was refunded; the refund is on record as failed
    except services.RefundError as exc:
        status = 400 if isinstance(exc, services.RefundAmountInvalid) else 409
        error = str(exc)
    else:
        amount = money.format_amount(refund.amount, payment.currency)
        if refund.status == Refund.Status.FAILED:
            messages.error(request, f"Refund #{refund.pk} of {amount} failed at Stripe.")
        else:
            messages.success(
                request,
                f"Refund #{refund.pk} of {amount} {refund.get_status_display().lower()}.",
            )
        if not request.htmx:
            return redirect("backoffice:payment_detail", payment_id=payment.pk)
        return _render_payment(request, _get_payment(payment.pk), partial="payment")
    # Show the page as it now is (another refund may have landed), the error, and the form again.
    payment = _get_payment(payment.pk)
    retry = RefundForm(payment=payment, initial=data) if payment.amount_refundable > 0 else None
    return _render_payment(
        request, payment, partial="payment", form=retry, refund_error=error, status=status
    )


def _form_status(form: RefundForm) -> int:
    """409 when the amount is more than remains (a conflict with other refunds), else 400."""
    return 409 if form.has_error("amount", code="max_value") else 400


# --- Webhook events ---------------------------------------------------------------------------


@require_safe
@_staff_view("payments.view_stripewebhookevent")
def webhook_event_detail(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    try:
        event = selectors.webhook_event_detail(event_id=event_id)
    except StripeWebhookEvent.DoesNotExist:
        raise Http404("No such webhook event.") from None
    context = {
        "event": event,
        "payload": json.dumps(event.data, indent=2, sort_keys=True, ensure_ascii=False),
        "can_replay": event.status == StripeWebhookEvent.Status.FAILED
        and request.user.has_perm(REPLAY_PERM),
    }
    return render(request, "backoffice/webhook_event_detail.html", context)


@require_POST
@_staff_view("payments.view_stripewebhookevent", REPLAY_PERM)
def webhook_event_replay(request: HtmxHttpRequest, event_id: int) -> HttpResponse:
    status = StripeWebhookEvent.objects.filter(pk=event_id).values_list("status", flat=True).first()
    if status is None:
        raise Http404("No such webhook event.")
    if status != StripeWebhookEvent.Status.FAILED:
        messages.error(request, "Only a failed event can be replayed from here.")
        return redirect("backoffice:webhook_event_detail", event_id=event_id)
    try:
        event = services.webhook_event_replay(event_id=event_id)
    except stripe_client.PaymentProviderError as exc:
        messages.error(request, f"Replay failed: {exc.user_message}")
    except services.ServiceError as exc:
        messages.error(request, f"Replay refused: {exc}")
    else:
        if event.status == StripeWebhookEvent.Status.FAILED:
            messages.error(request, f"Replayed; it failed again: {event.processing_error}")
        else:
            messages.success(request, f"Replayed: {event.get_status_display().lower()}.")
    return redirect("backoffice:webhook_event_detail", event_id=event_id)
