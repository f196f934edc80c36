"""The back-office's pages through Django's test client as the finance user: for each list page,
whole and as its htmx partial, the median time, the part of it spent in SQL and the rest
(rendering), beside the same page drawn the way it was before backoffice.list_table (stock
django-tables2 cells and DateTimeColumn, kept below as the comparison point), interleaved, with
per-round ratios; then the other pages' median times and queries, and what each list says."""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from html import unescape
from typing import Any

import django_tables2 as tables
from django.db import connection
from django.template import Context, Template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.safestring import SafeString

from backoffice import tables as current
from backoffice.views import audit, disputes, lists
from payments.models import Payment
from scripts.bench import side_by_side
from scripts.bench.common import finance_client, interleaved, median, ratios, series


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("pages")
    group.add_argument("--repeat", type=int, default=5, help="rounds (requests) per page")
    group.add_argument(
        "--pages-no-before",
        action="store_true",
        help="skip the comparison with the tables as they were (halves the time)",
    )
    group.add_argument(
        "--pages-against",
        metavar="REV",
        default="",
        help="instead, the list pages side by side with a git revision's code (its own process)",
    )
    group.add_argument(
        "--pages-forget",
        action="store_true",
        help="with --pages-against: each request as the first of its list in a minute",
    )


# --- The comparison point: each list's table as it rendered before backoffice.list_table ----
# Every cell through BoundRow.items (signature inspection, accessor resolution, a template per
# DateTimeColumn cell) and a template loop per cell, as templates/backoffice/_table.html had.
_STOCK_ROWS = Template(
    "{% for row in table.paginated_rows %}<tr {{ row.attrs.as_html }}>"
    "{% for column, cell in row.items %}<td {{ column.attrs.td.as_html }}>{{ cell }}</td>"
    "{% endfor %}</tr>{% endfor %}"
)


class _Stock:
    def body_rows(self) -> SafeString:
        return SafeString(_STOCK_ROWS.render(Context({"table": self})))


def _stock(table: type[current.ListTable], **dates: tables.DateTimeColumn) -> type:
    # Meta is not inherited by a subclass: the stock table keeps the list's own.
    return type(f"Stock{table.__name__}", (_Stock, table), {"Meta": table.Meta, **dates})


def _stock_date(name: str, label: str, fmt: str = current.DATETIME_FORMAT, **kw: Any) -> Any:
    return {name: tables.DateTimeColumn(verbose_name=label, format=fmt, **kw)}


STOCK = {
    "PaymentTable": _stock(
        current.PaymentTable, **_stock_date("created_at", "Created", order_by=("created_at", "id"))
    ),
    "RefundTable": _stock(
        current.RefundTable, **_stock_date("created_at", "Created", order_by=("created_at", "id"))
    ),
    "WebhookEventTable": _stock(
        current.WebhookEventTable,
        **_stock_date("received_at", "Received", order_by=("received_at", "id")),
    ),
    "DisputeTable": _stock(
        current.DisputeTable,
        **_stock_date(
            "evidence_due_by", "Evidence due", order_by=("evidence_due_by", "id"), default="—"
        ),
    ),
    "AuditTable": _stock(
        current.AuditTable, **_stock_date("at", "When", "Y-m-d H:i:s", order_by=("at", "id"))
    ),
}
_VIEW_MODULES = (lists, disputes, audit)


@contextmanager
def _stock_tables() -> Iterator[None]:
    """The list views with the stock tables, for the requests made inside."""
    saved = [(m, n, getattr(m, n)) for m in _VIEW_MODULES for n in STOCK if hasattr(m, n)]
    try:
        for module, name, _ in saved:
            setattr(module, name, STOCK[name])
        yield
    finally:
        for module, name, table in saved:
            setattr(module, name, table)


# --- Pages ------------------------------------------------------------------------------------


def list_pages(payment: Payment) -> list[tuple[str, str]]:
    email = payment.user.email
    return [
        ("payments, newest first", "/backoffice/payments/"),
        ("payments, page 50", "/backoffice/payments/?page=50"),
        ("payments, status=failed", "/backoffice/payments/?status=failed"),
        ("payments, currency=JPY", "/backoffice/payments/?currency=JPY"),
        ("payments, method=wallet", "/backoffice/payments/?method=wallet"),
        ("payments, sort by amount", "/backoffice/payments/?sort=-amount"),
        ("payments, amount 100-200", "/backoffice/payments/?amount_min=100&amount_max=200"),
        ("payments, last 7 days", "/backoffice/payments/?created_from=" + _days_ago(7)),
        ("payments, search email", f"/backoffice/payments/?q={email}"),
        ("payments, search order", f"/backoffice/payments/?q={payment.order_id}"),
        ("payments, search PI id", f"/backoffice/payments/?q={payment.stripe_payment_intent_id}"),
        (
            "payments, search PI prefix",
            f"/backoffice/payments/?q={payment.stripe_payment_intent_id[:9]}",
        ),
        ("payments, search email part", f"/backoffice/payments/?q={email.split('@')[0][-6:]}"),
        (
            "payments, search name part",
            f"/backoffice/payments/?q={(payment.user.last_name or 'x')[:4]}",
        ),
        ("payments, sort by customer", "/backoffice/payments/?sort=customer"),
        ("payments, sort by status", "/backoffice/payments/?sort=status"),
        ("refunds", "/backoffice/refunds/"),
        ("refunds, status=failed", "/backoffice/refunds/?status=failed"),
        ("webhook events", "/backoffice/webhooks/"),
        ("webhook events, failed", "/backoffice/webhooks/?status=failed"),
        ("webhook events, type prefix", "/backoffice/webhooks/?event_type=charge"),
        ("disputes", "/backoffice/disputes/"),
        ("audit trail", "/backoffice/audit/"),
        ("refund approvals (no table)", "/backoffice/refunds/awaiting/"),
    ]


