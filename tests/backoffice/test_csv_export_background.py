"""An export larger than BACKOFFICE_EXPORT_STREAM_MAX_ROWS is prepared in the background: the
user is sent to its page, downloads the file when it is ready, and no one else can; the files
expire. Below the limit the export streams at once."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from backoffice import exports
from backoffice.models import CsvExport
from payments.models import Payment
from tests import factories
from tests.backoffice.conftest import HTMX

URL = reverse("backoffice:payments_csv")


@pytest.fixture(autouse=True)
def small_limit(settings, tmp_path):
    settings.BACKOFFICE_EXPORT_STREAM_MAX_ROWS = 3
    settings.BACKOFFICE_EXPORT_DIR = tmp_path / "exports"
    return settings


def _payments(n: int, currency: str = "EUR") -> list[Payment]:
    total = {"EUR": "10.50", "JPY": "1500", "KWD": "12.340"}[currency]
    return [
        factories.payment(factories.order(total=total, currency=currency), card_brand=f"=b{i}")
        for i in range(n)
    ]


def _ask(client: Client, capture, query: dict | None = None):
    """Ask for the export, running what is queued after the commit (the demo's inline task)."""
    with capture(execute=True):
        return client.get(URL, query or {})


def _export_id(response) -> str:
    assert response.status_code == 302
    prefix = "/backoffice/exports/"
    assert response["Location"].startswith(prefix)
    return response["Location"][len(prefix) :].strip("/")


def test_a_small_export_still_streams_at_once(finance: Client):
    _payments(3)
    response = finance.get(URL)
    assert response.status_code == 200
    assert response.streaming
    assert not CsvExport.objects.exists()


def test_a_large_export_is_prepared_and_downloaded_by_its_user(
    finance: Client, finance_user, django_capture_on_commit_callbacks, small_limit
):
    _payments(3, "EUR")
    _payments(2, "JPY")
    _payments(1, "KWD")
    export_id = _export_id(_ask(finance, django_capture_on_commit_callbacks, {"sort": "amount"}))
    export = CsvExport.objects.get(id=export_id)
    assert (export.user, export.kind, export.status) == (finance_user, "payments", "ready")

    page = finance.get(reverse("backoffice:csv_export", args=[export_id]))
    assert page.status_code == 200
    assert b"Download the CSV file" in page.content

    download = finance.get(reverse("backoffice:csv_export_download", args=[export_id]))
    assert download.status_code == 200
    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="payments-' in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    assert export.size == len(body) > 0

    # The very file the stream writes for the same filter and sort.
    small_limit.BACKOFFICE_EXPORT_STREAM_MAX_ROWS = 1000
    streamed = b"".join(finance.get(URL, {"sort": "amount"}).streaming_content)
    assert body == streamed
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert len(rows) == 6
    assert {r["amount"] for r in rows} == {"10.50", "1500", "12.340"}
    assert {r["card_brand"][:2] for r in rows} == {"'="}  # the formula guard


def test_the_filter_and_the_viewers_zone_go_with_the_export(
    finance: Client, finance_user, django_capture_on_commit_callbacks, small_limit
):
    small_limit.BACKOFFICE_EXPORT_STREAM_MAX_ROWS = 0  # every export, however few its rows
    finance_user.time_zone = "Asia/Tokyo"
    finance_user.save(update_fields=["time_zone"])
    _payments(4, "JPY")
    _payments(2, "EUR")
    export_id = _export_id(_ask(finance, django_capture_on_commit_callbacks, {"currency": "JPY"}))
    body = b"".join(
        finance.get(reverse("backoffice:csv_export_download", args=[export_id])).streaming_content
    ).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["currency"] for r in rows] == ["JPY"] * 4
    assert all(r["created_at"].endswith("+09:00") for r in rows)


def test_no_one_else_sees_or_downloads_it(
    finance: Client, django_capture_on_commit_callbacks, support: Client
):
    _payments(4)
    export_id = _export_id(_ask(finance, django_capture_on_commit_callbacks))
    colleague = Client()
    colleague.force_login(factories.user("frank", group="Finance"))
    for client in (colleague, support):
        assert client.get(reverse("backoffice:csv_export", args=[export_id])).status_code == 404
        download = reverse("backoffice:csv_export_download", args=[export_id])
        assert client.get(download).status_code == 404
    anonymous = Client().get(reverse("backoffice:csv_export_download", args=[export_id]))
    assert anonymous.status_code == 302  # to the login page


