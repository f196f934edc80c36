"""Tables for the list pages. Only indexed columns are orderable (date, amount), each with the id as
a tie-breaker so that paging through equal values is stable."""

from __future__ import annotations

import functools
from functools import cached_property
from html import escape as _escape
from urllib.parse import urlencode

import django_tables2 as tables
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from audit.changes import entry_changes_text
from audit.models import AuditEntry
from backoffice.list_table import DateTimeColumn, ListTable
from payments import money
from payments.models import Dispute, Payment, Refund, StripeWebhookEvent

TEMPLATE = "backoffice/_table.html"
DATETIME_FORMAT = "Y-m-d H:i"


# Badges are a few fixed strings (a status and its label): each is drawn once per process.
@functools.lru_cache(maxsize=256)
def status_badge(value: str, label: str) -> str:
    return format_html('<span class="badge badge-{}">{}</span>', value, label)


@functools.lru_cache(maxsize=64)
def dispute_badge(status: str) -> str:
    """ "Disputed" on a payment, with the dispute's status: the list and the payment page."""
    label = Dispute.Status(status).label if status in Dispute.Status.values else status
    return format_html(
        '<span class="badge badge-disputed" title="Dispute: {}">Disputed · {}</span>',
        label,
        label,
    )


class PaymentTable(ListTable):
    created_at = DateTimeColumn(
        verbose_name="Created", format=DATETIME_FORMAT, order_by=("created_at", "id")
    )
    id = tables.Column(verbose_name="Payment", orderable=False)
    order_id = tables.Column(verbose_name="Order", orderable=False)
    # By customer email, then newest first: PostgreSQL walks the email index and each customer's
    # payments (the user_id index) and stops after a page.
    customer = tables.Column(
        verbose_name="Customer",
        accessor="user__email",
        order_by=("user__email", "-created_at", "-id"),
    )
    # Amounts in different currencies do not compare: sorted within each currency (index
    # payments_pay_curr_amount), which is plain amount order once one currency is chosen.
    amount = tables.Column(
        verbose_name="Amount",
        order_by=("currency", "amount", "id"),
        attrs={
            "td": {"class": "num"},
            "th": {"class": "num", "title": "Sorted within each currency"},
        },
    )
    # What went back to the customer (or is held for a refund Stripe has not confirmed yet):
    # Payment.amount_refunded, a column of the row itself. Blank while nothing was refunded.
    amount_refunded = tables.Column(
        verbose_name="Refunded",
        orderable=False,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    # By status, newest first within each (index payments_pay_status_created).
    status = tables.Column(order_by=("status", "-created_at", "-id"))
    payment_method = tables.Column(verbose_name="Method", orderable=False)
    stripe_payment_intent_id = tables.Column(
        verbose_name="PaymentIntent",
        orderable=False,
        attrs={"td": {"class": "mono"}},
        empty_values=(None, ""),
        default="—",
    )

    class Meta:
        model = Payment
        template_name = TEMPLATE
        fields = (
            "created_at",
            "id",
            "order_id",
            "customer",
            "amount",
            "amount_refunded",
            "status",
            "payment_method",
            "stripe_payment_intent_id",
        )
        attrs = {"class": "data-table"}
        empty_text = "No payments match these filters."

    def render_id(self, record: Payment) -> str:
        # The payment's page leads back to this list, filters and all (backoffice.navigation).
        return self.payment_link(record.pk, self.detail_url("backoffice:payment_detail", record.pk))

    def render_order_id(self, record: Payment) -> str:
        """The order number, linking to the order's payments (its checkout attempts): the
        search box finds an order by its number. An order refunded in full says so; Order has
        no such status, so it is read from this payment's own (no join, no query per row)."""
        order = _escape(str(record.order_id))
        # Named "Order #N": the payment's own link in the same row reads "#N" too.
        link = (
            f'<a href="{self._order_search_html}{_escape(urlencode({"q": f"#{record.order_id}"}))}"'
            f' aria-label="Order #{order}" title="The payments of order #{order}">#{order}</a>'
        )
        if record.status != Payment.Status.REFUNDED:
            return SafeString(link)
        return SafeString(f"{link} · {_escape(str(Payment.Status.REFUNDED.label))}")

    @cached_property
    def _order_search_html(self) -> str:
        return _escape(f"{self.payments_url}?")

    def render_amount(self, record: Payment) -> str:
        return money.format_amount(record.amount, record.currency)

    def render_amount_refunded(self, record: Payment) -> str:
        if not record.amount_refunded:
            return ""
        return money.format_amount(record.amount_refunded, record.currency)

    def render_status(self, record: Payment) -> str:
        badge = status_badge(record.status, record.get_status_display())
        if not record.dispute_status:
            return badge
        return format_html("{} {}", badge, dispute_badge(record.dispute_status))

    def render_payment_method(self, record: Payment) -> str:
        if record.card_last4:
            return f"{record.card_brand.title() or 'Card'} •••• {record.card_last4}"
        return record.get_payment_method_display()


class RefundTable(ListTable):
    created_at = DateTimeColumn(
        verbose_name="Created", format=DATETIME_FORMAT, order_by=("created_at", "id")
    )
    id = tables.Column(verbose_name="Refund", orderable=False)
    payment = tables.Column(verbose_name="Payment", orderable=False)
    amount = tables.Column(
        order_by=("amount", "id"), attrs={"td": {"class": "num"}, "th": {"class": "num"}}
    )
    status = tables.Column(orderable=False)
    reason = tables.Column(orderable=False, empty_values=(None, ""), default="—")
    created_by = tables.Column(
        verbose_name="Created by", orderable=False, default="Outside the app"
    )
    stripe_refund_id = tables.Column(
        verbose_name="Stripe refund",
        orderable=False,
        attrs={"td": {"class": "mono"}},
        empty_values=(None, ""),
        default="—",
    )

    class Meta:
        model = Refund
        template_name = TEMPLATE
        fields = (
            "created_at",
            "id",
            "payment",
            "amount",
            "status",
            "reason",
            "created_by",
            "stripe_refund_id",
        )
        attrs = {"class": "data-table"}
        empty_text = "No refunds match these filters."

    def render_id(self, value: int) -> str:
        return f"#{value}"

    def render_payment(self, record: Refund) -> str:
        url = self.detail_url("backoffice:payment_detail", record.payment_id)
        return self.payment_link(record.payment_id, url)

    def render_amount(self, record: Refund) -> str:
        return money.format_amount(record.amount, record.payment.currency)

    def render_status(self, record: Refund) -> str:
        if record.is_unanswered:
            return status_badge("waiting", "Waiting for Stripe")
        return status_badge(record.status, record.get_status_display())

    def render_reason(self, record: Refund) -> str:
        return record.get_reason_display()

    def render_created_by(self, record: Refund) -> str:
        # Rendered only for refunds that have a creator (django-tables2 skips empty values).
        return record.created_by.username if record.created_by else ""


class WebhookEventTable(ListTable):
    received_at = DateTimeColumn(
        verbose_name="Received", format=DATETIME_FORMAT, order_by=("received_at", "id")
    )
    stripe_event_id = tables.Column(verbose_name="Event", orderable=False)
    event_type = tables.Column(
        verbose_name="Type", orderable=False, attrs={"td": {"class": "mono"}}
    )
    status = tables.Column(orderable=False)
    # The id, not the row: the list does not join payments.
    payment = tables.Column(
        verbose_name="Payment", accessor="payment_id", orderable=False, default="—"
    )
    delivery_count = tables.Column(
        verbose_name="Deliveries",
        orderable=False,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )

    class Meta:
        model = StripeWebhookEvent
        template_name = TEMPLATE
        fields = (
            "received_at",
            "stripe_event_id",
            "event_type",
            "status",
            "payment",
            "delivery_count",
        )
        attrs = {"class": "data-table"}
        empty_text = "No webhook events match these filters."

    def render_stripe_event_id(self, record: StripeWebhookEvent) -> str:
        url = self.detail_url("backoffice:webhook_event_detail", record.pk)
        return format_html('<a class="mono" href="{}">{}</a>', url, record.stripe_event_id)

    def render_status(self, record: StripeWebhookEvent) -> str:
        return status_badge(record.status, record.get_status_display())

    def render_payment(self, record: StripeWebhookEvent) -> str:
        # django-tables2 calls render_* only for a value: an event without a payment shows "—".
        assert record.payment_id is not None
        url = self.detail_url("backoffice:payment_detail", record.payment_id)
        return self.payment_link(record.payment_id, url)


class DisputeTable(ListTable):
    evidence_due_by = DateTimeColumn(
        verbose_name="Evidence due",
        format=DATETIME_FORMAT,
        order_by=("evidence_due_by", "id"),
        default="—",
    )
    stripe_dispute_id = tables.Column(
        verbose_name="Dispute", orderable=False, attrs={"td": {"class": "mono"}}
    )
    payment = tables.Column(verbose_name="Payment", orderable=False)
    customer = tables.Column(
        verbose_name="Customer", accessor="payment__user__email", orderable=False
    )
    amount = tables.Column(
        verbose_name="Amount",
        orderable=False,
        attrs={"td": {"class": "num"}, "th": {"class": "num"}},
    )
    reason = tables.Column(orderable=False)
    status = tables.Column(orderable=False)

    class Meta:
        model = Dispute
        template_name = TEMPLATE
        fields = (
            "evidence_due_by",
            "stripe_dispute_id",
            "payment",
            "customer",
            "amount",
            "reason",
            "status",
        )
        attrs = {"class": "data-table"}
        empty_text = "No disputes match these filters."

    def render_stripe_dispute_id(self, record: Dispute) -> str:
        url = self.detail_url("backoffice:dispute_detail", record.pk)
        return format_html('<a href="{}">{}</a>', url, record.stripe_dispute_id)

    def render_payment(self, record: Dispute) -> str:
        url = self.detail_url("backoffice:payment_detail", record.payment_id)
        return format_html('<a href="{}">#{}</a>', url, record.payment_id)

    def render_amount(self, record: Dispute) -> str:
        return record.amount_display

    def render_reason(self, value: str) -> str:
        return value.replace("_", " ").capitalize()

    def render_status(self, record: Dispute) -> str:
        return status_badge(record.status, record.get_status_display())


class AuditTable(ListTable):
    at = DateTimeColumn(verbose_name="When", format="Y-m-d H:i:s", order_by=("at", "id"))
    actor_label = tables.Column(verbose_name="Who", orderable=False)
    ip_address = tables.Column(
        verbose_name="From", orderable=False, attrs={"td": {"class": "mono"}}, default="—"
    )
    action = tables.Column(verbose_name="What", orderable=False)
    object_id = tables.Column(verbose_name="About", orderable=False, empty_values=())
    summary = tables.Column(orderable=False)
    changes = tables.Column(
        verbose_name="Before → after", accessor="pk", orderable=False, empty_values=()
    )

    class Meta:
        model = AuditEntry
        template_name = TEMPLATE
        fields = ("at", "actor_label", "ip_address", "action", "object_id", "summary", "changes")
        attrs = {"class": "data-table"}
        empty_text = "No audit entries match these filters."

    def render_action(self, record: AuditEntry) -> str:
        return record.get_action_display()

    def render_object_id(self, record: AuditEntry) -> str:
        what = f"{record.object_type.replace('_', ' ')} {record.object_id}".strip()
        if record.payment_id is None:
            return what
        url = self.detail_url("backoffice:payment_detail", record.payment_id)
        return format_html('{}<br><a href="{}">payment #{}</a>', what, url, record.payment_id)

    def render_summary(self, record: AuditEntry) -> str:
        # A job run's first line counts what it did; the rest (a line per change) is in the CSV.
        first, _, rest = record.summary.partition("\n")
        return first + (" …" if rest else "")

    def render_changes(self, record: AuditEntry) -> str:
        return Truncator(entry_changes_text(record) or "—").chars(300)
