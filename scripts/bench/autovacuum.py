"""Payments updated for minutes on end, on a server whose autovacuum is on: does it keep up?

Twice, each from a freshly vacuumed table: with the payments table's own autovacuum settings
(migration 0017) and with PostgreSQL's defaults (the table's settings reset, then restored).
A second process updates random payments one statement each, webhook-like (`updated_at`, an
indexed column: no HOT update), at `--autovacuum-rate` a second in transactions of 50, for
`--autovacuum-minutes`; every `--autovacuum-every` seconds this one reads the table's dead row
versions, the share of its pages the visibility map marks all-visible (pg_visibility), how many
autovacuums have run, the heap fetches of the status filter's capped count (an index-only scan
reads the heap for each row on a page not all-visible) and the time of that list page and of
the dashboard, cold. Needs PostgreSQL with autovacuum on (these benchmark machines have it off:
run it against a scratch server, see the README).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.test import Client

from payments import list_counts
from payments.models import Payment
from scripts.bench.common import database_url, finance_client, require_postgres

TABLE = Payment._meta.db_table
# What list_counts.count_up_to asks of the status filter: its rows up to the cap, counted.
COUNT_SQL = (
    f"SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE status = 'failed' "  # noqa: S608
    f"LIMIT {list_counts.SUMMARY_CAP + 1}) s"
)
PAGES = {"list": "/backoffice/payments/?status=failed", "dashboard": "/backoffice/"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("autovacuum")
    group.add_argument("--autovacuum-minutes", type=float, default=6, help="per setting")
    group.add_argument("--autovacuum-rate", type=int, default=100, help="updates a second")
    group.add_argument("--autovacuum-every", type=int, default=30, help="seconds between reads")


def _one(sql: str, params: tuple[Any, ...] = ()) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _heap_fetches() -> str:
    """The status filter's capped count: the heap fetches of its index-only scan, or the plan's
    scan when the planner chose another (its statistics say too few pages are all-visible)."""
    plan = _one(f"EXPLAIN (ANALYZE, FORMAT JSON) {COUNT_SQL}")[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def scans(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if node.get("Relation Name") == TABLE:
            yield node
        for child in node.get("Plans", ()):
            yield from scans(child)

    found = list(scans(plan[0]["Plan"]))
    if found and all(node["Node Type"] == "Index Only Scan" for node in found):
        return f"{sum(int(node['Heap Fetches']) for node in found):,}"
    return "/".join(node["Node Type"].lower() for node in found) or "?"


def _all_visible() -> float:
    """The share of the table's pages its visibility map marks all-visible, now (pg_visibility),
    else as VACUUM and ANALYZE last counted (pg_class.relallvisible)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_visibility")
            cursor.execute(
                "SELECT all_visible::float / greatest(pg_relation_size(%s) / "
                "current_setting('block_size')::int, 1) FROM pg_visibility_map_summary(%s)",
                (TABLE, TABLE),
            )
            return float(cursor.fetchone()[0])
    except Exception:  # no such extension here, or not allowed to create it
        return float(
            _one(
                "SELECT relallvisible::float / greatest(relpages, 1) FROM pg_class "
                "WHERE relname = %s",
                (TABLE,),
            )[0]
        )


def _sample(client: Client) -> dict[str, Any]:
    dead, vacuums = _one(
        "SELECT n_dead_tup, autovacuum_count FROM pg_stat_user_tables WHERE relname = %s", (TABLE,)
    )
    times = {}
    for name, url in PAGES.items():
        cache.clear()  # the dashboard cold: its figures read again
        list_counts._beyond_cap.clear()  # and the list counted each time, not remembered
        start = time.perf_counter()
        response = client.get(url)
        times[name] = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (url, response.status_code)
    return {
        "dead": dead,
        "vacuums": vacuums,
        "visible": _all_visible(),
        "fetches": _heap_fetches(),
        **times,
    }


