"""The admin shows payments, refunds and webhook events, and changes none of them."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Dispute, Payment, Refund, StripeWebhookEvent
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = factories.user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client


@pytest.fixture
def payment():
    p = factories.payment(
        stripe_charge_id="ch_admin_1",
        amount_refunded=Decimal("10.00"),
        status=Payment.Status.PARTIALLY_REFUNDED,
    )
    factories.refund(p, amount="10.00", stripe_refund_id="re_admin_1")
    StripeWebhookEvent.objects.create(
        stripe_event_id="evt_admin_1",
        event_type="charge.refunded",
        data={"id": "evt_admin_1"},
        payment=p,
    )
    return p


@pytest.mark.parametrize("model", ["payment", "refund", "stripewebhookevent"])
def test_it_lists_each_model(admin_client, payment, model):
    response = admin_client.get(reverse(f"admin:payments_{model}_changelist"))
    assert response.status_code == 200
    assert reverse(f"admin:payments_{model}_add") not in response.content.decode()


@pytest.mark.parametrize("model", ["payment", "refund"])
def test_adding_is_disabled(admin_client, model):
    assert admin_client.get(reverse(f"admin:payments_{model}_add")).status_code == 403
    response = admin_client.post(reverse(f"admin:payments_{model}_add"), {"amount": "5"})
    assert response.status_code == 403
    assert Payment.objects.count() == 0


def test_a_payment_cannot_be_changed_or_deleted(admin_client, payment):
    url = reverse("admin:payments_payment_change", args=[payment.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # a view page, not a form
    admin_client.post(url, {"amount": "1.00", "status": "refunded"})
    payment.refresh_from_db()
    assert (payment.amount, payment.status) == (Decimal("99.99"), "partially_refunded")
    delete = admin_client.post(
        reverse("admin:payments_payment_delete", args=[payment.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert Payment.objects.filter(pk=payment.pk).exists()


def test_refunds_and_events_cannot_be_deleted(admin_client, payment):
    refund = Refund.objects.get()
    event = StripeWebhookEvent.objects.get()
    for name, obj in [("refund", refund), ("stripewebhookevent", event)]:
        url = reverse(f"admin:payments_{name}_delete", args=[obj.pk])
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert Refund.objects.count() == 1
    assert StripeWebhookEvent.objects.count() == 1


@pytest.mark.parametrize(
    "term", ["pi_search_me", "ch_search_me", "searched@example.com", "{order}", "#{order}"]
)
def test_search_finds_a_payment(admin_client, term):
    target = factories.payment(
        factories.order(factories.user("searched")),
        stripe_payment_intent_id="pi_search_me",
        stripe_charge_id="ch_search_me",
    )
    factories.payment()  # noise
    response = admin_client.get(
        reverse("admin:payments_payment_changelist"), {"q": term.format(order=target.order_id)}
    )
    assert list(response.context["cl"].result_list) == [target]


@pytest.mark.parametrize(
    "params",
    [{"status__exact": "failed"}, {"currency__exact": "JPY"}, {"payment_method__exact": "wallet"}],
)
def test_filters_narrow_the_list(admin_client, params):
    wanted = factories.payment(
        factories.order(total="500", currency="JPY"), status="failed", payment_method="wallet"
    )
    factories.payment(status="succeeded")
    response = admin_client.get(reverse("admin:payments_payment_changelist"), params)
    assert list(response.context["cl"].result_list) == [wanted]


def test_the_list_takes_a_constant_number_of_queries(admin_client, django_assert_max_num_queries):
    for _ in range(30):
        p = factories.payment()
        factories.refund(p, amount="1.00")
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:payments_payment_changelist"))
    with django_assert_max_num_queries(12):
        admin_client.get(reverse("admin:payments_refund_changelist"))


def changelist_html(client, model: str, **params) -> str:
    response = client.get(reverse(f"admin:payments_{model}_changelist"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_payment_list_shows_amounts_in_their_currencys_precision(admin_client):
    jpy = factories.payment(factories.order(total="3500", currency="JPY"))
    factories.payment(factories.order(total="12.340", currency="KWD"))
    factories.payment(factories.order(total="1234.50", currency="EUR"))
    Payment.objects.filter(pk=jpy.pk).update(amount_refunded=Decimal("500"))
    html = changelist_html(admin_client, "payment")
    assert "JPY 3,500" in html
    assert "JPY 500" in html  # refunded
    assert "KWD 12.340" in html
    assert "EUR 1,234.50" in html
    assert "3500.000" not in html and "1234.500" not in html


def test_the_payment_list_has_eight_short_columns(admin_client, payment):
    html = changelist_html(admin_client, "payment")
    head = html.split('id="result_list"', 1)[1].split("</thead>", 1)[0]
    assert head.count("<th ") == 8
    assert payment.stripe_payment_intent_id not in html  # on the payment's own page instead
    assert 'class="column-currency' not in html  # the currency is part of the amount


def test_a_payments_page_shows_its_amounts_formatted(admin_client):
    jpy = factories.payment(factories.order(total="3500", currency="JPY"))
    factories.refund(jpy, amount="1000")
    html = admin_client.get(reverse("admin:payments_payment_change", args=[jpy.pk])).content
    page = html.decode()
    assert "JPY 3,500" in page
    assert "JPY 1,000" in page  # the refund inline
    assert "3500.000" not in page and "1000.000" not in page


def test_the_refund_and_dispute_lists_format_amounts_too(admin_client):
    jpy = factories.payment(factories.order(total="3500", currency="JPY"))
    factories.refund(jpy, amount="1200")
    Dispute.objects.create(
        stripe_dispute_id="dp_admin_1",
        payment=jpy,
        amount=Decimal("3500"),
        currency="JPY",
        reason="fraudulent",
        status="needs_response",
    )
    assert "JPY 1,200" in changelist_html(admin_client, "refund")
    disputes = changelist_html(admin_client, "dispute")
    assert "JPY 3,500" in disputes and "3500.000" not in disputes
