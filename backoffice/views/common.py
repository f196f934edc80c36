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
import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.decorators import login_required, permission_required
from django.db import connection, transaction
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

from backoffice import csv_copy
from payments import list_counts, money, selectors
from payments.models import Payment
from shop.models import CustomUser

VIEW_PERM = "payments.view_payment"
REFUND_PERM = "payments.add_refund"
REPLAY_PERM = "payments.change_stripewebhookevent"
AUDIT_PERM = "audit.view_auditentry"
PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 100_000


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
    summary: Callable[[QuerySet, Sequence[Any] | None], Any] | None = None,
    summary_noun: str = "row",
) -> HttpResponse:
    """Filter, sort and page one list; a filter that does not validate is a 400 with its errors.
    With `summary` (payments.list_counts.list_summary for its model, given the queryset and, when
    the first page holds them all, every matching row), the page says how many rows match and
    how much they come to."""
    valid = filterset.is_valid()
    # A page or per_page we do not serve is a 400 too, said with the filter's errors.
    paging_error = _paging_error(request)
    if paging_error:
        filterset.form.add_error(None, paging_error)
        valid = False
    table = table_class(filterset.qs if valid else filterset.queryset.none())
    # LazyPaginator fetches one row more than a page instead of counting the whole table.
    paginate = {"paginator_class": LazyPaginator, "per_page": PER_PAGE}
    RequestConfig(request, paginate=False if paging_error else paginate).configure(table)
    if paging_error:
        table.paginate(**paginate)  # the empty first page, not the paging refused
    export_query = request.GET.copy()
    export_query.pop("page", None)
    context = {
        "filter": filterset,
        "table": table,
        "export_query": export_query.urlencode(),
        "summary": summary(filterset.qs, _every_row(table))
        if summary is not None and valid
        else None,
        "summary_noun": summary_noun,
        "summary_cap": list_counts.SUMMARY_CAP,
        **(extra or {}),
    }
    # Back and Forward ask for the whole page (filter form included), never the table alone.
    if request.htmx and not request.htmx.history_restore_request:
        template += "#table"
    return render(request, template, context, status=200 if valid else 400)


def _every_row(table: Table) -> list[Any] | None:
    """The records of a first page with no page after it: every row the filters match, already
    fetched (LazyPaginator reads one row past the page to know). None on any other page."""
    page = getattr(table, "page", None)
    if page is None or page.number != 1 or page.has_next():
        return None
    return [row.record for row in page.object_list]


def _paging_error(request: HttpRequest) -> str:
    """Why the page or per_page asked for is not one we serve ("" if it is): a number from 1,
    at most MAX_PAGE (an OFFSET the database can take) and MAX_PER_PAGE rows. What is not a
    number at all is ignored, as django-tables2 does (the first page, PER_PAGE rows)."""
    for name, maximum, what in (
        ("page", MAX_PAGE, "Page"),
        ("per_page", MAX_PER_PAGE, "Rows per page"),
    ):
        try:
            number = int(request.GET[name])  # as RequestConfig reads it
        except (KeyError, ValueError):
            continue
        if not 1 <= number <= maximum:
            return f"{what} must be a whole number from 1 to {maximum:,}."
    return ""


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


def iso_local(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    """A time in ISO 8601 with its offset, in the viewer's zone ("2026-12-02T18:14:05+09:00"),
    or '' for none. `zone` is read while the view runs (`timezone.get_current_timezone()`): a
    streamed export's rows are written after the request's zone is deactivated again."""
    return timezone.localtime(value, zone).isoformat() if value is not None else ""


def csv_response(
    filename: str, header: list[str], rows: Iterable[Iterable[Any]]
) -> StreamingHttpResponse:
    return csv_attachment(filename, csv_lines(header, rows))


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The Python path's CSV: one line per row, the formula guard on every text cell."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_cell(v) for v in row])


def csv_attachment(filename: str, chunks: Iterable[str | bytes]) -> StreamingHttpResponse:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


def ordered(table_class: type[Table], queryset: QuerySet, sort: str | None) -> QuerySet:
    """The queryset in the order the table shows it (same `sort` parameter, same tie-breakers)."""
    table = table_class(queryset, order_by=sort or None)
    return table.data.data


@dataclass(frozen=True)
class CsvColumn:
    """One column of an export: its header, the field it reads, and for an amount the field of
    its currency (then written exact in that currency's precision)."""

    header: str
    field: str
    currency_field: str | None = None


def csv_chunks(
    queryset: QuerySet, columns: Sequence[CsvColumn], zone: dt.tzinfo
) -> Iterator[str | bytes]:
    """The export of these rows: on PostgreSQL formatted by the database and streamed from
    COPY (backoffice.csv_copy, the same bytes), elsewhere (and for JSON columns) in Python."""
    header = [c.header for c in columns]
    copy = csv_copy.copy_sql(queryset, columns, zone)
    if copy is not None:
        return itertools.chain(csv_lines(header, ()), csv_copy.copy_stream(*copy))
    return csv_python(queryset, columns, zone)


def csv_python(queryset: QuerySet, columns: Sequence[CsvColumn], zone: dt.tzinfo) -> Iterator[str]:
    """The export written by Python, on any database: SQLite's path and the reference the
    COPY path is held to."""
    fields = list(
        dict.fromkeys(f for c in columns for f in (c.field, c.currency_field) if f is not None)
    )
    rows = queryset.values(*fields)

    def out() -> Iterator[list[Any]]:
        # On PostgreSQL in a transaction, so the server-side cursor is read as it goes, not a
        # WITH HOLD one that materialises every row first (SQLite's would take the write lock).
        reading = transaction.atomic() if connection.vendor == "postgresql" else nullcontext()
        with reading:
            for row in rows.iterator(chunk_size=2000):
                yield [_export_value(column, row, zone) for column in columns]

    return csv_lines([c.header for c in columns], out())


def _export_value(column: CsvColumn, row: dict[str, Any], zone: dt.tzinfo) -> Any:
    value = row[column.field]
    if column.currency_field is not None:
        currency = row[column.currency_field]
        # A number (a leading minus is no formula), exact in its currency; none moved yet: 0.
        return money.to_decimal(value, currency) if currency else 0
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return iso_local(value, zone)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return value
