"""A CSV export too large to stream, in a real browser: the list's Export CSV leads to the
export's page, which offers the download when the file is ready (htmx asks again until then)."""

from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import Page, expect

from backoffice import exports
from backoffice.models import CsvExport
from tests import factories
from tests.e2e.conftest import log_in

# serialized_rollback keeps the roles (a data migration's rows) for the tests after these.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def fiona(settings, tmp_path):
    settings.BACKOFFICE_EXPORT_STREAM_MAX_ROWS = 2
    settings.BACKOFFICE_EXPORT_DIR = tmp_path / "exports"
    for total, currency in (("12.340", "KWD"), ("1500", "JPY"), ("99.99", "EUR")):
        factories.payment(factories.order(total=total, currency=currency))
    return factories.user("fiona", group="Finance")


def test_a_large_export_is_downloaded_from_its_page(live_server, page: Page, fiona):
    log_in(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/backoffice/payments/")
    page.get_by_role("link", name="Export CSV").click()
    expect(page.get_by_role("heading", name="Payments export")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the CSV file").click()
    assert download.value.suggested_filename.startswith("payments-")
    with open(download.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert sorted(r["amount"] for r in rows) == ["12.340", "1500", "99.99"]
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_the_page_offers_the_download_once_the_file_is_ready(live_server, page: Page, fiona):
    export = CsvExport.objects.create(user=fiona, kind="payments")
    log_in(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/backoffice/exports/{export.id}/")
    expect(page.get_by_test_id("export-status")).to_contain_text("being prepared")
    exports.csv_export_build(export_id=export.id)
    # No reload: htmx polls every two seconds and swaps the status in.
    expect(page.get_by_role("link", name="Download the CSV file")).to_be_visible(timeout=8000)
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
