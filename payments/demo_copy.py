"""The demo seeder's PostgreSQL path: the rows of `demo_data._build`, streamed in with COPY.

One transaction, on one connection:
1. lock the four tables against other writers (and a second seeder), count what exists;
2. for each table that is still empty, drop its secondary indexes, unique and foreign-key
   constraints (their definitions read back from the catalog), so that they are built once from
   the loaded rows instead of row by row;
3. reserve the orders' and payments' ids (they point at each other), then COPY the rows in
   binary, batch by batch, while a thread builds the next batch (Python and PostgreSQL work at
   the same time, and memory stays that of a few batches);
4. build what step 2 dropped, from the same definitions, and ANALYZE.
Into an empty payments table the dashboard's insert triggers are off for the load and its
summary is computed from the tables (payments.services.dashboard.dashboard_rebuilt_after_load);
otherwise COPY fires them as any insert would. DDL is transactional in PostgreSQL: an error or
Ctrl-C anywhere leaves the schema, the triggers and the data as they were.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.db.backends.utils import CursorWrapper

from payments import demo_data
from payments.models import Payment, Refund, StripeWebhookEvent
from payments.services.dashboard import dashboard_rebuilt_after_load
from shop.models import Order

BATCH_SIZE = 5000  # payments per COPY of each table
TABLES: tuple[type[models.Model], ...] = (Order, Payment, Refund, StripeWebhookEvent)
# Index builds sort in memory up to this, then spill to disk; for this transaction only.
MAINTENANCE_WORK_MEM = "256MB"


def seed_payments(
    target: int,
    customer_ids: list[int],
    *,
    now: datetime,
    progress: Callable[[int], None] = lambda n: None,
) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        tables = ", ".join(_quoted(model) for model in TABLES)
        # Self-conflicting and conflicting with every insert: the ids reserved below stay ours,
        # and a second seeder waits, then finds these rows.
        cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
        start = demo_data.existing_count()
        count = target - start
        if count <= 0:
            return 0
        cursor.execute(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
        order_ids = _reserve_ids(cursor, Order, count)
        payment_ids = _reserve_ids(cursor, Payment, count)
        copiers = {model: _Copier.for_model(cursor, model, now) for model in TABLES}
        empty = [m for m in TABLES if _is_empty(cursor, m)]
        # Into an empty payments table (then the refunds are empty too; both lose their indexes
        # for the load): the dashboard's totals are computed once, after it. Not beside payments
        # already there: the triggers cannot be altered while their rows' deferred checks are
        # pending, and only there is an empty refunds table still slow to load.
        rebuilt = Payment in empty
        with dashboard_rebuilt_after_load() if rebuilt else nullcontext():
            with _indexes_built_after(cursor, empty):
                batches = demo_data._batches(start, target, BATCH_SIZE)
                rows = _rows(batches, customer_ids, now, start, order_ids, payment_ids)
                for size, batch in _in_background(rows):
                    for model in TABLES:
                        copiers[model].copy(cursor, batch[model])
                    progress(size)
            # Before the summary's rebuild (its plans) and the compaction lock it takes.
            cursor.execute(f"ANALYZE {tables}")
    return count


def _rows(
    batches: Iterator[range],
    customer_ids: list[int],
    now: datetime,
    start: int,
    first_order_id: int,
    first_payment_id: int,
) -> Iterator[tuple[int, dict[type[models.Model], list[dict[str, Any]]]]]:
    """Each batch's rows by table, with the ids that tie them together (what bulk_create and
    bulk_update gave them on the other path)."""
    for batch in batches:
        rows: dict[type[models.Model], list[dict[str, Any]]] = {m: [] for m in TABLES}
        for i in batch:
            seeded = demo_data._build(i, customer_ids, now)
            order_id, payment_id = first_order_id + i - start, first_payment_id + i - start
            rows[Order].append({"id": order_id, **seeded.order, "current_payment_id": payment_id})
            rows[Payment].append({"id": payment_id, **seeded.payment, "order_id": order_id})
            for refund in seeded.refunds:
                rows[Refund].append({**refund, "payment_id": payment_id})
            for event in seeded.events:
                rows[StripeWebhookEvent].append({**event, "payment_id": payment_id})
        yield len(batch), rows


@dataclass
class _Copier:
    """COPY into one table in binary: every column the model has, a row's missing values being
    the fields' defaults (as Django would have written them). A row's values come out in the
    defaults' order, so a row names no field the model does not have."""

    statement: str
    defaults: dict[str, Any]
    types: list[int]

    @classmethod
    def for_model(cls, cursor: CursorWrapper, model: type[models.Model], now: datetime) -> _Copier:
        # Orders and payments come with the ids reserved for them; refunds and events take
        # theirs from the sequence, in the order they are written (as bulk_create's would).
        with_id = model in (Order, Payment)
        fields = [f for f in model._meta.concrete_fields if with_id or not f.primary_key]
        defaults = {
            f.attname: now if getattr(f, "auto_now", False) else f.get_default() for f in fields
        }
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            [model._meta.db_table],
        )
        oids = dict(cursor.fetchall())
        columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
        return cls(
            statement=f"COPY {_quoted(model)} ({columns}) FROM STDIN (FORMAT BINARY)",
            defaults=defaults,
            types=[oids[str(f.column)] for f in fields],
        )

    def copy(self, cursor: CursorWrapper, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        defaults = self.defaults
        with cursor.cursor.copy(self.statement) as copy:
            copy.set_types(self.types)
            for row in rows:
                copy.write_row(tuple({**defaults, **row}.values()))


def _in_background(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """`items`, produced by a thread up to `depth` ahead, so that the next batch is being built
    while PostgreSQL takes in this one (psycopg lets go of the GIL while it waits on the
    socket). A failure on either side stops both."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        handoff.put((item, None), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            handoff.put((done, exc))

    producer = threading.Thread(target=produce, name="seed-rows", daemon=True)
    producer.start()
    try:
        while True:
            item, error = handoff.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        producer.join()


def _quoted(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _is_empty(cursor: CursorWrapper, model: type[models.Model]) -> bool:
    cursor.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {_quoted(model)})")  # noqa: S608 (a model's table)
    return bool(cursor.fetchone()[0])


def _reserve_ids(cursor: CursorWrapper, model: type[models.Model], count: int) -> int:
    """The first of `count` consecutive ids, taken from the table's sequence (which moves past
    them, as if they had been inserted one by one)."""
    cursor.execute(
        "SELECT setval(seq, nextval(seq) + %s - 1) - %s + 1 "
        "FROM pg_get_serial_sequence(%s, %s) AS seq",
        [count, count, model._meta.db_table, model._meta.pk.column],
    )
    return int(cursor.fetchone()[0])


@dataclass
class _Deferred:
    drop: list[str] = field(default_factory=list)
    create: list[str] = field(default_factory=list)


# What a table's rows must satisfy beyond NOT NULL and CHECK: unique and foreign-key constraints
# (a unique one that a foreign key depends on stays), and indexes that no constraint owns. The
# primary key stays (ids are appended in order; other tables' foreign keys need it).
_CONSTRAINTS = """
    SELECT c.conname, pg_get_constraintdef(c.oid), c.contype
    FROM pg_constraint c
    WHERE c.conrelid = %s::regclass AND c.contype IN ('u', 'f')
      AND NOT (c.contype = 'u' AND EXISTS (
          SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = c.conindid))
    ORDER BY c.contype DESC, c.conname
"""
_INDEXES = """
    SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index i
    WHERE i.indrelid = %s::regclass
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                      WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                        AND c.contype IN ('p', 'u', 'x'))
    ORDER BY 1
