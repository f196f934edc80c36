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
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django_filters import FilterSet
from django_htmx.middleware import HtmxDetails
from django_tables2 import RequestConfig, Table
from django_tables2.paginators import LazyPaginator

from payments import money, selectors
from payments.models import Payment
from shop.models import CustomUser

VIEW_PERM = "payments.view_payment"
REFUND_PERM = "payments.add_refund"
REPLAY_PERM = "payments.change_stripewebhookevent"
AUDIT_PERM = "audit.view_auditentry"
PER_PAGE = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def staff_user(request: HttpRequest) -> CustomUser:
    """The logged-in user of a view behind `staff_view` (never anonymous there)."""
    assert isinstance(request.user, CustomUser)
    return request.user


def staff_view(*perms: str) -> Callable:
    """Login (a redirect for strangers), then the permissions (403 for colleagues without them)."""

    def decorate(view: Callable) -> Callable:
        return login_required(permission_required([VIEW_PERM, *perms], raise_exception=True)(view))

    return decorate


def get_payment(payment_id: int) -> Payment:
    try:
        return selectors.payment_detail(payment_id=payment_id)
    except Payment.DoesNotExist:
        raise Http404("No such payment.") from None


# --- List pages -------------------------------------------------------------------------------


def list_page(
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


def csv_response(
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


def ordered(table_class: type[Table], queryset: QuerySet, request: HttpRequest) -> QuerySet:
    """The queryset in the order the table shows it (same `sort` parameter, same tie-breakers)."""
    table = table_class(queryset, order_by=request.GET.get("sort") or None)
    return table.data.data


def plain(amount: Decimal, currency: str) -> str:
    return str(money.to_decimal(amount, currency))
