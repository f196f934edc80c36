"""A list's summary added up from the rows in hand says exactly what the database's count and
sums say: the first page of a narrow list (a search by order or PaymentIntent, a rare status)
holds every match, and its summary is taken from those rows without a query."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments import list_counts, selectors
from payments.models import Payment, Refund
from tests import factories

pytestmark = pytest.mark.django_db

_attempt = itertools.count(1)
CURRENCIES = {"EUR": 2, "JPY": 0, "KWD": 3, "USD": 2}
payments = st.lists(
    st.tuples(
        st.sampled_from(sorted(CURRENCIES)),
        # Minor units: at most 12 digits before the point, 15 in all (the columns' size).
        st.integers(min_value=1, max_value=10**11),
        st.integers(min_value=0, max_value=100),  # percent refunded
        st.lists(st.integers(min_value=1, max_value=100), max_size=2),  # refunds, percent
    ),
    max_size=12,
)


@pytest.fixture
def orders():
    return {c: factories.order(currency=c) for c in CURRENCIES}


def _made(orders, specs) -> None:
    for currency, units, refunded_pct, refund_pcts in specs:
        amount = Decimal(units).scaleb(-CURRENCIES[currency])
        quantum = Decimal(1).scaleb(-CURRENCIES[currency])
        order = orders[currency]
        payment = Payment.objects.create(
            order=order,
            user=order.user,
            intent_attempt=next(_attempt),
            stripe_payment_intent_id=f"pi_summary_{next(_attempt)}",
            amount=amount,
            currency=currency,
            status=Payment.Status.SUCCEEDED,
            amount_refunded=(amount * refunded_pct / 100).quantize(quantum),
        )
        for pct in refund_pcts:
            factories.refund(payment, amount=str((amount * pct / 100).quantize(quantum) or quantum))


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=payments)
def test_rows_in_hand_sum_to_what_the_database_sums(orders, specs):
    Refund.objects.all().delete()
    Payment.objects.all().delete()
    _made(orders, specs)

    payment_rows = selectors.payment_list()
    by_database = list_counts.list_summary(
        payment_rows, currency_field="currency", refunded_field="amount_refunded"
    )
    in_hand = list(payment_rows)
    with CaptureQueriesContext(connection) as queries:
        by_rows = list_counts.list_summary(
            payment_rows,
            currency_field="currency",
            refunded_field="amount_refunded",
            every_row=in_hand,
        )
    assert len(queries) == 0
    assert by_rows == by_database
    assert by_rows.count == len(specs) and by_rows.exact

    refund_rows = selectors.refund_list()
    in_hand_refunds = list(refund_rows)
    with CaptureQueriesContext(connection) as queries:
        by_rows = list_counts.list_summary(
            refund_rows, currency_field="payment__currency", every_row=in_hand_refunds
        )
    assert len(queries) == 0  # the refund's currency comes with its selected payment
    assert by_rows == list_counts.list_summary(refund_rows, currency_field="payment__currency")


def test_the_amounts_are_exact_to_the_columns_places(orders):
    """Thousandths of a KWD add up exactly; each sum has the columns' three places, as
    PostgreSQL's SUM of them has (what the page then formats in the currency's own places)."""
    _made(orders, [("KWD", 1, 0, []), ("KWD", 2, 50, []), ("JPY", 3000, 0, [])])
    rows = list(selectors.payment_list())
    summary = list_counts.list_summary(
        selectors.payment_list(),
        currency_field="currency",
        refunded_field="amount_refunded",
        every_row=rows,
    )
    assert [(t.currency, str(t.amount), t.count) for t in summary.totals] == [
        ("JPY", "3000.000", 1),
        ("KWD", "0.003", 2),
    ]
    assert {c: str(v) for c, v in summary.refunded.items()} == {"KWD": "0.001"}
    if connection.vendor == "postgresql":
        by_database = list_counts.list_summary(
            selectors.payment_list(), currency_field="currency", refunded_field="amount_refunded"
        )
        assert [str(t.amount) for t in by_database.totals] == ["3000.000", "0.003"]


def test_more_rows_than_the_cap_are_counted_by_the_database(orders, monkeypatch):
    """Rows in hand never stand in for the capped count: past the cap it is the database's."""
    monkeypatch.setattr(list_counts, "SUMMARY_CAP", 2)
    _made(orders, [("EUR", 100, 0, [])] * 3)
    rows = list(selectors.payment_list())
    summary = list_counts.list_summary(
        selectors.payment_list(), currency_field="currency", every_row=rows
    )
    assert not summary.exact and summary.totals == []
