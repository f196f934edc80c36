"""403, 404 and 500 pages in the back-office's layout, with a way out; JSON under /api/."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from config import errors
from tests import factories


@pytest.fixture(autouse=True)
def _production_mode(settings):
    settings.DEBUG = False  # Django shows its technical pages instead with DEBUG on


def logged_in(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


API_ERROR_KEYS = {"status", "code", "message", "fields"}


@pytest.mark.django_db
def test_a_customer_opening_the_backoffice_is_told_it_is_for_staff():
    response = logged_in(factories.user("alice")).get("/backoffice/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "This area is for staff" in html
    assert "signed in as\n    <strong>alice</strong>" in html
    assert 'href="/checkout/"' in html  # a way out
    assert 'action="/accounts/logout/"' in html
    assert 'href="/backoffice/payments/"' not in html  # no menu of pages that would refuse too
    assert 'class="site-header"' in html  # the back-office's layout


@pytest.mark.django_db
def test_a_colleague_without_the_permission_gets_a_way_back():
    response = logged_in(factories.user("sam", group="Support")).get("/backoffice/audit/")
    assert response.status_code == 403
    html = response.content.decode()
    assert "You don't have permission for this" in html
    assert "Back to the dashboard" in html
    assert "This area is for staff" not in html


@pytest.mark.django_db
def test_an_unknown_page_is_a_404_in_the_layout():
    client = logged_in(factories.user("fiona", group="Finance"))
    response = client.get("/backoffice/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "<code>/backoffice/no-such-page/</code>" in html
    assert 'href="/backoffice/payments/"' in html  # the menu and "Find a payment"
    assert "Back to the dashboard" in html


@pytest.mark.django_db
def test_a_missing_payment_is_the_same_404_page():
    client = logged_in(factories.user("fiona", group="Finance"))
    response = client.get("/backoffice/payments/999999/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


@pytest.mark.django_db
def test_an_unknown_api_path_answers_the_apis_json_error():
    response = Client().get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == API_ERROR_KEYS
    assert (error["status"], error["code"], error["fields"]) == (404, "not_found", {})


@pytest.mark.django_db
@pytest.mark.urls("tests.config.error_urls")
def test_a_bug_in_a_page_is_the_500_page():
    response = logged_in(factories.user("fiona", group="Finance")).get("/backoffice/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert 'href="/backoffice/"' in html  # the way out
    assert "a bug" not in html and "Traceback" not in html


@pytest.mark.django_db
@pytest.mark.urls("tests.config.error_urls")
def test_a_bug_in_the_api_is_a_json_500():
    owner = factories.user("alice")
    client = factories.api_client(owner)
    client.raise_request_exception = False
    response = client.get("/api/boom/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == API_ERROR_KEYS
    assert (error["status"], error["code"]) == (500, "server_error")
    assert "a bug" not in response.content.decode()


def test_the_500_page_needs_neither_the_database_nor_the_request():
    # No django_db mark: any query here would fail the test (and fall back to plain text).
    request = RequestFactory().get("/backoffice/payments/")
    response = errors.server_error(request)
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "<html" in html


def test_a_500_page_that_cannot_render_falls_back_to_plain_text(monkeypatch):
    def broken(name):
        raise RuntimeError("templates are broken")

    monkeypatch.setattr(errors.loader, "get_template", broken)
    response = errors.server_error(RequestFactory().get("/backoffice/"))
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/plain")
    assert b"Server error (500)" in response.content
