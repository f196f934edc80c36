"""`manage.py expire_csv_exports`: what celery beat runs hourly, for a deployment without it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from backoffice import exports


class Command(BaseCommand):
    help = (
        "Delete the CSV exports (rows and files) older than BACKOFFICE_EXPORT_KEEP_HOURS, and "
        "mark failed those a lost worker never finished."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        removed = exports.csv_exports_expire()
        self.stdout.write(self.style.SUCCESS(f"Removed {removed} expired CSV export(s)."))
