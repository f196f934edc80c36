"""The payments list: filters, search, sort, pages, htmx partial, CSV, and bounded queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Payment
from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db
URL = reverse("backoffice:payments")


def _pay(total="10.00", currency="EUR", *, email=None, days_ago=0, **fields) -> Payment:
    owner = factories.user(email=email) if email else None
    p = factories.payment(factories.order(owner, total=total, currency=currency), **fields)
    if days_ago:
        Payment.objects.filter(pk=p.pk).update(
            created_at=timezone.now() - dt.timedelta(days=days_ago)
        )
    return p


def _ids(response) -> list[int]:
    return [row.record.pk for row in response.context["table"].page.object_list]


def test_it_shows_the_whole_page(finance: Client):
    p = _pay("99.99", card_brand="visa", card_last4="4242")
    response = finance.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html
    assert 'id="filters"' in html
    assert f'href="/backoffice/payments/{p.pk}/"' in html
    assert "EUR 99.99" in html
    assert response["Vary"].count("HX-Request") == 1


def test_htmx_gets_only_the_table(finance: Client):
    _pay("99.99")
    response = finance.get(URL, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="table"')
    assert "<html" not in html
    assert 'id="filters"' not in html
    assert "EUR 99.99" in html


def test_every_filter_field_is_labelled(finance: Client):
    html = finance.get(URL).content.decode()
    for name in ["q", "status", "currency", "method", "created_from", "created_to"]:
        assert f'<label for="id_{name}">' in html
    for name in ["amount_min", "amount_max"]:
        assert f'<label for="id_{name}">' in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "failed"}, ["failed"]),
        ({"currency": "JPY"}, ["jpy"]),
        ({"method": "wallet"}, ["wallet"]),
        ({"amount_min": "50", "amount_max": "150"}, ["hundred"]),
        ({"created_from": "", "created_to": ""}, ["failed", "jpy", "wallet", "hundred", "old"]),
    ],
)
def test_it_filters(finance: Client, query, expected):
    made = {
        "failed": _pay("1.00", status=Payment.Status.FAILED),
        "jpy": _pay("500", "JPY"),
        "wallet": _pay("2.00", payment_method=Payment.Method.WALLET),
        "hundred": _pay("100.00"),
        "old": _pay("3.00", days_ago=40),
    }
    response = finance.get(URL, query)
    assert response.status_code == 200
    assert sorted(_ids(response)) == sorted(made[k].pk for k in expected)


def test_it_filters_by_date_range_in_whole_days(finance: Client):
    old = _pay(days_ago=40)
    recent = _pay(days_ago=2)
    today = timezone.localdate()
    response = finance.get(URL, {"created_from": str(today - dt.timedelta(days=3))})
    assert _ids(response) == [recent.pk]
    response = finance.get(URL, {"created_to": str(today - dt.timedelta(days=40))})
    assert _ids(response) == [old.pk]


@pytest.mark.parametrize(
    "query",
    [{"status": "nonsense"}, {"amount_min": "abc"}, {"created_from": "31/12/2024"}],
)
def test_a_bad_filter_is_a_400_with_the_reason(finance: Client, query):
    _pay()
    response = finance.get(URL, query)
    assert response.status_code == 400
    assert _ids(response) == []
    assert b"These filters are not valid" in response.content


class TestSearch:
    @pytest.fixture
    def rows(self):
        return {
            "a": _pay(
                email="Alice@Example.com",
                stripe_payment_intent_id="pi_ALICE",
                stripe_charge_id="ch_ALICE",
            ),
            "b": _pay(email="bob@example.com", stripe_payment_intent_id="pi_BOB"),
        }

    @pytest.mark.parametrize(
        ("term", "who"),
        [
            ("pi_ALICE", "a"),
            ("  pi_BOB ", "b"),
            ("ch_ALICE", "a"),
            ("alice@example.com", "a"),
            ("BOB@EXAMPLE.COM", "b"),
        ],
    )
    def test_it_finds_by_stripe_id_and_email(self, finance: Client, rows, term, who):
        assert _ids(finance.get(URL, {"q": term})) == [rows[who].pk]

    def test_it_finds_by_order_number_with_or_without_hash(self, finance: Client, rows):
        order_id = rows["b"].order_id
        assert _ids(finance.get(URL, {"q": str(order_id)})) == [rows["b"].pk]
        assert _ids(finance.get(URL, {"q": f"#{order_id}"})) == [rows["b"].pk]

    def test_no_match_says_so(self, finance: Client, rows):
        response = finance.get(URL, {"q": "pi_nobody"})
        assert _ids(response) == []
        assert b"No payments match these filters." in response.content

    def test_search_combines_with_filters(self, finance: Client, rows):
        response = finance.get(URL, {"q": "pi_ALICE", "status": "failed"})
        assert _ids(response) == []


def test_it_sorts_newest_first_by_default_and_by_amount_on_request(finance: Client):
    small = _pay("5.00", days_ago=3)
    big = _pay("500.00", days_ago=2)
    mid = _pay("50.00", days_ago=1)
    assert _ids(finance.get(URL)) == [mid.pk, big.pk, small.pk]
    assert _ids(finance.get(URL, {"sort": "created_at"})) == [small.pk, big.pk, mid.pk]
    assert _ids(finance.get(URL, {"sort": "amount"})) == [small.pk, mid.pk, big.pk]
    assert _ids(finance.get(URL, {"sort": "-amount"})) == [big.pk, mid.pk, small.pk]


def test_only_indexed_columns_sort(finance: Client):
    _pay()
    html = finance.get(URL).content.decode()
    assert "?sort=-created_at" in html or "?sort=created_at" in html
    assert "?sort=amount" in html
    assert "?sort=status" in html  # (status, created_at) is an index
    assert "?sort=customer" in html
    # An unknown sort is ignored, not an error.
    assert finance.get(URL, {"sort": "user__password"}).status_code == 200


def test_sort_links_keep_filters_and_go_back_to_the_first_page(finance: Client):
    _pay()
    html = finance.get(URL, {"status": "succeeded", "page": "1"}).content.decode()
    assert 'href="?status=succeeded&amp;sort=amount"' in html


def test_it_pages_without_counting(finance: Client):
    made = [_pay(days_ago=i + 1) for i in range(30)]  # newest first: made[0] .. made[29]
    first = finance.get(URL, {"status": "succeeded"})
    assert _ids(first) == [p.pk for p in made[:25]]
    html = first.content.decode()
    assert "?status=succeeded&amp;page=2" in html
    assert "Page 1" in html
    second = finance.get(URL, {"status": "succeeded", "page": "2"}, **HTMX)
    assert _ids(second) == [p.pk for p in made[25:]]
    assert 'rel="next"' not in second.content.decode()
    assert 'rel="prev"' in second.content.decode()


@pytest.mark.parametrize("sort", ["", "-amount", "amount", "customer", "status", "-created_at"])
def test_a_deeper_page_is_a_deferred_join_with_the_rows_an_offset_gives(finance: Client, sort):
    """Page 2 and on: the page's ids are picked from the ordering alone, then only those rows
    are read with their customers; the rows and their order are the plain OFFSET's."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from backoffice.tables import PaymentTable
    from backoffice.views.common import ordered
    from payments import selectors

    for i in range(60):
        _pay(f"{(i * 7) % 13 + 1}.00", email=f"c{i % 9}@example.com", days_ago=i % 4)
    expected = [p.pk for p in ordered(PaymentTable, selectors.payment_list(), sort)[25:50]]
    with CaptureQueriesContext(connection) as ctx:
        second = finance.get(URL, {"page": "2", "sort": sort})
    assert _ids(second) == expected
    (page_query,) = [
        q["sql"]
        for q in ctx.captured_queries
        if "payments_payment" in q["sql"] and " IN (SELECT" in q["sql"]
    ]
    assert "OFFSET 25" in page_query


