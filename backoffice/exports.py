"""CSV exports too large to stream within a request: asked for by one user, prepared by a task
(Celery; inline after the commit in the demo, like payments.queue), written to a private
directory, downloadable by that user alone until they expire.

A row claims its work (pending -> running, forward only), so a task delivered twice writes the
file once; the file is written under a temporary name and renamed when complete, so a download
never sees half a file.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from backoffice.models import CsvExport
from payments import list_counts, queue
from shop.models import CustomUser

logger = logging.getLogger(__name__)

# No export takes this long (10M payments take minutes): one still unfinished was lost.
STALE_AFTER = timedelta(hours=1)


def is_large(queryset: QuerySet) -> bool:
    """More rows than a request should stream. On PostgreSQL the planner's estimate answers
    "no" without counting; above the limit (and on SQLite) a count that stops at the limit
    decides, so a rough estimate never sends a small export to the background."""
    limit = settings.BACKOFFICE_EXPORT_STREAM_MAX_ROWS
    if connection.vendor == "postgresql":
        estimate = list_counts.planner_estimate(queryset)
        if estimate is not None and estimate <= limit:
            return False
    return list_counts.count_up_to(queryset, limit) > limit


def export_path(export: CsvExport) -> Path:
    return Path(settings.BACKOFFICE_EXPORT_DIR) / f"{export.id}.csv"


@transaction.atomic
def csv_export_request(*, user: CustomUser, kind: str, query: str) -> CsvExport:
    """Record the export and have it prepared once this transaction commits."""
    export = CsvExport.objects.create(user=user, kind=kind, query=query)
    transaction.on_commit(lambda: _start(export.id))
    return export


def _start(export_id: uuid.UUID) -> None:
    if queue.inline():
        csv_export_build(export_id=export_id)
        return
    from backoffice import tasks

    try:
        tasks.csv_export_build.delay(str(export_id))
    except Exception:  # the broker is down: say so on the page rather than wait forever
        logger.warning("could not queue CSV export %s", export_id)
        CsvExport.objects.filter(id=export_id, status=CsvExport.Status.PENDING).update(
            status=CsvExport.Status.FAILED, finished_at=timezone.now()
        )


def csv_export_build(*, export_id: uuid.UUID | str) -> None:
    """Write the export's file, if no one has started it yet."""
    claimed = CsvExport.objects.filter(id=export_id, status=CsvExport.Status.PENDING).update(
        status=CsvExport.Status.RUNNING
    )
    if not claimed:
        return  # done, running elsewhere, failed or gone
    export = CsvExport.objects.select_related("user").get(id=export_id)
    path = export_path(export)
    partial = path.with_suffix(".part")
    try:
        from backoffice.views.exports import export_file_chunks

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        size = 0
        with partial.open("wb") as out:
            for chunk in export_file_chunks(export):
                size += out.write(chunk.encode() if isinstance(chunk, str) else chunk)
        os.replace(partial, path)
    except Exception:
        logger.exception("CSV export %s failed", export_id)
        partial.unlink(missing_ok=True)
        CsvExport.objects.filter(id=export_id).update(
            status=CsvExport.Status.FAILED, finished_at=timezone.now()
        )
        return
    CsvExport.objects.filter(id=export_id).update(
        status=CsvExport.Status.READY, finished_at=timezone.now(), size=size
    )


def csv_export_of(*, user: CustomUser, export_id: uuid.UUID) -> CsvExport:
    """The user's own export (DoesNotExist for anyone else's, or an expired one)."""
    return CsvExport.objects.get(id=export_id, user=user, created_at__gte=_cutoff())


def _cutoff():
    return timezone.now() - timedelta(hours=float(settings.BACKOFFICE_EXPORT_KEEP_HOURS))


def csv_exports_expire() -> int:
    """The scheduled job: an export still unfinished after STALE_AFTER (its worker killed, its
    task lost) is failed, so its page stops waiting; exports older than
    BACKOFFICE_EXPORT_KEEP_HOURS are deleted, files first. Returns how many rows went."""
    CsvExport.objects.filter(
        status__in=[CsvExport.Status.PENDING, CsvExport.Status.RUNNING],
        created_at__lt=timezone.now() - STALE_AFTER,
    ).update(status=CsvExport.Status.FAILED, finished_at=timezone.now())
    expired = list(CsvExport.objects.filter(created_at__lt=_cutoff()).values_list("id", flat=True))
    for export_id in expired:
        for suffix in (".csv", ".part"):
            (Path(settings.BACKOFFICE_EXPORT_DIR) / f"{export_id}{suffix}").unlink(missing_ok=True)
    return CsvExport.objects.filter(id__in=expired).delete()[0]
