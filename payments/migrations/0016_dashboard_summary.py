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


def _pg_function(kind: str, rows) -> str:
    return f"""
CREATE FUNCTION payments_dashboard_{kind}_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_pg_insert(kind, rows("new_rows", ""))}
    ELSIF TG_OP = 'UPDATE' THEN
        {_pg_insert(kind, rows("new_rows", "") + " UNION ALL " + rows("old_rows", "-"))}
    ELSE
        {_pg_insert(kind, rows("old_rows", "-"))}
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


def _sqlite_values(kind: str, row: str, sign: str) -> str:
    if kind == "payment":
        return (
            f"'payment', {SQLITE_BUCKET.format(col=row + '.created_at')}, {row}.currency, "
            f"{row}.status, {sign}1, {sign}{row}.amount, {sign}{row}.amount_refunded"
        )
    return (
        f"'refund', {SQLITE_BUCKET.format(col=row + '.created_at')}, "
        f"(SELECT currency FROM payments_payment WHERE id = {row}.payment_id), "
        f"{row}.status, {sign}1, {sign}{row}.amount, 0"
    )


def _sqlite_triggers(kind: str, table: str, watched: list[str]) -> list[str]:
    insert = f"INSERT INTO payments_dashboarddelta ({COLUMNS}) VALUES"
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in watched)
    return [
        f"CREATE TRIGGER payments_dashboard_{kind}_insert AFTER INSERT ON {table} BEGIN "
        f"{insert} ({_sqlite_values(kind, 'NEW', '')}); END",
        f"CREATE TRIGGER payments_dashboard_{kind}_update AFTER UPDATE ON {table} "
        f"WHEN {changed} BEGIN "
        f"{insert} ({_sqlite_values(kind, 'OLD', '-')}); "
        f"{insert} ({_sqlite_values(kind, 'NEW', '')}); END",
        f"CREATE TRIGGER payments_dashboard_{kind}_delete AFTER DELETE ON {table} BEGIN "
        f"{insert} ({_sqlite_values(kind, 'OLD', '-')}); END",
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
        for sql in _sqlite_triggers("payment", "payments_payment", PAYMENT_COLUMNS):
            execute(sql)
        for sql in _sqlite_triggers("refund", "payments_refund", REFUND_COLUMNS):
            execute(sql)
        backfill = SQLITE_BACKFILL
    for sql in backfill:
        execute(sql)


def drop(apps, schema_editor):
    execute = schema_editor.execute
    for kind, table in (("payment", "payments_payment"), ("refund", "payments_refund")):
        for event in ("insert", "update", "delete"):
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