def test_a_page_past_the_end_or_not_a_number_does_not_fail(finance: Client):
    _pay()
    assert finance.get(URL, {"page": "99"}).status_code == 200
    assert finance.get(URL, {"page": "x"}).status_code == 200


def test_the_current_sort_rides_along_with_the_filter_form(finance: Client):
    html = finance.get(URL, {"sort": "-amount"}).content.decode()
    assert '<input type="hidden" form="filters" name="sort" value="-amount">' in html


def test_a_filtered_view_is_a_url_htmx_pushes(finance: Client):
    html = finance.get(URL).content.decode()
    assert 'hx-push-url="true"' in html
    assert 'hx-get="/backoffice/payments/"' in html
    assert 'action="/backoffice/payments/"' in html


def test_queries_stay_constant_with_many_rows(finance: Client, django_assert_max_num_queries):
    for i in range(60):
        _pay(f"{i + 1}.00", card_brand="visa", card_last4="4242")
    # session, user with permissions (one query), the currencies (cached), the count and the
    # totals, the page: whatever the number of rows.
    with django_assert_max_num_queries(6):
        response = finance.get(URL)
    assert len(_ids(response)) == 25
    with django_assert_max_num_queries(7):
        finance.get(URL, {"q": "someone@example.com", "sort": "-amount", "page": "2"})


