"""How many rows a filtered list has, and how much they come to, without counting a table.

Every list page says how many rows its filters match and their totals per currency (amounts in
different currencies never add up): counted exactly up to SUMMARY_CAP rows, beyond it the
planner's estimate (PostgreSQL) and no totals. A list counted past the cap is remembered for a
minute in this process; a first page that holds every match is added up from its rows; on
PostgreSQL the count and the totals are one statement. The admin's paginator uses the same
bounded count (`count_or_estimate`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import BooleanField, Count, Model, QuerySet, Sum
from django.db.models.expressions import RawSQL

from payments.models import AMOUNT_QUANTUM


def count_up_to(queryset: QuerySet, cap: int) -> int:
    """The count, or cap + 1 when there are more: never a full COUNT(*), at most cap + 1 rows
    read (the one bounded count every list, page, export and the dashboard's attention figures
    use)."""
    return queryset.order_by().values("pk")[: cap + 1].count()


@dataclass(frozen=True)
class CurrencyTotal:
    """How many rows and how much they come to, in one currency (currencies never add up)."""

    currency: str
    amount: Decimal
    count: int


# Up to this many rows a list is counted and totalled exactly (a bounded scan); beyond it the
# count is the planner's estimate (PostgreSQL) or "more than", and no totals are summed.
SUMMARY_CAP = 10_000
# A list whose rows were last counted past the cap is not counted again for a minute in this
# process: the same filters' next pages show the summary they got then (the planner's estimate),
# without reading 10,001 index entries and asking the planner again. The lists most opened (all
# payments, a status, a currency) match far more rows than the cap, and stay past it for longer
# than a minute; a list that drops below the cap gets its exact count and totals a minute later.
BEYOND_CAP_SECONDS = 60.0
BEYOND_CAP_LISTS = 512  # at most this many filter combinations remembered, oldest dropped first
_beyond_cap: OrderedDict[tuple[str, tuple[Any, ...]], tuple[ListSummary, float]] = OrderedDict()
_beyond_cap_lock = threading.Lock()


@dataclass(frozen=True)
class ListSummary:
    count: int
    exact: bool  # False: `count` is an estimate (or a lower bound without one)
    estimated: bool  # the count came from the planner, not from rows
    # Per currency (amounts in different currencies never add up), only when `exact`.
    totals: list[CurrencyTotal] = field(default_factory=list)
    refunded: dict[str, Decimal] = field(default_factory=dict)


def list_summary(
    queryset: QuerySet,
    *,
    currency_field: str,
    amount_field: str = "amount",
    refunded_field: str | None = None,
    every_row: Sequence[Model] | None = None,
) -> ListSummary:
    """The count and per-currency totals of a filtered list, never a full-table COUNT(*): the
    rows are counted up to SUMMARY_CAP (+1) and only then totalled; beyond it, the count is the
    planner's estimate on PostgreSQL.

    `every_row`: the rows, when the caller already holds every one the filters match (a first
    page with no next page: a search by order or PaymentIntent, a narrow filter). They are
    counted and totalled as they are, without a query: the same summary as the database's,
    from the same snapshot as the table beside it."""
    if every_row is not None and len(every_row) <= SUMMARY_CAP:
        rows_in_hand = _totals_of_rows(every_row, currency_field, amount_field, refunded_field)
        return _exact(len(every_row), rows_in_hand, refunded=refunded_field is not None)
    unordered = queryset.order_by()
    key, known = _remembered(unordered)
    if known is not None:
        return known
    sums: dict[str, Any] = {"total": Sum(amount_field), "n": Count("pk")}
    if refunded_field:
        sums["refunded"] = Sum(refunded_field)
    # One row per currency: the currency, then the sums in the order of `sums`.
    totalled = (
        unordered.values(currency_field)
        .annotate(**sums)
        .values_list(currency_field, *sums)
        .order_by(currency_field)
    )
    rows: list[tuple[Any, ...]] | None = None
    if key is not None and connection.vendor == "postgresql":
        capped, rows = _counted_and_totalled(key, totalled)
    else:
        capped = count_up_to(unordered, SUMMARY_CAP)
    if capped > SUMMARY_CAP:
        return _past_the_cap(unordered, key, capped)
    if rows is None:
        rows = list(totalled)
    return _exact(capped, rows, refunded=refunded_field is not None)


def _exact(count: int, rows: Sequence[tuple[Any, ...]], *, refunded: bool) -> ListSummary:
    """The exact summary of `count` rows from their totals, one row per currency in order:
    (currency, total, n[, refunded]); a currency nothing was refunded in is left out."""
    return ListSummary(
        count=count,
        exact=True,
        estimated=False,
        totals=[CurrencyTotal(currency, total, n) for currency, total, n, *_ in rows],
        refunded={r[0]: r[3] for r in rows if r[3]} if refunded else {},
    )


def _remembered(
    unordered: QuerySet,
) -> tuple[tuple[str, tuple[Any, ...]] | None, ListSummary | None]:
    """The rows' ids as SQL (the memo's key: every filter is in it; and what the planner is
    asked about), and what the memo holds for them if their minute is not over. Compiled once,
    a tenth of a millisecond: the page's own SELECT, with its joined columns, took three times
    as long. The admin's paginator and the back-office's summary share the memo: the same
    filters are the same ids, whatever columns each list shows."""
    try:
        sql, params = unordered.values("pk").query.sql_with_params()
        key = (sql, tuple(params))
        known = _beyond_cap.get(key)
    # Filters no row can match (the count says 0 without a query), or a parameter that cannot
    # be a key (none of the lists' filters has one): nothing remembered.
    except (EmptyResultSet, TypeError):
        return None, None
    if known is not None and known[1] > time.monotonic():
        return key, known[0]
    return key, None


def _past_the_cap(
    unordered: QuerySet, key: tuple[str, tuple[Any, ...]] | None, capped: int
) -> ListSummary:
    """A list counted past the cap: the planner's estimate (PostgreSQL), remembered a minute."""
    estimate = planner_estimate(unordered, compiled=key)
    summary = (
        ListSummary(count=max(estimate, capped), exact=False, estimated=True)
        if estimate is not None
        else ListSummary(count=SUMMARY_CAP, exact=False, estimated=False)
    )
    if key is not None:
        _remember_beyond_cap(key, summary)
    return summary