def other_pages(payment: Payment) -> list[tuple[str, str]]:
    return [
        ("dashboard", "/backoffice/"),
        ("payment detail", f"/backoffice/payments/{payment.pk}/"),
        ("API payments (staff)", "/api/payments/payments/"),
    ]


def _list_says(html: str) -> str:
    """What a list page says of its rows (count, estimate, totals), as plain text."""
    found = re.search(r'data-testid="list-summary">(.*?)</p>', html, re.S)
    if not found:
        return ""
    text = re.sub(r"<[^>]+>", "", found.group(1))
    return "  " + " ".join(unescape(text).split())[:90]


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.now() - timedelta(days=days)).date().isoformat()


def _normalized(html: bytes) -> str:
    text = re.sub(r'(nonce|value)="[A-Za-z0-9+/=_-]{20,}"', r'\1="-"', html.decode())
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", text)).replace("<td >", "<td>")


class _Request:
    """One page, timed: the total, and the time its queries took (the rest is Python)."""

    def __init__(self, client: Client, url: str, headers: dict[str, str]) -> None:
        self.client, self.url, self.headers = client, url, headers
        self.sql: list[float] = []
        self.queries = 0
        self.response: Any = None

    def __call__(self) -> float:
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            self.response = self.client.get(self.url, headers=self.headers)
            total = (time.perf_counter() - start) * 1000
        self.sql.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
        self.queries = len(queries)
        return total


def _stock_call(request: _Request) -> Callable[[], float]:
    def call() -> float:
        with _stock_tables():
            return request()

    return call


def run(args: argparse.Namespace) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    # Query times come from the connection's own log (CaptureQueriesContext), as with DEBUG on.
    client = finance_client()
    total = Payment.objects.order_by("-id").values_list("id", flat=True).first() or 0
    sample = Payment.objects.select_related("user").order_by("-id")[min(1000, total - 1)]
    if args.pages_against:
        side_by_side.compare(
            args.pages_against, list_pages(sample), args.repeat, forget=args.pages_forget
        )
        return
    compare = not args.pages_no_before
    print(
        f"\n{connection.vendor}, about {total:,} payments, {args.repeat} interleaved rounds per "
        "page; ms are medians; SQL is the time in queries, render the rest; "
        + ("before = the stock django-tables2 cells" if compare else "no comparison")
    )
    print(
        f"\n{'list page':<34} {'status':>6} {'queries':>7} {'ms':>6} {'SQL':>5} {'render':>6}"
        + (f" {'before ms':>9} {'render':>6} {'now/before':>10}  per round" if compare else "")
    )
    for name, url in list_pages(sample):
        for swap, headers in (("", {}), (" (htmx)", {"HX-Request": "true"})):
            now = _Request(client, url, headers)
            before = _Request(client, url, headers)
            contenders: dict[str, Callable[[], float]] = {"now": now}
            if compare:
                contenders["before"] = _stock_call(before)
            for warm in contenders.values():  # caches, connections
                warm()
            now.sql.clear()
            before.sql.clear()
            times = interleaved(contenders, args.repeat)
            ms, sql = median(times["now"]), median(now.sql)
            line = (
                f"{name + swap:<34} {now.response.status_code:>6} {now.queries:>7} "
                f"{ms:>6.1f} {sql:>5.1f} {ms - sql:>6.1f}"
            )
            if compare:
                same = _normalized(now.response.content) == _normalized(before.response.content)
                b_ms = median(times["before"])
                per_round = ratios(times["now"], times["before"])
                line += (
                    f" {b_ms:>9.1f} {b_ms - median(before.sql):>6.1f} {median(per_round):>9.2f}x"
                    f"  {series(per_round, '.2f')}{'' if same else '  DIFFERENT HTML'}"
                )
            if not swap:
                line += _list_says(now.response.content.decode(errors="replace"))
            print(line, flush=True)

    print(f"\n{'other page':<34} {'status':>6} {'queries':>7} {'first ms':>9} {'median ms':>10}")
    for name, url in other_pages(sample):
        request = _Request(client, url, {})
        took = [request() for _ in range(args.repeat)]
        print(
            f"{name:<34} {request.response.status_code:>6} {request.queries:>7} "
            f"{took[0]:>9.1f} {median(took):>10.1f}"
        )
