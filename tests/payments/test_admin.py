"""The admin shows payments, refunds and webhook events, and changes none of them."""

from decimal import Decimal

import pytest
from django.urls import reverse

from payments.models import Payment, Refund, StripeWebhookEvent
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
