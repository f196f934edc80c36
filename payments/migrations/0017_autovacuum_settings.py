"""Autovacuum that keeps up with payments being updated (PostgreSQL only).

PostgreSQL's defaults vacuum a table once a fifth of it is dead rows: at a million payments,
after some 200,000 webhook updates. Until then every index scan that reads payments must visit
the heap to learn which row versions are live (no index-only scans: the visibility map is stale),
and the dashboard's edge reads and the lists' counts slow down as updates pile up. One per cent
(plus 1,000 rows) vacuums every ~10,000 updates at a million, cheap with the default cost limits,
and inserts too (a freshly seeded or COPYed table gets its visibility map without a manual
VACUUM). The dashboard's delta table is insert-then-delete by design and its summary is updated
at every compaction, both small: they are vacuumed after a fixed number of changes, whatever
their size.
"""

from django.db import migrations

SETTINGS = {
    "payments_payment": (
        "autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000, "
        "autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_insert_threshold = 1000, "
        "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000"
    ),
    "payments_dashboarddelta": (
        "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, "
        "autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 2000, "
        "autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 2000"
    ),
    "payments_dashboardsummary": (
        "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 2000, "
        "autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 2000, "
        "autovacuum_analyze_scale_factor = 0.05, autovacuum_analyze_threshold = 2000"
    ),
}
NAMES = (
    "autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold, "
    "autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold, "
    "autovacuum_analyze_scale_factor, autovacuum_analyze_threshold"
)


def apply(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, options in SETTINGS.items():
        schema_editor.execute(f"ALTER TABLE {table} SET ({options})")


def reset(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in SETTINGS:
        schema_editor.execute(f"ALTER TABLE {table} RESET ({NAMES})")


class Migration(migrations.Migration):
    dependencies = [("payments", "0016_dashboard_summary")]

    operations = [migrations.RunPython(apply, reset)]