def _updater(dsn: str, ids: list[int], rate: int, seconds: float) -> None:
    """In a process of its own (a thread would take the pages' interpreter lock): `rate` random
    single-row updates a second for `seconds`, in transactions of 50."""
    import psycopg

    batch = 50
    sql = f"UPDATE {TABLE} SET updated_at = now() WHERE id = %s"  # noqa: S608
    start = time.monotonic()
    done = 0
    with psycopg.connect(dsn, autocommit=False) as conn:
        while (elapsed := time.monotonic() - start) < seconds:
            with conn.transaction(), conn.cursor() as cursor:
                for pk in random.sample(ids, batch):
                    cursor.execute(sql, (pk,))
            done += batch
            ahead = done / rate - elapsed
            if ahead > 0:
                time.sleep(ahead)


@contextmanager
def _postgres_defaults() -> Iterator[None]:
    """The payments table with PostgreSQL's default autovacuum settings, for the block."""
    options = _one("SELECT reloptions FROM pg_class WHERE relname = %s", (TABLE,))[0] or []
    names = ", ".join(option.split("=")[0] for option in options)
    with connection.cursor() as cursor:
        if names:
            cursor.execute(f"ALTER TABLE {TABLE} RESET ({names})")
        try:
            yield
        finally:
            if options:
                cursor.execute(f"ALTER TABLE {TABLE} SET ({', '.join(options)})")


def _run_one(label: str, args: argparse.Namespace, client: Client, ids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {TABLE}")
    time.sleep(2)  # the statistics collector's counters settle
    options = _one("SELECT reloptions FROM pg_class WHERE relname = %s", (TABLE,))[0]
    print(f"\n{label}: {', '.join(options or ['(PostgreSQL defaults)'])}", flush=True)
    print(
        f"{'s':>5} {'updates':>8} {'dead rows':>10} {'all-visible':>11} {'autovacuums':>11} "
        f"{'heap fetches':>12} {'list ms':>8} {'dashboard ms':>12}"
    )
    first = _sample(client)
    _print_row(0, 0, first, first)
    seconds = args.autovacuum_minutes * 60
    worker = multiprocessing.get_context("spawn").Process(
        target=_updater, args=(database_url(), ids, args.autovacuum_rate, seconds)
    )
    start = time.monotonic()
    worker.start()
    try:
        while (elapsed := time.monotonic() - start) < seconds:
            time.sleep(max(0.0, args.autovacuum_every - (elapsed % args.autovacuum_every)))
            elapsed = time.monotonic() - start
            updates = min(elapsed, seconds) * args.autovacuum_rate
            _print_row(elapsed, updates, _sample(client), first)
    finally:
        worker.join()


def _print_row(elapsed: float, updates: float, s: dict[str, Any], first: dict[str, Any]) -> None:
    print(
        f"{elapsed:>5.0f} {updates:>8,.0f} {s['dead']:>10,} {s['visible']:>10.0%} "
        f"{s['vacuums'] - first['vacuums']:>11} {s['fetches']:>12} {s['list']:>8.1f} "
        f"{s['dashboard']:>12.1f}",
        flush=True,
    )


def run(args: argparse.Namespace) -> None:
    require_postgres("autovacuum")
    if _one("SHOW autovacuum")[0] != "on":
        print("autovacuum is off on this server: nothing to measure (see the README)")
        return
    client = finance_client()
    ids = list(Payment.objects.values_list("id", flat=True))
    print(
        f"{len(ids):,} payments; {args.autovacuum_rate} random single-row updates a second for "
        f"{args.autovacuum_minutes:g} minutes a setting; autovacuum_naptime "
        f"{_one('SHOW autovacuum_naptime')[0]}"
    )
    _run_one("the table's own settings (migration 0017)", args, client, ids)
    with _postgres_defaults():
        _run_one("PostgreSQL's defaults", args, client, ids)