def test_the_page_says_it_is_being_prepared_until_it_is_ready(finance: Client, finance_user):
    export = CsvExport.objects.create(user=finance_user, kind="payments")
    page = finance.get(reverse("backoffice:csv_export", args=[export.id]), **HTMX)
    assert page.status_code == 200
    assert b"being prepared" in page.content
    assert b'hx-trigger="every 2s"' in page.content
    assert b"<html" not in page.content  # only the status part, for htmx to swap
    download = finance.get(reverse("backoffice:csv_export_download", args=[export.id]))
    assert download.status_code == 404


def test_a_task_delivered_twice_writes_the_file_once(finance_user):
    _payments(4)
    export = CsvExport.objects.create(user=finance_user, kind="payments")
    exports.csv_export_build(export_id=export.id)
    path = exports.export_path(export)
    first = path.stat().st_mtime_ns
    exports.csv_export_build(export_id=export.id)
    assert path.stat().st_mtime_ns == first
    assert CsvExport.objects.get(id=export.id).status == CsvExport.Status.READY


def test_an_export_that_cannot_be_prepared_says_so(finance: Client, finance_user):
    export = CsvExport.objects.create(user=finance_user, kind="payments", query="currency=XXX")
    exports.csv_export_build(export_id=export.id)
    export.refresh_from_db()
    assert export.status == CsvExport.Status.FAILED
    assert not list(exports.export_path(export).parent.glob("*"))  # no half-written file
    page = finance.get(reverse("backoffice:csv_export", args=[export.id]))
    assert b"could not be prepared" in page.content


def test_expired_exports_and_their_files_are_removed(finance: Client, finance_user, settings):
    _payments(4)
    old = CsvExport.objects.create(user=finance_user, kind="payments")
    new = CsvExport.objects.create(user=finance_user, kind="payments")
    for export in (old, new):
        exports.csv_export_build(export_id=export.id)
    CsvExport.objects.filter(id=old.id).update(
        created_at=timezone.now() - dt.timedelta(hours=settings.BACKOFFICE_EXPORT_KEEP_HOURS + 1)
    )
    assert finance.get(reverse("backoffice:csv_export", args=[old.id])).status_code == 404
    assert exports.csv_exports_expire() == 1
    assert not exports.export_path(old).exists()
    assert exports.export_path(new).exists()
    assert list(CsvExport.objects.values_list("id", flat=True)) == [new.id]


def test_a_bad_filter_is_a_400_and_records_nothing(finance: Client):
    _payments(4)
    assert finance.get(URL, {"currency": "XXX"}).status_code == 400
    assert not CsvExport.objects.exists()


def test_an_export_whose_worker_died_is_failed_by_the_scheduled_job(finance: Client, finance_user):
    lost = CsvExport.objects.create(
        user=finance_user,
        kind="payments",
        status=CsvExport.Status.RUNNING,
        created_at=timezone.now() - dt.timedelta(hours=2),
    )
    fresh = CsvExport.objects.create(
        user=finance_user, kind="payments", status=CsvExport.Status.RUNNING
    )
    exports.csv_exports_expire()
    assert CsvExport.objects.get(id=lost.id).status == CsvExport.Status.FAILED
    assert CsvExport.objects.get(id=fresh.id).status == CsvExport.Status.RUNNING
    page = finance.get(reverse("backoffice:csv_export", args=[lost.id]))
    assert b"could not be prepared" in page.content


def test_the_command_expires_them_without_a_worker(finance_user, settings):
    _payments(4)
    export = CsvExport.objects.create(user=finance_user, kind="payments")
    exports.csv_export_build(export_id=export.id)
    CsvExport.objects.filter(id=export.id).update(
        created_at=timezone.now() - dt.timedelta(hours=settings.BACKOFFICE_EXPORT_KEEP_HOURS + 1)
    )
    out = io.StringIO()
    call_command("expire_csv_exports", stdout=out)
    assert "Removed 1 expired CSV export(s)." in out.getvalue()
    assert not CsvExport.objects.exists()
    assert not exports.export_path(export).exists()
