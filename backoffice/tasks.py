"""Celery tasks of the back-office: thin shells around backoffice.exports."""

from __future__ import annotations

from celery import shared_task

from backoffice import exports


@shared_task
def csv_export_build(export_id: str) -> None:
    exports.csv_export_build(export_id=export_id)


@shared_task
def csv_exports_expire() -> int:
    return exports.csv_exports_expire()
