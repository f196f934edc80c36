"""Compacting the dashboard's deltas into its summary (the scheduled job keeps the reads short).

The triggers of payments/migrations/0016 only ever insert deltas; this folds them into one row per
key. On PostgreSQL one statement deletes the deltas it sums and upserts their sums, so a delta
committed meanwhile is either folded or left for next time, never lost or counted twice; a
transaction-scoped advisory lock makes a second compaction wait rather than upsert the same
summary rows in another order (a deadlock). SQLite has one writer: two statements in one
transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_KEY = "kind, bucket, currency, status"
_SUMS = "sum(n), sum(amount), sum(amount_refunded)"
_UPSERT = f"""
    ON CONFLICT ({_KEY}) DO UPDATE SET
        n = payments_dashboardsummary.n + excluded.n,
        amount = payments_dashboardsummary.amount + excluded.amount,
        amount_refunded = payments_dashboardsummary.amount_refunded + excluded.amount_refunded
"""
_INSERT = f"INSERT INTO payments_dashboardsummary ({_KEY}, n, amount, amount_refunded)"
_PG_COMPACT = f"""
    WITH folded AS (DELETE FROM payments_dashboarddelta RETURNING *),
    summed AS ({_INSERT} SELECT {_KEY}, {_SUMS} FROM folded GROUP BY {_KEY} {_UPSERT})
    SELECT count(*) FROM folded
"""  # noqa: S608 (constants only)
# The advisory lock's key: any constant of our own.
_LOCK = 0x64617368  # "dash"


@transaction.atomic
def dashboard_summary_compact() -> int:
    """Fold every delta into the summary; returns how many delta rows were folded.

    One transaction: the advisory lock holds until it commits (so two compactions queue instead
    of deadlocking on the rows they delete), and on SQLite the sums folded and the rows deleted
    are the same rows."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
            cursor.execute(_PG_COMPACT)
            return int(cursor.fetchone()[0])
        cursor.execute("SELECT coalesce(max(id), 0), count(*) FROM payments_dashboarddelta")
        last, folded = cursor.fetchone()
        cursor.execute(
            f"{_INSERT} SELECT {_KEY}, {_SUMS} FROM payments_dashboarddelta WHERE id <= %s "  # noqa: S608
            f"GROUP BY {_KEY} {_UPSERT}",
            [last],
        )
        cursor.execute("DELETE FROM payments_dashboarddelta WHERE id <= %s", [last])
        return int(folded)


# The totals of every payment and refund as they are, one summary row per key (the migration's
# backfill, payments/migrations/0016).
_PG_BUCKET = "date_bin('1 hour', {col}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
_PG_REBUILD = [
    "DELETE FROM payments_dashboarddelta",
    "DELETE FROM payments_dashboardsummary",
    f"""{_INSERT}
        SELECT 'payment', {_PG_BUCKET.format(col="created_at")}, currency, status, count(*),
               sum(amount), sum(amount_refunded)
        FROM payments_payment GROUP BY 2, 3, 4""",  # noqa: S608 (constants only)
    f"""{_INSERT}
        SELECT 'refund', {_PG_BUCKET.format(col="r.created_at")}, p.currency, r.status, count(*),
               sum(r.amount), 0
        FROM payments_refund r JOIN payments_payment p ON p.id = r.payment_id
        GROUP BY 2, 3, 4""",  # noqa: S608 (constants only)
]
# The triggers that keep the totals (migration 0016), per table, by the event they follow.
_PG_INSERT_TRIGGERS = {
    "payments_payment": "payments_dashboard_payment_insert",
    "payments_refund": "payments_dashboard_refund_insert",
}


@contextmanager
def dashboard_rebuilt_after_load() -> Iterator[None]:
    """For a bulk load into the payments and refunds tables (the demo seeder's COPY, on
    PostgreSQL, inside the caller's transaction, the tables locked against other writers): the
    insert triggers that are on are off during the block, and the summary is computed from the
    tables once after it, with the compaction's lock held (so a compaction waits, then finds
    nothing of the load to fold). A rebuild from every row is right whatever the summary held:
    rows left by a TRUNCATE (which fires no trigger) go.

    The triggers read the other table for each statement (a payment's refunds, a refund's
    currency) and, with its indexes dropped for the load, scanned all of it: each batch took
    longer than the one before, and ten million payments slowed to a seventh of the speed."""
    if connection.vendor != "postgresql":
        yield
        return
    if not connection.in_atomic_block:  # an error would leave the triggers off for good
        raise RuntimeError("dashboard_rebuilt_after_load needs the caller's transaction")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s) AND tgenabled = 'O'",
            [list(_PG_INSERT_TRIGGERS.values())],
        )
        on = {name for (name,) in cursor.fetchall()}
        switched = [(t, trigger) for t, trigger in _PG_INSERT_TRIGGERS.items() if trigger in on]
        for table, trigger in switched:
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
        yield
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK])
        for statement in _PG_REBUILD:
            cursor.execute(statement)
        for table, trigger in switched:  # as they were: only those that were on
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")


def dashboard_tables_vacuum() -> None:
    """VACUUM the two small dashboard tables (milliseconds), outside any transaction: a
    compaction leaves as many dead rows in the delta table as it folded, and the reads scan that
    table, so they must not wait for autovacuum (which may be slow to come, or off).

    With INDEX_CLEANUP ON: when few pages hold dead rows, PostgreSQL skips the index pass and
    leaves their dead item pointers in place, so the pages emptied before them are never cut off
    the table's end. After seeding a million payments the empty delta table kept 4,287 pages
    (33 MB) that every dashboard read scanned: 8 ms a query, five queries a page."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE, INDEX_CLEANUP ON) payments_dashboarddelta, payments_dashboardsummary"
        )
