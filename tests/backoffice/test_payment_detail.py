"""The payment page: every fact, refunds, the webhook timeline, bounded queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Payment, StripeWebhookEvent
from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db


def url(p: Payment) -> str:
    return reverse("backoffice:payment_detail", args=[p.pk])


@pytest.fixture
def paid() -> Payment:
    owner = factories.user("carol", email="carol@example.com")
    return factories.payment(
        factories.order(owner, total="99.99"),
        stripe_payment_intent_id="pi_CAROL",
        stripe_charge_id="ch_CAROL",
        stripe_customer_id="cus_CAROL",
        card_brand="visa",
        card_last4="4242",
    )


def _event(p: Payment, n: int, **fields) -> StripeWebhookEvent:
    fields.setdefault("status", StripeWebhookEvent.Status.PROCESSED)
    return StripeWebhookEvent.objects.create(
        stripe_event_id=f"evt_{p.pk}_{n}",
        event_type=fields.pop("event_type", "payment_intent.succeeded"),
        data={"id": f"evt_{n}", "data": {"object": {"id": p.stripe_payment_intent_id}}},
        payment=p,
        stripe_created_at=timezone.now() - dt.timedelta(minutes=60 - n),
        **fields,
    )


def test_it_shows_every_fact(finance: Client, paid):
    html = finance.get(url(paid)).content.decode()
    for fact in [
        f"Payment #{paid.pk}",
        "Succeeded",
        "EUR 99.99",
        "pi_CAROL",
        "ch_CAROL",
        "cus_CAROL",
        "carol@example.com",
        f"#{paid.order_id}",
        "Visa ending 4242",
    ]:
        assert fact in html, fact


def test_it_shows_what_remains_refundable(finance: Client, paid):
    factories.refund(paid, amount="30.00", reason="duplicate", created_by=factories.user("rick"))
    Payment.objects.filter(pk=paid.pk).update(
        amount_refunded="30.00", status=Payment.Status.PARTIALLY_REFUNDED
    )
    response = finance.get(url(paid))
    html = response.content.decode()
    assert response.context["amount_refundable"] == "EUR 69.99"
    assert "EUR 30.00" in html
    assert "rick" in html
    assert "Duplicate" in html


def test_it_shows_the_webhook_timeline_oldest_first(finance: Client, paid):
    first = _event(paid, 1, event_type="payment_intent.created")
    second = _event(
        paid, 2, event_type="charge.succeeded", status="failed", processing_error="boom"
    )
    html = finance.get(url(paid)).content.decode()
    assert html.index("payment_intent.created") < html.index("charge.succeeded")
    assert reverse("backoffice:webhook_event_detail", args=[first.pk]) in html
    assert reverse("backoffice:webhook_event_detail", args=[second.pk]) in html
    assert "boom" in html


def test_finance_sees_the_refund_form_with_the_remaining_amount(finance: Client, paid):
    html = finance.get(url(paid)).content.decode()
    assert 'id="refund-panel"' in html
    assert '<label for="id_amount">Amount (EUR)</label>' in html
    assert 'value="99.99"' in html
    assert '<label for="id_reason">Reason</label>' in html
    assert '<label for="id_description">Note (optional)</label>' in html
    assert "Review refund" in html


@pytest.mark.parametrize(
    "status", [Payment.Status.PENDING, Payment.Status.FAILED, Payment.Status.REFUNDED]
)
def test_no_refund_form_when_nothing_can_be_refunded(finance: Client, status):
    p = factories.payment(status=status)
    html = finance.get(url(p)).content.decode()
    assert "Review refund" not in html
    assert "Nothing to refund" in html


def test_refresh_button_is_a_post_form(finance: Client, paid):
    html = finance.get(url(paid)).content.decode()
    refresh = reverse("backoffice:payment_refresh", args=[paid.pk])
    assert f'action="{refresh}"' in html
    assert "Refresh from Stripe" in html


def test_htmx_gets_only_the_payment_panel(finance: Client, paid):
    html = finance.get(url(paid), **HTMX).content.decode()
    assert html.lstrip().startswith('<div id="payment"')
    assert "<html" not in html


def test_queries_stay_constant_with_many_refunds_and_events(
    finance: Client, paid, django_assert_max_num_queries
):
    by = factories.user("rick")
    for _ in range(20):
        factories.refund(paid, amount="1.00", created_by=by)
    for n in range(20):
        _event(paid, n)
    # session, user with permissions (one query), payment+order+user, refunds+creators,
    # attempts, events, the audit trail (Finance sees it).
    with django_assert_max_num_queries(7):
        response = finance.get(url(paid))
    assert response.status_code == 200


def test_refunds_are_shown_in_their_currency_precision(finance: Client):
    p = factories.payment(factories.order(total="1000", currency="JPY"))
    factories.refund(p, amount="300")
    assert "JPY 300" in finance.get(url(p)).content.decode()


def test_it_shows_every_checkout_attempt_of_the_order(finance):
    order = factories.order(total="20.00")
    first = factories.payment(
        order,
        status="cancelled",
        stripe_payment_intent_id="pi_FIRST",
        failure_code="insufficient_funds",
        failure_message="Your card has insufficient funds.",
    )
    second = Payment.objects.create(
        order=order,
        user=order.user,
        amount=order.total,
        stripe_payment_intent_id="pi_SECOND",
        intent_attempt=2,
        status="succeeded",
        card_brand="visa",
        card_last4="4242",
    )
    html = finance.get(url(second)).content.decode()
    attempts = html[html.index('data-testid="payment-attempts"') :]
    assert "pi_FIRST" in attempts and "pi_SECOND" in attempts
    assert "insufficient_funds" in attempts  # the cancelled attempt's reason, in its row
    assert f'href="{url(first)}"' in attempts
    # The current state shows only what is current: no red failure beside "Succeeded".
    assert "error-text" not in html[: html.index('data-testid="payment-attempts"')]


def test_a_refund_waiting_for_stripe_says_its_amount_is_held(finance, paid):
    factories.refund(
        paid,
        amount="10.00",
        status="pending",
        stripe_refund_id=None,
        last_send_error="no answer from Stripe (ProviderUnavailable); it may have been made",
    )
    html = finance.get(url(paid)).content.decode()
    assert "Waiting for Stripe" in html
    assert "Amount held until Stripe answers: no answer from Stripe" in html


class TestTheWayBack:
    """ "← Payments" returns to the list the payment was opened from, with its filters."""

    def _breadcrumb(self, client: Client, p: Payment, back: str | None) -> str:
        query = {"back": back} if back is not None else {}
        html = client.get(url(p), query).content.decode()
        start = html.index('<p class="breadcrumb">')
        return html[start : html.index("</p>", start)]

    def test_the_list_links_carry_the_filters(self, finance: Client, paid):
        html = finance.get(
            reverse("backoffice:payments"), {"status": "succeeded", "q": "", "sort": "amount"}
        ).content.decode()
        back = "%2Fbackoffice%2Fpayments%2F%3Fstatus%3Dsucceeded%26sort%3Damount"
        assert f'href="/backoffice/payments/{paid.pk}/?back={back}"' in html

    def test_the_unfiltered_list_links_plainly(self, finance: Client, paid):
        html = finance.get(reverse("backoffice:payments")).content.decode()
        assert f'href="/backoffice/payments/{paid.pk}/"' in html

    def test_the_refunds_list_leads_back_to_itself(self, finance: Client, paid):
        factories.refund(paid, amount="1.00")
        html = finance.get(reverse("backoffice:refunds"), {"status": "succeeded"}).content.decode()
        assert "?back=%2Fbackoffice%2Frefunds%2F%3Fstatus%3Dsucceeded" in html
        crumb = self._breadcrumb(finance, paid, "/backoffice/refunds/?status=succeeded")
        assert crumb.endswith('<a href="/backoffice/refunds/?status=succeeded">← Refunds</a>')

    def test_it_links_back_with_the_filters(self, finance: Client, paid):
        crumb = self._breadcrumb(finance, paid, "/backoffice/payments/?status=succeeded&page=2")
        assert 'href="/backoffice/payments/?status=succeeded&amp;page=2">← Payments</a>' in crumb

    def test_without_back_it_is_the_payments_list(self, finance: Client, paid):
        assert 'href="/backoffice/payments/">← Payments</a>' in self._breadcrumb(
            finance, paid, None
        )

    @pytest.mark.parametrize(
        "foreign",
        [
            "https://evil.example/backoffice/payments/",
            "//evil.example/backoffice/payments/",
            "/\\evil.example/backoffice/payments/",
            "\\\\evil.example/",
            "javascript:alert(1)",
            "backoffice/payments/",
            "/backoffice/payments/1/",  # a page of this site, but not a list
            "/admin/",
            "/backoffice/payments/../../admin/",
            "/backoffice/payments/\n",
            "/backoffice/payments/?" + "x=1&" * 600,  # too long to be ours
        ],
    )
    def test_it_refuses_anything_but_a_list_of_this_site(self, finance: Client, paid, foreign):
        crumb = self._breadcrumb(finance, paid, foreign)
        assert crumb.endswith('<a href="/backoffice/payments/">← Payments</a>')
        assert "evil" not in crumb

    def test_the_query_is_rebuilt_not_echoed(self, finance: Client, paid):
        crumb = self._breadcrumb(finance, paid, '/backoffice/payments/?status="><script>#frag')
        assert "<script>" not in crumb and "frag" not in crumb
        assert 'href="/backoffice/payments/?status=%22%3E%3Cscript%3E">' in crumb


class TestTimelinePoll:
    """The timeline the payment page polls: its own small partial, 204 while unchanged."""

    def _seen(self, html: str) -> str:
        return html.split("?seen=", 1)[1].split('"', 1)[0]

    def _url(self, p: Payment, seen: str | None = None) -> str:
        base = reverse("backoffice:payment_timeline", args=[p.pk])
        return f"{base}?seen={seen}" if seen else base

    def test_the_page_polls_its_timeline(self, finance: Client, paid):
        html = finance.get(url(paid)).content.decode()
        version = finance.get(url(paid)).context["timeline_version"]
        assert f'hx-get="{self._url(paid, version)}"' in html
        assert 'hx-trigger="every 10s, page-visible"' in html
        assert "data-poll" in html

    def test_it_answers_the_timeline_alone(self, finance: Client, paid):
        _event(paid, 1, event_type="charge.succeeded")
        response = finance.get(self._url(paid), **HTMX)
        html = response.content.decode()
        assert response.status_code == 200
        assert html.lstrip().startswith('<section id="timeline"')
        assert "charge.succeeded" in html and "<html" not in html

    def test_it_says_204_while_nothing_changed_and_shows_news(self, finance: Client, paid):
        _event(paid, 1)
        seen = finance.get(url(paid)).context["timeline_version"]
        unchanged = finance.get(self._url(paid, seen), **HTMX)
        assert (unchanged.status_code, unchanged.content) == (204, b"")
        _event(paid, 2, event_type="charge.refunded")
        news = finance.get(self._url(paid, seen), **HTMX)
        assert news.status_code == 200
        assert "charge.refunded" in news.content.decode()
        assert self._seen(news.content.decode()) != seen

    def test_a_status_change_is_news_too(self, finance: Client, paid):
        event = _event(paid, 1, status=StripeWebhookEvent.Status.FAILED)
        seen = self._seen(finance.get(self._url(paid)).content.decode())
        StripeWebhookEvent.objects.filter(pk=event.pk).update(
            status=StripeWebhookEvent.Status.PROCESSED
        )
        assert finance.get(self._url(paid, seen)).status_code == 200

    def test_queries_stay_constant(self, finance: Client, paid, django_assert_num_queries):
        _event(paid, 0)
        # session, user with permissions (one query), payment+order+user, events.
        with django_assert_num_queries(4):
            finance.get(self._url(paid), **HTMX)
        for n in range(1, 30):
            _event(paid, n)
        with django_assert_num_queries(4):
            response = finance.get(self._url(paid), **HTMX)
        assert response.content.decode().count("<li>") == 30

    def test_an_unknown_payment_is_a_404(self, finance: Client):
        assert finance.get(reverse("backoffice:payment_timeline", args=[999999])).status_code == 404

    def test_it_needs_a_login(self, paid):
        assert Client().get(self._url(paid)).status_code == 302


class TestTheOrderLine:
    """The order's line links to the order's payments and says when it was refunded."""

    def _line(self, html: str) -> str:
        start = html.index('data-testid="order-line">')
        return html[start : html.index("</dd>", start)]

    def test_it_links_to_the_orders_payments_with_the_orders_status(self, finance: Client, paid):
        line = self._line(finance.get(url(paid)).content.decode())
        search = f"{reverse('backoffice:payments')}?q=%23{paid.order_id}"
        assert (
            f'<a href="{search}" aria-label="Order #{paid.order_id}" '
            f'title="The payments of order #{paid.order_id}">' in line
        )
        assert line.endswith(" · Pending")  # the order's own status (factories' default)

    @pytest.mark.parametrize(
        ("status", "refunded", "shown"),
        [
            (Payment.Status.REFUNDED, "99.99", "Refunded"),
            (Payment.Status.PARTIALLY_REFUNDED, "9.99", "Partially refunded"),
        ],
    )
    def test_a_refunded_order_says_so_on_each_attempts_page(
        self, finance: Client, paid, status, refunded, shown
    ):
        Payment.objects.filter(pk=paid.pk).update(status=status, amount_refunded=refunded)
        # An earlier attempt of the same order tells it too (the order has no refund status).
        cancelled = factories.payment(paid.order, status=Payment.Status.CANCELLED, intent_attempt=2)
        for p in (paid, cancelled):
            assert self._line(finance.get(url(p)).content.decode()).endswith(f"</a> · {shown}")
