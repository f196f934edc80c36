"""The API lists page with `page` and `per_page` (at most 100); anything else is a 400. (The
payment and refund lists page by cursor instead, and refuse any `page`: test_api_payment_cursor,
test_api_refund_cursor.)"""

from __future__ import annotations

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

LISTS = ["/api/payments/payments/", "/api/payments/refunds/", "/api/shop/orders/"]


@pytest.fixture
def finance():
    return factories.api_client(factories.user("fiona", group="Finance"))


@pytest.mark.parametrize("url", LISTS)
@pytest.mark.parametrize(
    "query, field",
    [
        ("page=99999999999999999999", "page"),
        ("page=100001", "page"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("page=last", "page"),
        ("per_page=101", "per_page"),
        ("per_page=99999999999999999999", "per_page"),
        ("per_page=0", "per_page"),
        ("per_page=-5", "per_page"),
    ],
)
def test_out_of_bounds_paging_is_a_400_naming_the_parameter(finance, url, query, field):
    response = finance.get(f"{url}?{query}")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["fields"]) == [field]


def test_per_page_up_to_100_pages_the_list():
    alice = factories.user("alice")
    for _ in range(3):
        factories.order(alice)
    api = factories.api_client(alice)
    body = api.get("/api/shop/orders/?per_page=2").json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert "per_page=2" in body["next"] and "page=2" in body["next"]
    assert len(api.get("/api/shop/orders/?per_page=100").json()["results"]) == 3
    # Past the last page (within bounds) stays DRF's 404.
    assert api.get("/api/shop/orders/?page=3&per_page=2").status_code == 404


def test_the_schema_states_the_bounds(client):
    schema = client.get("/api/schema/?format=json").json()
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/shop/orders/"]["get"]["parameters"]
    }
    assert parameters["page"] == {"type": "integer", "minimum": 1, "maximum": 100000}
    assert parameters["per_page"] == {"type": "integer", "minimum": 1, "maximum": 100}
