"""The API's refund list pages by cursor like the payment list (newest first by created_at, then
id, no count), for staff and customers alike; a cursor of another list, or a page number, is a
400 naming it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.models import Refund
from tests import factories
from tests.payments.cursor_helpers import newest_first, walk

pytestmark = pytest.mark.django_db

URL = "/api/payments/refunds/"


@pytest.fixture
def finance():
    return factories.api_client(factories.user("fiona", group="Finance"))


def _refunds(count, *, owner=None, same_instant_every=1):
    """`count` refunds of one payment, a minute apart, in groups sharing one instant."""
    payment = factories.payment(factories.order(owner) if owner else None, status="succeeded")
    start = timezone.now() - timedelta(days=1)
    made = []
    for n in range(count):
        refund = factories.refund(payment, amount="1.00")
        at = start + timedelta(minutes=n // same_instant_every)
        Refund.objects.filter(pk=refund.pk).update(created_at=at)
        made.append(refund.pk)
    return made


def _newest_first(ids):
    return newest_first(Refund, ids)


def test_staff_visit_every_refund_once_newest_first_and_come_back(finance):
    ids = _refunds(7, same_instant_every=3)
    pages = walk(finance, f"{URL}?per_page=3")
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert [r["id"] for p in pages for r in p["results"]] == _newest_first(ids)
    assert set(pages[0]) == {"next", "previous", "results"}  # no count
    back = walk(finance, pages[-1]["previous"], direction="previous")
    assert [[r["id"] for r in p["results"]] for p in back] == [
        [r["id"] for r in p["results"]] for p in pages[-2::-1]
    ]


def test_a_customer_pages_through_their_own_refunds_only_in_their_shape():
    alice = factories.user("alice")
    mine = _refunds(3, owner=alice)
    _refunds(2)  # another customer's
    pages = walk(factories.api_client(alice), f"{URL}?per_page=2")
    assert [r["id"] for p in pages for r in p["results"]] == _newest_first(mine)
    assert all("failure_reason" not in r for p in pages for r in p["results"])


def test_a_deep_page_costs_what_the_first_does_and_nothing_is_counted(finance):
    _refunds(6)
    finance.get(f"{URL}?per_page=2")  # the session and permission caches, warmed
    with CaptureQueriesContext(connection) as on_first:
        first = finance.get(f"{URL}?per_page=2")
    third_page = finance.get(first.json()["next"]).json()["next"]
    with CaptureQueriesContext(connection) as deeper:
        last = finance.get(third_page)
    assert len(last.json()["results"]) == 2 and last.json()["next"] is None
    assert len(deeper) == len(on_first)
    assert not [
        q for q in on_first.captured_queries + deeper.captured_queries if "COUNT(" in q["sql"]
    ]


def test_the_payment_lists_cursor_is_not_one_of_this_list(finance):
    _refunds(2)
    factories.payment()
    factories.payment()
    payments_next = finance.get("/api/payments/payments/?per_page=1").json()["next"]
    cursor = payments_next.split("cursor=")[1].split("&")[0]
    response = finance.get(URL, {"cursor": cursor})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["cursor"]


def test_a_page_number_is_a_400_pointing_to_the_cursor(finance):
    response = finance.get(URL, {"page": 1})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]["page"][0]


def test_the_schema_documents_the_cursor(client):
    operation = client.get("/api/schema/?format=json").json()["paths"][URL]["get"]
    parameters = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert "page" not in parameters
    assert parameters["cursor"] == {"type": "string"}
    assert parameters["per_page"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert "cursor" in operation["responses"]["400"]["description"]
    assert "no count" in operation["description"]


def test_a_payment_cursor_from_before_cursors_were_signed_per_list_still_pages_payments(finance):
    from django.core import signing

    from payments.api.pagination import NewestFirstCursorPagination
    from payments.models import Payment

    ids = [factories.payment().pk for _ in range(3)]
    newest = Payment.objects.order_by("-created_at", "-id").first()
    legacy = signing.dumps(
        [newest.created_at.isoformat(), newest.pk, "n"], salt=NewestFirstCursorPagination.salt
    )
    response = finance.get("/api/payments/payments/", {"cursor": legacy})
    assert response.status_code == 200
    assert newest.pk not in [r["id"] for r in response.json()["results"]]
    assert len(response.json()["results"]) == len(ids) - 1
    # The refund list never issued such a cursor.
    assert finance.get(URL, {"cursor": legacy}).status_code == 400