"""


def _declared_indexes(model: type[models.Model]) -> dict[str, str]:
    """The SQL `migrate` ran for the model's declared indexes (and conditional unique
    constraints, which are indexes). PostgreSQL's own rendering of a partial index's condition
    (pg_get_indexdef) does not always parse back to the same expression, so these are made
    again from what made them; the rest (plain ones, or made by RunSQL) from their definition."""
    editor = connection.schema_editor(collect_sql=True)
    declared = [*model._meta.indexes, *model._meta.constraints]
    return {
        str(item.name): str(sql)
        for item in declared
        if (sql := item.create_sql(model, editor)) is not None
    }


@contextmanager
def _indexes_built_after(
    cursor: CursorWrapper, models_: list[type[models.Model]]
) -> Iterator[None]:
    """Drop the secondary indexes and the unique and foreign-key constraints of these (empty)
    tables, and create them again, exactly as they were, after the block. Inside the caller's
    transaction: if anything fails, all of it is undone."""
    deferred = _Deferred()
    for model in models_:
        table = _quoted(model)
        cursor.execute(_CONSTRAINTS, [model._meta.db_table])
        for name, definition, _kind in cursor.fetchall():  # foreign keys first ('f' > 'u')
            quoted = connection.ops.quote_name(name)
            deferred.drop.append(f"ALTER TABLE {table} DROP CONSTRAINT {quoted}")
            deferred.create.insert(0, f"ALTER TABLE {table} ADD CONSTRAINT {quoted} {definition}")
        declared = _declared_indexes(model)
        cursor.execute(_INDEXES, [model._meta.db_table])
        for name, definition in cursor.fetchall():
            deferred.drop.append(f"DROP INDEX {name}")
            deferred.create.insert(0, declared.get(name, definition))
    for statement in deferred.drop:
        cursor.execute(statement)
    yield
    for statement in deferred.create:
        cursor.execute(statement)
