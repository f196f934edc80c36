"""The refunds list: filters, sort, htmx partial, CSV, bounded queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Refund
from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db
URL = reverse("backoffice:refunds")


def _ids(response) -> list[int]:
    return [row.record.pk for row in response.context["table"].page.object_list]


@pytest.fixture
def rows(finance_user):
    eur = factories.payment(factories.order(total="100.00"))
    jpy = factories.payment(factories.order(total="5000", currency="JPY"))
    made = {
        "dup": factories.refund(eur, amount="10.00", reason="duplicate", created_by=finance_user),
        "fraud": factories.refund(eur, amount="40.00", reason="fraudulent"),
        "failed": factories.refund(jpy, amount="1000", reason="other", status=Refund.Status.FAILED),
    }
    Refund.objects.filter(pk=made["fraud"].pk).update(
        created_at=timezone.now() - dt.timedelta(days=10)
    )
    return made


def test_full_page_and_htmx_partial(finance: Client, rows):
    page = finance.get(URL)
    assert page.status_code == 200
    assert b'id="filters"' in page.content
    assert b"JPY 1,000" in page.content
    partial = finance.get(URL, **HTMX).content.decode()
    assert partial.lstrip().startswith('<section id="table"')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "failed"}, ["failed"]),
        ({"reason": "fraudulent"}, ["fraud"]),
        ({"amount_min": "20", "amount_max": "100"}, ["fraud"]),
        ({"created_from": str(timezone.localdate() - dt.timedelta(days=1))}, ["dup", "failed"]),
        ({"created_to": str(timezone.localdate() - dt.timedelta(days=5))}, ["fraud"]),
    ],
)
def test_it_filters(finance: Client, rows, query, expected):
    assert sorted(_ids(finance.get(URL, query))) == sorted(rows[k].pk for k in expected)


def test_it_filters_by_who_refunded(finance: Client, finance_user, rows):
    response = finance.get(URL, {"created_by": finance_user.pk})
    assert _ids(response) == [rows["dup"].pk]
    assert f'<option value="{finance_user.pk}" selected>fiona</option>' in response.content.decode()


def _offered(response) -> list[str]:
    field = response.context["filter"].form["created_by"]
    return [label for value, label in field.field.choices if value != ""]


def test_the_created_by_filter_offers_exactly_those_who_may_refund(finance: Client, finance_user):
    """Superusers, Finance, a direct grant; not Support, not customers. The people are read on
    every page (a grant shows at once), and a customer's id is no choice (a 400)."""
    from django.contrib.auth.models import Permission

    factories.user("root", is_superuser=True, is_staff=True)
    factories.user("sam", group="Support")
    customer = factories.user("cathy")
    direct = factories.user("dana")
    direct.user_permissions.add(Permission.objects.get(codename="add_refund"))
    assert _offered(finance.get(URL)) == ["dana", "fiona", "root"]
    factories.user("gina", group="Finance")
    assert _offered(finance.get(URL)) == ["dana", "fiona", "gina", "root"]
    assert finance.get(URL, {"created_by": customer.pk}).status_code == 400


def test_it_sorts_by_amount(finance: Client, rows):
    ids = _ids(finance.get(URL, {"sort": "-amount"}))
    assert ids == [rows["failed"].pk, rows["fraud"].pk, rows["dup"].pk]


def test_csv(finance: Client, rows):
    response = finance.get(reverse("backoffice:refunds_csv"), {"reason": "duplicate"})
    body = b"".join(response.streaming_content).decode()
    (row,) = csv.DictReader(io.StringIO(body))
    assert row["refund_id"] == str(rows["dup"].pk)
    assert (row["amount"], row["currency"], row["created_by"]) == ("10.00", "EUR", "fiona")


def test_queries_stay_constant(finance: Client, finance_user, django_assert_max_num_queries):
    for _ in range(40):
        p = factories.payment()
        factories.refund(p, amount="1.00", created_by=finance_user)
    # session, user with permissions (one query), the created-by choices, the count and totals,
    # the page.
    with django_assert_max_num_queries(6):
        response = finance.get(URL)
    assert len(_ids(response)) == 25


def test_a_filter_whose_first_page_holds_every_match_is_summed_from_its_rows(finance: Client, rows):
    """The failed refunds (one page, no next): their count and totals, in the payments'
    currencies, come from the page's rows without a count or sum query."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments import list_counts

    with CaptureQueriesContext(connection) as ctx:
        response = finance.get(URL, {"status": "failed"})
    assert not [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert not [q for q in ctx.captured_queries if "SUM(" in q["sql"].upper()]
    summary = response.context["summary"]
    assert summary == list_counts.list_summary(
        Refund.objects.filter(status=Refund.Status.FAILED), currency_field="payment__currency"
    )
    assert [(t.currency, t.amount, t.count) for t in summary.totals] == [("JPY", Decimal(1000), 1)]
    assert "<strong>1</strong> refund" in response.content.decode()
