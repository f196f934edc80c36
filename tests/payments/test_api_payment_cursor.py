"""The API's payment list pages by cursor, newest first by (created_at, id): the same at any
depth, with no count, for staff and customers alike; a cursor it did not issue is a 400."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from payments.api.pagination import NewestFirstCursorPagination
from payments.models import Payment
from tests import factories
from tests.payments.cursor_helpers import newest_first, walk

pytestmark = pytest.mark.django_db

URL = "/api/payments/payments/"


@pytest.fixture
def finance():
    return factories.api_client(factories.user("fiona", group="Finance"))


def _payments(count, *, same_instant_every=1, owner=None, **fields):
    """`count` payments, created a minute apart, in groups sharing one instant (ties by id)."""
    start = timezone.now() - timedelta(days=1)
    made = []
    for n in range(count):
        payment = factories.payment(factories.order(owner) if owner else None, **fields)
        at = start + timedelta(minutes=n // same_instant_every)
        Payment.objects.filter(pk=payment.pk).update(created_at=at)
        made.append(payment.pk)
    return made


def _newest_first(ids):
    return newest_first(Payment, ids)


def test_following_next_visits_every_payment_once_newest_first(finance):
    ids = _payments(7, same_instant_every=3)  # ties on created_at are ordered by id
    pages = walk(finance, f"{URL}?per_page=2")
    assert [len(p["results"]) for p in pages] == [2, 2, 2, 1]
    assert [r["id"] for p in pages for r in p["results"]] == _newest_first(ids)
    assert set(pages[0]) == {"next", "previous", "results"}  # no count
    assert pages[0]["previous"] is None and pages[-1]["next"] is None
    assert all("per_page=2" in p["next"] for p in pages[:-1])


def test_following_previous_comes_back_through_the_same_pages(finance):
    _payments(7, same_instant_every=2)
    forward = walk(finance, f"{URL}?per_page=3")
    backward = walk(finance, forward[-1]["previous"], direction="previous")
    seen = [[r["id"] for r in p["results"]] for p in forward]
    assert [[r["id"] for r in p["results"]] for p in backward] == seen[-2::-1]
    assert backward[-1]["previous"] is None and backward[-1]["next"] is not None


def test_filters_keep_working_across_pages(finance):
    succeeded = _payments(5, status="succeeded")
    _payments(4, status="failed")
    pages = walk(finance, f"{URL}?status=succeeded&per_page=2")
    assert [r["id"] for p in pages for r in p["results"]] == _newest_first(succeeded)
    assert all("status=succeeded" in p["next"] for p in pages[:-1])
    cutoff = Payment.objects.get(pk=succeeded[2]).created_at.isoformat()
    query = urlencode({"status": "succeeded", "per_page": 1, "created_after": cutoff})
    newer = walk(finance, f"{URL}?{query}")
    assert [r["id"] for p in newer for r in p["results"]] == _newest_first(succeeded[2:])


def test_a_customer_pages_through_their_own_payments_only(finance):
    alice = factories.user("alice")
    mine = _payments(3, owner=alice)
    _payments(3)  # other customers'
    pages = walk(factories.api_client(alice), f"{URL}?per_page=2")
    assert [r["id"] for p in pages for r in p["results"]] == _newest_first(mine)


def test_a_deep_page_costs_the_same_queries_as_the_first_and_counts_nothing(finance):
    _payments(6)
    finance.get(f"{URL}?per_page=2")  # the session and permission caches, warmed
    with CaptureQueriesContext(connection) as on_first:
        first = finance.get(f"{URL}?per_page=2")
    third_page = finance.get(first.json()["next"]).json()["next"]
    with CaptureQueriesContext(connection) as deeper:
        last = finance.get(third_page)
    assert len(last.json()["results"]) == 2
    assert len(deeper) == len(on_first)
    assert not [
        q
        for q in on_first.captured_queries + deeper.captured_queries
        if "COUNT(" in q["sql"].upper()
    ]


def _signed(value):
    """Signed as this list signs its cursors, so that what is checked is what they hold."""
    return signing.dumps(value, salt=f"{NewestFirstCursorPagination.salt}:payment")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "%00",
        "W1siMjAyNiJdXQ:1t2x3y:forged-signature",
        _signed(["2026-12-02T10:00:00+00:00", 1, "x"]),
        _signed(["2026-12-02T10:00:00", 1, "n"]),  # no time zone
        _signed(["not a date", 1, "n"]),
        _signed(["2026-12-02T10:00:00+00:00", 2**63, "n"]),
        _signed(["2026-12-02T10:00:00+00:00", "1e999", "n"]),
        _signed({"created": "2026-12-02"}),
        _signed(["2026-12-02T10:00:00+00:00", 1]),
        _signed([None, None, None]),
    ],
)
def test_a_cursor_it_did_not_issue_is_a_400_naming_it(finance, cursor):
    factories.payment()
    response = finance.get(URL, {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert list(response.json()["error"]["fields"]) == ["cursor"]


def test_a_well_formed_cursor_signed_as_the_list_signs_is_followed(finance):
    ids = _payments(3)
    newest = Payment.objects.get(pk=_newest_first(ids)[0])
    cursor = _signed([newest.created_at.isoformat(), newest.pk, "n"])
    response = finance.get(URL, {"cursor": cursor})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == _newest_first(ids)[1:]


def test_a_tampered_cursor_is_a_400(finance):
    _payments(3)
    link = finance.get(f"{URL}?per_page=1").json()["next"]
    token = link.split("cursor=")[1].split("&")[0]
    tampered = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    response = finance.get(URL, {"cursor": tampered, "per_page": 1})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["cursor"]


def test_a_page_number_is_a_400_pointing_to_the_cursor(finance):
    response = finance.get(URL, {"page": 2})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]["page"][0]


def test_the_schema_documents_the_cursor_and_the_page_shape(client):
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"][URL]["get"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert "page" not in parameters
    assert parameters["cursor"]["schema"] == {"type": "string"}
    assert parameters["per_page"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert sorted(page["properties"]) == ["next", "previous", "results"]
    assert page["properties"]["results"]["items"] == {"$ref": "#/components/schemas/Payment"}


def test_the_schema_says_a_bad_cursor_is_a_400(client):
    operation = client.get("/api/schema/?format=json").json()["paths"][URL]["get"]
    assert "cursor" in operation["responses"]["400"]["description"]
    assert "cursor" in operation["description"] and "no count" in operation["description"]
