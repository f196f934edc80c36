"""The list tables' rows (backoffice.list_table) are what django-tables2 itself draws: the same
cells, defaults, choice labels, escaping and links, for every list, in one pass."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import django_tables2 as tables
import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from audit.models import AuditEntry
from backoffice.tables import AuditTable, DisputeTable, PaymentTable, RefundTable, WebhookEventTable
from payments import selectors
from payments.models import Dispute, Payment, Refund, StripeWebhookEvent
from tests import factories

pytestmark = pytest.mark.django_db

# django-tables2's own rendering of a page of rows, as templates/backoffice/_table.html had it.
STOCK_ROWS = Template(
    "{% for row in table.paginated_rows %}<tr {{ row.attrs.as_html }}>"
    "{% for column, cell in row.items %}<td {{ column.attrs.td.as_html }}>{{ cell }}</td>"
    "{% endfor %}</tr>{% endfor %}"
)


def _drawn(table_class, queryset, query: str = "status=any") -> tuple[str, str]:
    request = RequestFactory().get(f"/backoffice/payments/?{query}")

    def table():  # one each: a table's rows count even and odd as they are drawn
        drawn = table_class(queryset.all())
        drawn.request = request
        drawn.paginate(per_page=25)
        return drawn

    return str(table().body_rows()), STOCK_ROWS.render(Context({"table": table()}))


def _same(ours: str, stock: str) -> None:
    assert re.sub(r">\s+<", "><", ours) == re.sub(r">\s+<", "><", stock)


@pytest.fixture
def payments():
    refunded = factories.payment(
        status=Payment.Status.REFUNDED,
        card_brand="visa",
        card_last4="4242",
        amount_refunded=99.99,
        dispute_status=Dispute.Status.LOST,
    )
    factories.payment(stripe_payment_intent_id="", payment_method=Payment.Method.WALLET)
    jpy = factories.order(total="5000", currency="JPY")
    factories.payment(jpy, status=Payment.Status.FAILED)
    return refunded


def test_payment_rows_are_django_tables2s(payments):
    ours, stock = _drawn(PaymentTable, selectors.payment_list())
    _same(ours, stock)
    assert ours.count("<tr ") == 3
    assert "JPY 5,000" in ours and "Visa •••• 4242" in ours and "Disputed · Lost" in ours
    assert "?back=%2Fbackoffice%2Fpayments%2F%3Fstatus%3Dany" in ours  # the way back, escaped
    assert '<td class="mono">—</td>' in ours  # no PaymentIntent yet: the default


def test_refund_rows_are_django_tables2s(payments, finance_user):
    factories.refund(
        payments, amount="10.00", reason=Refund.Reason.DUPLICATE, created_by=finance_user
    )
    factories.refund(payments, amount="5.00", status=Refund.Status.FAILED, stripe_refund_id="")
    ours, stock = _drawn(RefundTable, selectors.refund_list())
    _same(ours, stock)
    assert "Outside the app" in ours and finance_user.username in ours and "Duplicate" in ours


def test_webhook_event_rows_are_django_tables2s(payments):
    common = {"data": {}, "status": StripeWebhookEvent.Status.PROCESSED}
    StripeWebhookEvent.objects.create(
        stripe_event_id="evt_1", event_type="charge.refunded", payment=payments, **common
    )
    StripeWebhookEvent.objects.create(
        stripe_event_id="evt_<2>", event_type="payment_intent.created", **common
    )
    ours, stock = _drawn(WebhookEventTable, selectors.webhook_event_list())
    _same(ours, stock)
    assert "evt_&lt;2&gt;" in ours  # escaped like any cell


def test_dispute_rows_are_django_tables2s(payments):
    for n, due in enumerate([None, timezone.now() + dt.timedelta(days=3)]):
        Dispute.objects.create(
            stripe_dispute_id=f"dp_{n}",
            payment=payments,
            stripe_charge_id=f"ch_{n}",
            amount=payments.amount,
            currency=payments.currency,
            reason="product_not_received",
            status=Dispute.Status.NEEDS_RESPONSE,
            evidence_due_by=due,
        )
    ours, stock = _drawn(DisputeTable, Dispute.objects.select_related("payment__user"))
    _same(ours, stock)
    assert "Product not received" in ours and ">—</td>" in ours


def test_audit_rows_are_django_tables2s(payments, finance_user):
    for payment_id in (payments.pk, None):
        AuditEntry.objects.create(
            actor=finance_user,
            actor_label="Fiona <finance>",
            action=AuditEntry.Action.PAYMENT_REFRESHED,
            object_type="payment",
            object_id=str(payments.pk),
            payment_id=payment_id,
            summary="Refreshed\nline two <b>",
        )
    ours, stock = _drawn(AuditTable, AuditEntry.objects.order_by("-at", "-id"))
    _same(ours, stock)
    assert ours.count("<tr ") == 2 and "Refreshed …" in ours
    assert "Fiona &lt;finance&gt;" in ours  # a plain value, escaped like any cell


def test_an_empty_page_has_no_rows(db):
    assert str(_drawn(PaymentTable, selectors.payment_list())[0]) == ""


# The header row as templates/backoffice/_table.html drew it before ListTable.head_cells.
STOCK_HEAD = Template(
    "{% load django_tables2 %}" + (Path(__file__).with_name("stock_table_head.html")).read_text()
)


@pytest.mark.parametrize(
    ("table_class", "query"),
    [
        (PaymentTable, ""),
        (PaymentTable, "status=failed&sort=-amount&page=3"),
        (PaymentTable, "sort=customer&q=a%26b"),
        (PaymentTable, "sort=amount"),
        (RefundTable, "sort=-created_at"),
        (WebhookEventTable, ""),
        (DisputeTable, "sort=evidence_due_by"),
        (AuditTable, "sort=-at"),
    ],
)
def test_the_header_is_the_templates(db, table_class, query):
    """Sort links keep the filters, drop the page, flip the order of the sorted column; the
    same `<th>`s (aria-sort, classes, the hidden "sort ascending") as the template loop drew."""
    from django_tables2 import RequestConfig

    request = RequestFactory().get(f"/backoffice/list/?{query}")
    table = table_class(table_class._meta.model.objects.none())
    RequestConfig(request, paginate=False).configure(table)
    stock = STOCK_HEAD.render(Context({"table": table, "request": request}))
    squeeze = lambda html: re.sub(r"\s+<", "<", re.sub(r">\s+", ">", " ".join(html.split())))  # noqa: E731
    assert squeeze(str(table.head_cells())) == squeeze(stock)
    assert "page=" not in str(table.head_cells())


def test_tables_share_their_class_columns_but_not_what_one_table_changes():
    queryset = Payment.objects.none()
    plain = PaymentTable(queryset)
    fewer = PaymentTable(queryset, exclude=("customer",))
    more = PaymentTable(queryset, extra_columns=[("note", tables.Column())])
    assert plain.columns["amount"].column is PaymentTable.base_columns["amount"]  # not copied
    assert "customer" in [c.name for c in plain.columns]
    assert "customer" not in [c.name for c in fewer.columns]
    assert "note" in [c.name for c in more.columns]
    assert "note" not in PaymentTable.base_columns
    assert "note" not in [c.name for c in PaymentTable(queryset).columns]
    with pytest.raises(TypeError, match="exclude"):
        plain.columns.hide("customer")  # it would hide it for every request in the process
    with pytest.raises(TypeError, match="exclude"):
        plain.columns.show("customer")
    assert PaymentTable.base_columns["customer"].visible