def test_no_count_of_the_whole_table(finance: Client, monkeypatch):
    """Counted up to a cap (a LIMITed subquery), and totalled only below it: at a million rows
    the page never counts or sums the table."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments import list_counts

    monkeypatch.setattr(list_counts, "SUMMARY_CAP", 2)
    for _ in range(3):
        _pay()
    with CaptureQueriesContext(connection) as ctx:
        response = finance.get(URL)
    counting = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counting) == 1 and "LIMIT 3" in counting[0].upper(), counting
    summing = [q["sql"] for q in ctx.captured_queries if "SUM(" in q["sql"].upper()]
    if connection.vendor == "postgresql":
        # The count's statement carries the sums, behind its test: past the cap they never run.
        assert summing == counting
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + counting[0])
            plan = cursor.fetchone()[0]
        assert _tables_read(plan if isinstance(plan, list) else json.loads(plan)) == [
            "payments_payment"
        ]  # once: by the count
    else:
        assert not summing
    summary = response.context["summary"]
    assert not summary.exact and summary.totals == []


def _tables_read(plan) -> list[str]:
    """The tables an EXPLAIN ANALYZE's plan read, once a scan that ran (never executed: none)."""
    found = []

    def walk(node):
        if node.get("Relation Name") and node.get("Actual Loops", 0) > 0:
            found.append(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.mark.parametrize("filters", [{}, {"currency": "EUR"}, {"status": "succeeded"}])
def test_a_list_counted_past_the_cap_is_not_counted_again_for_a_minute(
    finance: Client, monkeypatch, filters
):
    """Once a list's rows were counted past the cap, the same filters' pages in the next minute
    show the summary they got (an estimate, or "more than" on SQLite) without counting again;
    other filters are counted; after the minute the list is counted again, and a list that has
    dropped below the cap gets its exact count and totals. (One row a page: a first page that
    holds every match is summed from its rows, memo or not.)"""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments import list_counts

    monkeypatch.setattr(list_counts, "SUMMARY_CAP", 2)
    monkeypatch.setattr(list_counts, "_beyond_cap", type(list_counts._beyond_cap)())
    payments = [_pay() for _ in range(3)]

    def counts(params):
        with CaptureQueriesContext(connection) as ctx:
            summary = finance.get(URL, {**params, "per_page": "1"}).context["summary"]
        return summary, [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]

    first, counted = counts(filters)
    assert counted and not first.exact
    again, counted = counts(filters)
    assert not counted and again == first
    _, counted = counts({**filters, "method": "card"})
    assert counted  # other filters: counted

    Payment.objects.filter(pk=payments[0].pk).delete()  # now at the cap: exact once counted
    assert counts(filters)[0] == first  # within the minute: what it said
    for key, (summary, _) in list(list_counts._beyond_cap.items()):
        list_counts._beyond_cap[key] = (summary, time.monotonic() - 1)  # the minute is over
    later, counted = counts(filters)
    assert counted and later.exact and later.count == 2 and later.totals


@pytest.mark.parametrize("by", ["order", "pi"])
def test_a_first_page_that_holds_every_match_is_summed_from_its_rows(finance: Client, by):
    """A search by order or PaymentIntent (one page, no next): the count and totals come from
    the page's rows, with no count or sum query, and say what the database would."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from payments import list_counts

    found = _pay("97.010", "KWD", amount_refunded=Decimal("12.345"))
    _pay("10.00")
    term = found.order_id if by == "order" else found.stripe_payment_intent_id
    finance.get(URL)  # the currency filter's choices, cached for minutes
    with CaptureQueriesContext(connection) as ctx:
        response = finance.get(URL, {"q": term})
    sql = [q["sql"].upper() for q in ctx.captured_queries]
    assert not [q for q in sql if "COUNT(" in q or "SUM(" in q], sql
    assert len(sql) == 3  # session, user with permissions, the page
    summary = response.context["summary"]
    assert summary == list_counts.list_summary(
        Payment.objects.filter(pk=found.pk),
        currency_field="currency",
        refunded_field="amount_refunded",
    )
    assert (summary.count, summary.totals[0].amount) == (1, Decimal("97.010"))
    assert "KWD 97.010" in response.content.decode()
    assert "KWD 12.345" in response.content.decode()


def test_a_first_page_with_more_after_it_or_a_later_page_is_counted_by_the_database(
    finance: Client,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for i in range(3):
        _pay(f"{i + 1}.00")
    for params in ({"per_page": "2"}, {"per_page": "2", "page": "2"}):
        with CaptureQueriesContext(connection) as ctx:
            summary = finance.get(URL, params).context["summary"]
        assert [q for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()], params
        assert (summary.count, summary.totals[0].amount) == (3, Decimal("6.00")), params


def test_the_lists_remembered_past_the_cap_are_bounded(monkeypatch):
    from payments import list_counts

    monkeypatch.setattr(list_counts, "BEYOND_CAP_LISTS", 3)
    monkeypatch.setattr(list_counts, "_beyond_cap", type(list_counts._beyond_cap)())
    summary = list_counts.ListSummary(count=20_000, exact=False, estimated=True)
    for n in range(5):
        list_counts._remember_beyond_cap((f"SELECT {n}", ()), summary)
    assert [k[0] for k in list_counts._beyond_cap] == ["SELECT 2", "SELECT 3", "SELECT 4"]


def test_the_list_says_how_many_and_how_much_per_currency(finance: Client):
    _pay("10.00")
    _pay("5.50")
    _pay("3000", "JPY")
    response = finance.get(URL)
    text = response.content.decode()
    assert response.context["summary"].count == 3
    assert "<strong>3</strong> payments" in text
    assert "EUR 15.50" in text and "JPY 3,000" in text
    filtered = finance.get(URL, {"currency": "JPY"}).context["summary"]
    assert (filtered.count, [t.currency for t in filtered.totals]) == (1, ["JPY"])


def test_the_currency_filter_lists_the_currencies_in_use(finance: Client):
    _pay("10.00")
    _pay("3000", "JPY")
    choices = [c for c, _ in finance.get(URL).context["filter"].form.fields["currency"].choices]
    assert choices == ["", "EUR", "JPY"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"amount_min": "abc"}, "Min amount", "Enter a number"),
        ({"created_from": "2026-05-02", "created_to": "2026-05-01"}, "To", "must be on or after"),
        ({"amount_min": "20", "amount_max": "10"}, "Max amount", "must be at least Min amount"),
    ],
)
def test_filter_errors_name_the_field_as_shown(finance: Client, params, field, message):
    _pay()
    response = finance.get(URL, params)
    assert response.status_code == 400
    text = response.content.decode()
    assert f">{field}</a>: " in text and message in text
    assert "has-error" in text  # and the field is marked


class TestCsv:
    URL = reverse("backoffice:payments_csv")

    def _rows(self, response) -> list[dict]:
        assert response.streaming
        body = b"".join(response.streaming_content).decode()
        return list(csv.DictReader(io.StringIO(body)))

    def test_it_exports_the_current_filter_in_order(self, finance: Client):
        a = _pay("12.50", email="a@example.com", card_brand="visa", card_last4="4242", days_ago=2)
        b = _pay("1000", "JPY", days_ago=1)
        _pay("7.00", status=Payment.Status.FAILED)
        response = finance.get(self.URL, {"status": "succeeded", "sort": "amount"})
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="payments-')
        rows = self._rows(response)
        assert [int(r["payment_id"]) for r in rows] == [a.pk, b.pk]
        assert rows[0]["amount"] == "12.50"
        assert rows[0]["currency"] == "EUR"
        assert rows[0]["customer_email"] == "a@example.com"
        assert rows[0]["card_last4"] == "4242"
        assert rows[0]["order_id"] == str(a.order_id)
        assert rows[1]["amount"] == "1000"
        assert rows[1]["amount_refunded"] == "0"

    def test_formulas_are_defused(self, finance: Client):
        _pay(email="=cmd@example.com")
        rows = self._rows(finance.get(self.URL))
        assert rows[0]["customer_email"] == "'=cmd@example.com"

    def test_the_export_link_carries_the_filter_but_not_the_page(self, finance: Client):
        html = finance.get(URL, {"status": "failed", "page": "1"}).content.decode()
        assert 'href="/backoffice/payments/export.csv?status=failed"' in html

    def test_a_bad_filter_is_a_400(self, finance: Client):
        assert finance.get(self.URL, {"currency": "XXX"}).status_code == 400

    def test_it_streams_with_few_queries(self, finance: Client, django_assert_max_num_queries):
        for _ in range(30):
            _pay()
        with django_assert_max_num_queries(6):
            rows = self._rows(finance.get(self.URL))
        assert len(rows) == 30


def test_amounts_use_the_currency_precision(finance: Client):
    _pay("12.340", "KWD")
    _pay("1500", "JPY")
    html = finance.get(URL).content.decode()
    assert "KWD 12.340" in html
    assert "JPY 1,500" in html


def test_amount_sorts_within_each_currency_and_status_sorts_too(finance: Client):
    a = _pay("30.00")
    b = _pay("5.00")
    c = _pay("1000", "JPY")
    d = _pay("20.00", status="failed")
    by_amount = _ids(finance.get(URL, {"sort": "amount"}))
    assert by_amount == [b.pk, d.pk, a.pk, c.pk]  # EUR 5, 20, 30, then JPY: never 1000 < 5
    by_status = _ids(finance.get(URL, {"sort": "status"}))
    assert by_status[0] == d.pk  # failed before succeeded
    assert _ids(finance.get(URL, {"sort": "-status"}))[-1] == d.pk


def test_search_finds_partial_input(finance: Client):
    dora = factories.user(
        "dora", email="Dora.Explorer@example.com", first_name="Dora", last_name="Márquez"
    )
    mine = factories.payment(
        factories.order(dora), stripe_payment_intent_id="pi_3MabcDEF", stripe_charge_id="ch_3Mxyz"
    )
    other = _pay(email="someone@else.org")
    factories.refund(mine, amount="1.00", stripe_refund_id="re_3Mref")
    for term in [
        "explorer",
        "DORA.EX",
        "márquez",
        "pi_3Mab",
        "ch_3M",
        "re_3M",
        f"#{mine.order_id}",
    ]:
        assert _ids(finance.get(URL, {"q": term})) == [mine.pk], term
    assert _ids(finance.get(URL, {"q": "else.org"})) == [other.pk]
    assert _ids(finance.get(URL, {"q": "pi_3Mx"})) == []  # a prefix, not anywhere in the id


@pytest.mark.parametrize("per_page", ["25", "2"])
@pytest.mark.parametrize("ids_at_most", [500, 1])
def test_a_customer_search_finds_the_same_payments_with_ids_or_a_subquery(
    finance: Client, monkeypatch, ids_at_most, per_page
):
    """Matching customers are looked up once and passed on as ids, past SEARCH_CUSTOMER_IDS as a
    subquery: the same payments, count and totals either way (from the rows of a page that
    holds them all, or counted by the database: its LIKE patterns in the one statement of count
    and totals on PostgreSQL). A term with "@" searches emails."""
    from payments import selectors

    monkeypatch.setattr(selectors, "SEARCH_CUSTOMER_IDS", ids_at_most)
    ann = factories.user("ann", email="ann@shop.test", first_name="Ann")
    bo = factories.user("bo", email="bo.ann@shop.test", first_name="Bo")
    at = factories.user("at", email="x@other.test", last_name="ann@shop.test")  # not an email
    mine = [factories.payment(factories.order(u, total="5.00")) for u in (ann, bo, ann)]
    factories.payment(factories.order(at, total="9.00"))
    response = finance.get(URL, {"q": "ANN@shop.test", "per_page": per_page})
    ids = _ids(response)
    assert len(ids) == min(3, int(per_page)) and set(ids) <= {p.pk for p in mine}
    summary = response.context["summary"]
    assert summary.count == 3 and [(t.currency, t.amount) for t in summary.totals] == [
        ("EUR", Decimal("15.00"))
    ]
    assert len(_ids(finance.get(URL, {"q": "ann"}))) == 4  # without "@": the names too
    assert _ids(finance.get(URL, {"q": "nobody@shop.test"})) == []


class TestRefundsInTheList:
    """The Refunded column, the two refund badges, and the order cell (issue 13)."""

    def test_it_shows_what_was_refunded_in_the_currency_and_blank_when_nothing(
        self, finance: Client
    ):
        part = _pay("50.00", status=Payment.Status.PARTIALLY_REFUNDED, amount_refunded="7.50")
        whole = _pay("3000", "JPY", status=Payment.Status.REFUNDED, amount_refunded="3000")
        kept = _pay("20.00")
        response = finance.get(URL)
        html = response.content.decode()
        assert re.search(r'<th scope="col" class="num"\s*>\s*Refunded\s*</th>', html)
        cells = {
            row.record.pk: row.get_cell("amount_refunded")
            for row in response.context["table"].page.object_list
        }
        assert cells == {part.pk: "EUR 7.50", whole.pk: "JPY 3,000", kept.pk: ""}
        assert '<td class="num">EUR 7.50</td>' in html
        assert '<td class="num">JPY 3,000</td>' in html
        assert '<td class="num"></td>' in html  # the payment nothing went back from

    def test_partially_refunded_and_refunded_have_their_own_badges_and_colours(
        self, finance: Client
    ):
        _pay("50.00", status=Payment.Status.PARTIALLY_REFUNDED, amount_refunded="7.50")
        _pay("20.00", status=Payment.Status.REFUNDED, amount_refunded="20.00")
        html = finance.get(URL).content.decode()
        assert '<span class="badge badge-partially_refunded">Partially refunded</span>' in html
        assert '<span class="badge badge-refunded">Refunded</span>' in html
        css = (settings.BASE_DIR / "static" / "css" / "app.css").read_text()
        rules = dict(re.findall(r"^\.(badge-(?:partially_)?refunded) \{([^}]*)\}", css, re.M))
        assert set(rules) == {"badge-partially_refunded", "badge-refunded"}
        assert rules["badge-partially_refunded"] != rules["badge-refunded"]

    def test_the_order_links_to_its_payments_and_says_when_it_was_refunded_in_full(
        self, finance: Client
    ):
        order = factories.order(total="30.00")
        failed = factories.payment(order, status=Payment.Status.CANCELLED)
        refunded = factories.payment(
            order,
            status=Payment.Status.REFUNDED,
            amount_refunded=Decimal("30.00"),
            intent_attempt=2,
        )
        part = _pay("50.00", status=Payment.Status.PARTIALLY_REFUNDED, amount_refunded="7.50")
        html = finance.get(URL).content.decode()
        link = (
            f'<a href="{URL}?q=%23{order.pk}" aria-label="Order #{order.pk}" '
            f'title="The payments of order #{order.pk}">'
            f"#{order.pk}</a>"
        )
        assert f"{link} · Refunded" in html
        assert html.count(link) == 2  # both attempts link to the order
        assert f"#{part.order_id}</a> · " not in html  # partly refunded: the order is not
        # The link finds the order's payments, every attempt, and only those.
        assert sorted(_ids(finance.get(URL, {"q": f"#{order.pk}"}))) == sorted(
            [failed.pk, refunded.pk]
        )

    def test_queries_stay_constant_with_refunded_rows(
        self, finance: Client, django_assert_max_num_queries
    ):
        for i in range(30):
            _pay(f"{i + 1}.00", status=Payment.Status.REFUNDED, amount_refunded=f"{i + 1}.00")
            _pay("9.00", status=Payment.Status.PARTIALLY_REFUNDED, amount_refunded="1.00")
        # As test_queries_stay_constant_with_many_rows: the refunded amount and the order's
        # refund come from the payment's own row, no join and no query per row.
        with django_assert_max_num_queries(8):
            response = finance.get(URL)
        rows = response.context["table"].page.object_list
        refunded = [r for r in rows if r.record.status == Payment.Status.REFUNDED]
        assert len(rows) == 25 and refunded
        assert response.content.decode().count("</a> · Refunded") == len(refunded)


def test_sorting_by_customer_orders_by_email(finance: Client):
    b = _pay(email="bea@example.com")
    a = _pay(email="abe@example.com")
    c = _pay(email="cid@example.com")
    assert _ids(finance.get(URL, {"sort": "customer"})) == [a.pk, b.pk, c.pk]
    assert _ids(finance.get(URL, {"sort": "-customer"})) == [c.pk, b.pk, a.pk]
