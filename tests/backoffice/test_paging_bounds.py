"""A page or per_page the lists do not serve is a 400 saying so, never a database error."""

from __future__ import annotations

import pytest
from django.test import Client

from payments.models import Payment
from tests import factories

pytestmark = pytest.mark.django_db

LISTS = ["/backoffice/payments/", "/backoffice/refunds/", "/backoffice/webhooks/"]


@pytest.fixture
def payments():
    return [factories.payment() for _ in range(3)]


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    "query, message",
    [
        ("page=99999999999999999999", "Page must be a whole number from 1 to 100,000."),
        ("page=100001", "Page must be a whole number from 1 to 100,000."),
        ("page=0", "Page must be a whole number from 1 to 100,000."),
        ("page=-1", "Page must be a whole number from 1 to 100,000."),
        ("page=%D9%A0", "Page must be a whole number from 1 to 100,000."),  # an Arabic 0
        ("per_page=101", "Rows per page must be a whole number from 1 to 100."),
        ("per_page=100000000000000000000000", "Rows per page must be a whole number"),
        ("per_page=0", "Rows per page must be a whole number from 1 to 100."),
        ("per_page=-5", "Rows per page must be a whole number from 1 to 100."),
        ("per_page=+101", "Rows per page must be a whole number from 1 to 100."),
    ],
)
def test_out_of_bounds_paging_is_a_400_with_the_reason(
    finance: Client, payments, url, query, message
):
    response = finance.get(f"{url}?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_table_partial_says_it_too(finance: Client, payments):
    response = finance.get(
        "/backoffice/payments/?page=99999999999999999999", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "Page must be a whole number" in response.content.decode()


def test_pages_within_bounds_still_work(finance: Client, payments):
    assert finance.get("/backoffice/payments/?per_page=100").status_code == 200
    two = finance.get("/backoffice/payments/?per_page=2")
    assert two.status_code == 200
    assert two.content.decode().count("/backoffice/payments/") >= 2
    assert finance.get("/backoffice/payments/?page=100000").status_code == 200  # past the end
    assert finance.get("/backoffice/payments/?per_page=1&page=2").status_code == 200
    # What is not a number at all is the first page, as ever.
    assert finance.get("/backoffice/payments/?page=x&per_page=many").status_code == 200
    assert Payment.objects.count() == 3