def _counted_and_totalled(
    ids: tuple[str, tuple[Any, ...]], totalled: QuerySet
) -> tuple[int, list[tuple[Any, ...]]]:
    """The capped count and, when it is within SUMMARY_CAP, the per-currency totals, in one
    statement (PostgreSQL): a round trip fewer for every list counted exactly. The totals are a
    LATERAL subquery whose WHERE holds the count's test, so PostgreSQL runs it only when the
    count passed it (a one-time filter; past the cap the sums are never executed). `ids` is the
    rows' ids as SQL, `totalled` the rows grouped by currency with their sums (a values_list:
    its columns in a known order)."""
    ids_sql, ids_params = ids
    gated = totalled.filter(
        RawSQL('"list_capped"."n" <= %s', (SUMMARY_CAP,), output_field=BooleanField())
    )
    totals_sql, totals_params = gated.query.sql_with_params()
    with connection.cursor() as cursor:
        sql = (
            'SELECT "list_capped"."n", "list_totals".* FROM'  # noqa: S608 (the ORM's own SQL)
            f' (SELECT COUNT(*) AS "n" FROM ({ids_sql} LIMIT %s) "list_ids") "list_capped"'
            f' LEFT JOIN LATERAL ({totals_sql}) "list_totals" ON true ORDER BY 2'
        )
        cursor.execute(sql, (*ids_params, SUMMARY_CAP + 1, *totals_params))
        found = cursor.fetchall()
    capped = int(found[0][0])
    return capped, [tuple(row[1:]) for row in found if row[1] is not None]


def _totals_of_rows(
    rows: Sequence[Model], currency_field: str, amount_field: str, refunded_field: str | None
) -> list[tuple[Any, ...]]:
    """What `list_summary`'s GROUP BY gives, added up from rows in hand: (currency, total, n,
    refunded) per currency in order, the fields read as the queryset's `values()` would
    (`payment__currency` through the selected payment)."""
    sums: dict[str, list[Any]] = {}
    for row in rows:
        into = sums.setdefault(_field_of(row, currency_field), [Decimal(0), 0, Decimal(0)])
        into[0] += _field_of(row, amount_field)
        into[1] += 1
        if refunded_field:
            into[2] += _field_of(row, refunded_field)
    # Decimals add exactly; to AMOUNT_PLACES, as PostgreSQL's sums of the columns are.
    return [
        (currency, total.quantize(AMOUNT_QUANTUM), n, refunded.quantize(AMOUNT_QUANTUM))
        for currency, (total, n, refunded) in sorted(sums.items())
    ]


def _field_of(row: Model, path: str) -> Any:
    for name in path.split("__"):
        row = getattr(row, name)
    return row


def _remember_beyond_cap(key: tuple[str, tuple[Any, ...]], summary: ListSummary) -> None:
    with _beyond_cap_lock:  # a threaded server's requests share it
        _beyond_cap[key] = (summary, time.monotonic() + BEYOND_CAP_SECONDS)
        _beyond_cap.move_to_end(key)
        while len(_beyond_cap) > BEYOND_CAP_LISTS:
            _beyond_cap.popitem(last=False)


def count_or_estimate(queryset: QuerySet) -> int:
    """How many rows a list has, for paging (the admin's) without a full-table COUNT(*):
    counted up to SUMMARY_CAP (+1), beyond it the planner's estimate on PostgreSQL (or the
    SUMMARY_CAP + 1 counted, a lower bound), not counted again for a minute, as the lists'
    summaries are not."""
    unordered = queryset.order_by()
    key, known = _remembered(unordered)
    if known is None:
        capped = count_up_to(unordered, SUMMARY_CAP)
        if capped <= SUMMARY_CAP:
            return capped
        known = _past_the_cap(unordered, key, capped)
    return known.count if known.estimated else SUMMARY_CAP + 1


def planner_estimate(
    queryset: QuerySet, *, compiled: tuple[str, tuple[Any, ...]] | None = None
) -> int | None:
    """PostgreSQL's estimate of how many rows the query returns (EXPLAIN, no execution);
    `compiled`: the SQL and parameters of `queryset.values("pk")`, when the caller has them."""
    if connection.vendor != "postgresql":
        return None
    sql, params = compiled or queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
