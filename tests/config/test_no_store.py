"""Pages and answers with personal and financial data say `Cache-Control: no-store`."""

from __future__ import annotations

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


def assert_no_store(response) -> None:
    directives = {d.strip() for d in response.get("Cache-Control", "").split(",")}
    assert {"no-store", "private"} <= directives, response.get("Cache-Control")


@pytest.fixture
def finance() -> Client:
    client = Client()
    client.force_login(factories.user("fiona", group="Finance"))
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/backoffice/",
        "/backoffice/payments/",
        "/backoffice/refunds/",
        "/backoffice/disputes/",
        "/backoffice/webhooks/",
        "/backoffice/audit/",
    ],
)
def test_backoffice_pages_are_not_stored(finance, path):
    factories.payment()
    response = finance.get(path)
    assert response.status_code == 200
    assert_no_store(response)


@pytest.mark.parametrize(
    "path",
    [
        "/backoffice/payments/export.csv",
        "/backoffice/refunds/export.csv",
        "/backoffice/disputes/export.csv",
        "/backoffice/audit/export.csv",
    ],
)
def test_csv_exports_are_not_stored(finance, path):
    factories.payment()
    response = finance.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert_no_store(response)


def test_a_payments_page_and_a_404_are_not_stored(finance):
    payment = factories.payment()
    assert_no_store(finance.get(f"/backoffice/payments/{payment.pk}/"))
    assert_no_store(finance.get("/backoffice/payments/999999/"))


def test_a_customers_403_is_not_stored():
    client = Client()
    client.force_login(factories.user("alice"))
    response = client.get("/backoffice/")
    assert response.status_code == 403
    assert_no_store(response)


def test_the_admin_is_not_stored():
    client = Client()
    client.force_login(factories.user("root", is_staff=True, is_superuser=True))
    response = client.get("/admin/payments/payment/")
    assert response.status_code == 200
    assert_no_store(response)


def test_the_apis_answers_are_not_stored():
    staff = factories.user("fiona", group="Finance")
    factories.payment()
    api = factories.api_client(staff)
    response = api.get("/api/payments/payments/")
    assert response.status_code == 200
    assert_no_store(response)
    assert_no_store(api.get("/api/payments/refunds/"))
    assert_no_store(Client().get("/api/payments/payments/"))  # the 401 too


def test_public_pages_keep_their_caching():
    # Only the data-bearing areas are touched: the checkout page has nothing personal.
    response = Client().get("/checkout/")
    assert "no-store" not in response.get("Cache-Control", "")
