"""The dashboard's running totals, kept by the database itself.

Triggers on payments and refunds write signed deltas into payments_dashboarddelta, keyed by
(kind, hour of created_at in UTC, currency, status): on PostgreSQL one statement-level
trigger per event, reading the statement's transition tables, so a bulk_create, an UPDATE of
thousands of rows or a COPY adds one row per key it changed (and none when it changed no total);
on SQLite (the demo, one writer) row triggers. Nothing updates a shared row on the write path, so
concurrent webhook workers never queue or deadlock on it. The view payments_dashboardtotal reads
the compacted summary and the deltas in one statement. Existing rows are backfilled by one
grouped INSERT ... SELECT per table, in the same transaction that creates the triggers (which
lock out writers until it commits), so nothing is counted twice or missed.
"""

from django.db import migrations, models

# The hour in UTC whatever the writer's session time zone (date_trunc would follow it).
PG_BUCKET = "date_bin('1 hour', {col}, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
# Django keeps SQLite datetimes as UTC text; the bucket in the same text form.
SQLITE_BUCKET = "strftime('%Y-%m-%d %H:00:00', {col})"
COLUMNS = "kind, bucket, currency, status, n, amount, amount_refunded"

VIEW = f"""
CREATE VIEW payments_dashboardtotal AS
    SELECT {COLUMNS} FROM payments_dashboardsummary
    UNION ALL
    SELECT {COLUMNS} FROM payments_dashboarddelta
"""


def _pg_payment_rows(table: str, sign: str) -> str:
    bucket = PG_BUCKET.format(col="created_at")
    return (
        f"SELECT {bucket} AS bucket, currency, status, {sign}1 AS n, {sign}amount AS amount, "
        f"{sign}amount_refunded AS amount_refunded FROM {table}"
    )


def _pg_refund_rows(table: str, sign: str) -> str:
    bucket = PG_BUCKET.format(col="r.created_at")
    return (
        f"SELECT {bucket} AS bucket, p.currency, r.status, {sign}1 AS n, {sign}r.amount AS amount, "
        f"0 AS amount_refunded FROM {table} r JOIN payments_payment p ON p.id = r.payment_id"
    )


def _pg_insert(kind: str, rows: str) -> str:
    return f"""
        INSERT INTO payments_dashboarddelta ({COLUMNS})
        SELECT '{kind}', bucket, currency, status, sum(n), sum(amount), sum(amount_refunded)
        FROM ({rows}) AS changed
        GROUP BY bucket, currency, status
        HAVING sum(n) <> 0 OR sum(amount) <> 0 OR sum(amount_refunded) <> 0;
    """


def _pg_refunds_of(table: str, sign: str, where: str = "TRUE") -> str:
    """The refunds of the payments in `table`: a payment's insert, delete or change of currency
    moves its refunds' totals too, so that the order of deletes (or of inserts, under deferred
    foreign keys) never matters: a refund whose payment is gone counts nowhere."""
    bucket = PG_BUCKET.format(col="r.created_at")
    return (
        f"SELECT {bucket} AS bucket, p.currency, r.status, {sign}1 AS n, {sign}r.amount AS amount, "
        f"0 AS amount_refunded FROM {table} p JOIN payments_refund r ON r.payment_id = p.id "
        f"WHERE {where}"
    )


_CURRENCY_CHANGED = (
    "p.id IN (SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id "
    "WHERE o.currency IS DISTINCT FROM n.currency)"
)


def _pg_function(kind: str, rows) -> str:
    on_insert = _pg_insert(kind, rows("new_rows", ""))
    on_update = _pg_insert(kind, rows("new_rows", "") + " UNION ALL " + rows("old_rows", "-"))
    on_delete = _pg_insert(kind, rows("old_rows", "-"))
    if kind == "payment":
        on_insert += _pg_insert("refund", _pg_refunds_of("new_rows", ""))
        on_update += _pg_insert(
            "refund",
            _pg_refunds_of("new_rows", "", _CURRENCY_CHANGED)
            + " UNION ALL "
            + _pg_refunds_of("old_rows", "-", _CURRENCY_CHANGED),
        )
        on_delete += _pg_insert("refund", _pg_refunds_of("old_rows", "-"))
    return f"""
CREATE FUNCTION payments_dashboard_{kind}_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {on_insert}
    ELSIF TG_OP = 'UPDATE' THEN
        {on_update}
    ELSE
        {on_delete}
    END IF;
    RETURN NULL;
END $$;
"""


