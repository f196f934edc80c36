"""Back and Forward on a list page: the whole page comes from the server, so the filter form
shows the filters the table was drawn with (the browser test is tests/e2e/test_list_navigation)."""

from __future__ import annotations

import html as html_lib
import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db
LISTS = ["backoffice:payments", "backoffice:refunds", "backoffice:webhook_events"]
RESTORE = {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


def _htmx_config(page: str) -> dict:
    (content,) = re.findall(r"<meta name=\"htmx-config\" content='([^']*)'>", page)
    return json.loads(html_lib.unescape(content))


def test_htmx_keeps_no_snapshots_and_restores_from_the_server(finance: Client):
    config = _htmx_config(finance.get(reverse("backoffice:payments")).content.decode())
    # No snapshot (taken after the form changed, before the table did) to restore from: Back
    # asks the server for the page, as a plain request.
    assert config["historyCacheSize"] == 0
    assert config["historyRestoreAsHxRequest"] is False


@pytest.mark.parametrize("name", LISTS)
def test_a_history_restore_gets_the_whole_page_even_as_an_htmx_request(finance: Client, name):
    response = finance.get(reverse(name), {"status": "failed"}, **RESTORE)
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page and 'id="filters"' in page
    assert '<option value="failed" selected>' in page
    assert "HX-History-Restore-Request" in response["Vary"]


def test_the_form_shows_the_filters_of_the_url_and_the_browser_keeps_none(finance: Client):
    factories.payment(factories.order(total="5.00", currency="GBP"))
    page = finance.get(
        reverse("backoffice:payments"), {"status": "succeeded", "currency": "GBP"}
    ).content.decode()
    assert '<option value="succeeded" selected>' in page
    assert '<option value="GBP" selected>' in page
    assert re.search(r'<form id="filters"[^>]*autocomplete="off"', page)


def test_a_filter_change_still_gets_only_the_table(finance: Client):
    partial = finance.get(reverse("backoffice:payments"), {"status": "failed"}, **HTMX)
    assert partial.content.decode().lstrip().startswith('<section id="table"')
