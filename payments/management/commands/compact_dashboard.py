"""`manage.py compact_dashboard`: fold the dashboard's deltas into its summary, by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from payments import tasks


class Command(BaseCommand):
    help = (
        "Fold the dashboard's deltas into its summary (what celery beat does every minute), "
        "then vacuum the two tables on PostgreSQL. Run it after a big import or seeding "
        "without a worker; safe to run at any time, twice at once included."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        folded = tasks.dashboard_summary_compact.run()
        self.stdout.write(self.style.SUCCESS(f"Folded {folded} dashboard delta row(s)."))