def _pg_triggers(kind: str, table: str) -> list[str]:
    referencing = {
        "INSERT": "NEW TABLE AS new_rows",
        "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        "DELETE": "OLD TABLE AS old_rows",
    }
    return [
        f"CREATE TRIGGER payments_dashboard_{kind}_{event.lower()} AFTER {event} ON {table} "
        f"REFERENCING {ref} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION payments_dashboard_{kind}_delta()"
        for event, ref in referencing.items()
    ]


PG_BACKFILL = [
    f"""INSERT INTO payments_dashboardsummary ({COLUMNS})
        SELECT 'payment', {PG_BUCKET.format(col="created_at")}, currency, status, count(*),
               sum(amount), sum(amount_refunded)
        FROM payments_payment GROUP BY 2, 3, 4""",
    f"""INSERT INTO payments_dashboardsummary ({COLUMNS})
        SELECT 'refund', {PG_BUCKET.format(col="r.created_at")}, p.currency, r.status, count(*),
               sum(r.amount), 0
        FROM payments_refund r JOIN payments_payment p ON p.id = r.payment_id
        GROUP BY 2, 3, 4""",
]


_DELTA = f"INSERT INTO payments_dashboarddelta ({COLUMNS})"


def _sqlite_payment(row: str, sign: str) -> str:
    bucket = SQLITE_BUCKET.format(col=f"{row}.created_at")
    return (
        f"{_DELTA} VALUES ('payment', {bucket}, {row}.currency, {row}.status, {sign}1, "
        f"{sign}{row}.amount, {sign}{row}.amount_refunded);"
    )


def _sqlite_refund(row: str, sign: str) -> str:
    # Nothing when its payment is gone: the payment's delete took its refunds' totals with it.
    bucket = SQLITE_BUCKET.format(col=f"{row}.created_at")
    return (
        f"{_DELTA} SELECT 'refund', {bucket}, p.currency, {row}.status, {sign}1, "
        f"{sign}{row}.amount, 0 FROM payments_payment p WHERE p.id = {row}.payment_id;"
    )


def _sqlite_refunds_of(row: str, sign: str) -> str:
    bucket = SQLITE_BUCKET.format(col="r.created_at")
    return (
        f"{_DELTA} SELECT 'refund', {bucket}, {row}.currency, r.status, {sign}1, {sign}r.amount, 0 "
        f"FROM payments_refund r WHERE r.payment_id = {row}.id;"
    )


def _sqlite_triggers() -> list[str]:
    paid = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in PAYMENT_COLUMNS)
    refunded = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in REFUND_COLUMNS)
    return [
        "CREATE TRIGGER payments_dashboard_payment_insert AFTER INSERT ON payments_payment "
        f"BEGIN {_sqlite_payment('NEW', '')} {_sqlite_refunds_of('NEW', '')} END",
        "CREATE TRIGGER payments_dashboard_payment_update AFTER UPDATE ON payments_payment "
        f"WHEN {paid} BEGIN {_sqlite_payment('OLD', '-')} {_sqlite_payment('NEW', '')} END",
        "CREATE TRIGGER payments_dashboard_payment_currency AFTER UPDATE ON payments_payment "
        "WHEN OLD.currency IS NOT NEW.currency "
        f"BEGIN {_sqlite_refunds_of('OLD', '-')} {_sqlite_refunds_of('NEW', '')} END",
        "CREATE TRIGGER payments_dashboard_payment_delete AFTER DELETE ON payments_payment "
        f"BEGIN {_sqlite_payment('OLD', '-')} {_sqlite_refunds_of('OLD', '-')} END",
        "CREATE TRIGGER payments_dashboard_refund_insert AFTER INSERT ON payments_refund "
        f"BEGIN {_sqlite_refund('NEW', '')} END",
        "CREATE TRIGGER payments_dashboard_refund_update AFTER UPDATE ON payments_refund "
        f"WHEN {refunded} BEGIN {_sqlite_refund('OLD', '-')} {_sqlite_refund('NEW', '')} END",
        "CREATE TRIGGER payments_dashboard_refund_delete AFTER DELETE ON payments_refund "
        f"BEGIN {_sqlite_refund('OLD', '-')} END",
    ]


SQLITE_BACKFILL = [
    f"""INSERT INTO payments_dashboardsummary ({COLUMNS})
        SELECT 'payment', {SQLITE_BUCKET.format(col="created_at")}, currency, status, count(*),
               sum(amount), sum(amount_refunded)
        FROM payments_payment GROUP BY 2, 3, 4""",
    f"""INSERT INTO payments_dashboardsummary ({COLUMNS})
        SELECT 'refund', {SQLITE_BUCKET.format(col="r.created_at")}, p.currency, r.status,
               count(*), sum(r.amount), 0
        FROM payments_refund r JOIN payments_payment p ON p.id = r.payment_id
        GROUP BY 2, 3, 4""",
]

PAYMENT_COLUMNS = ["created_at", "currency", "status", "amount", "amount_refunded"]
REFUND_COLUMNS = ["created_at", "payment_id", "status", "amount"]


def create(apps, schema_editor):
    execute = schema_editor.execute
    execute(VIEW)
    if schema_editor.connection.vendor == "postgresql":
        execute(_pg_function("payment", _pg_payment_rows))
        execute(_pg_function("refund", _pg_refund_rows))
        for sql in _pg_triggers("payment", "payments_payment"):
            execute(sql)
        for sql in _pg_triggers("refund", "payments_refund"):
            execute(sql)
        backfill = PG_BACKFILL
    else:
        for sql in _sqlite_triggers():
            execute(sql)
        backfill = SQLITE_BACKFILL
    for sql in backfill:
        execute(sql)


def drop(apps, schema_editor):
    execute = schema_editor.execute
    for kind, table in (("payment", "payments_payment"), ("refund", "payments_refund")):
        for event in ("insert", "update", "currency", "delete"):
            if schema_editor.connection.vendor == "postgresql":
                execute(f"DROP TRIGGER IF EXISTS payments_dashboard_{kind}_{event} ON {table}")
            else:
                execute(f"DROP TRIGGER IF EXISTS payments_dashboard_{kind}_{event}")
        if schema_editor.connection.vendor == "postgresql":
            execute(f"DROP FUNCTION IF EXISTS payments_dashboard_{kind}_delta()")
    execute("DROP VIEW IF EXISTS payments_dashboardtotal")


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0015_search_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="DashboardTotal",
            fields=[
                (
                    "kind",
                    models.CharField(
                        choices=[("payment", "Payment"), ("refund", "Refund")], max_length=7
                    ),
                ),
                ("bucket", models.DateTimeField()),
                ("currency", models.CharField(max_length=3)),
                ("status", models.CharField(max_length=20)),
                ("n", models.BigIntegerField()),
                ("amount", models.DecimalField(decimal_places=3, max_digits=30)),
                ("amount_refunded", models.DecimalField(decimal_places=3, max_digits=30)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "kind",
                        "bucket",
                        "currency",
                        "status",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
            ],
            options={
                "managed": False,
            },
        ),
        migrations.CreateModel(
            name="DashboardDelta",
            fields=[
                (
                    "kind",
                    models.CharField(
                        choices=[("payment", "Payment"), ("refund", "Refund")], max_length=7
                    ),
                ),
                ("bucket", models.DateTimeField()),
                ("currency", models.CharField(max_length=3)),
                ("status", models.CharField(max_length=20)),
                ("n", models.BigIntegerField()),
                ("amount", models.DecimalField(decimal_places=3, max_digits=30)),
                ("amount_refunded", models.DecimalField(decimal_places=3, max_digits=30)),
                ("id", models.BigAutoField(primary_key=True, serialize=False)),
            ],
            options={
                "abstract": False,
            },
        ),
        migrations.CreateModel(
            name="DashboardSummary",
            fields=[
                (
                    "kind",
                    models.CharField(
                        choices=[("payment", "Payment"), ("refund", "Refund")], max_length=7
                    ),
                ),
                ("bucket", models.DateTimeField()),
                ("currency", models.CharField(max_length=3)),
                ("status", models.CharField(max_length=20)),
                ("n", models.BigIntegerField()),
                ("amount", models.DecimalField(decimal_places=3, max_digits=30)),
                ("amount_refunded", models.DecimalField(decimal_places=3, max_digits=30)),
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "kind",
                        "bucket",
                        "currency",
                        "status",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "dashboard summaries",
            },
        ),
        migrations.RunPython(create, drop),
    ]
