"""Refunds through the JSON API: finance only, never more than was paid."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import Payment, Refund
from tests import factories

pytestmark = pytest.mark.django_db

CREATE = "/api/payments/refunds/create_refund/"


@pytest.fixture
def customer():
    return factories.user("alice")


@pytest.fixture
def finance():
    return factories.api_client(factories.user("fiona", group="Finance"))


@pytest.fixture
def paid(stripe_sandbox, customer) -> Payment:
    return factories.paid_payment(stripe_sandbox, customer, total="99.99")


def test_finance_refunds_part_of_a_payment(stripe_sandbox, finance, paid):
    response = finance.post(
        CREATE,
        {"payment_id": paid.pk, "amount": 50.00, "reason": "duplicate", "description": "Twice"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    refund = Refund.objects.get()
    assert body["id"] == refund.pk
    assert (body["amount"], body["currency"], body["status"]) == ("50.00", "EUR", "succeeded")
    assert refund.created_by.username == "fiona"
    assert refund.stripe_refund_id.startswith("re_")
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("50.00"))
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert call["params"]["amount"] == "5000"
    assert call["params"]["reason"] == "duplicate"
    assert call["idempotency_key"] == f"refund-{refund.pk}"


def test_no_amount_refunds_what_remains(stripe_sandbox, finance, paid):
    finance.post(CREATE, {"payment_id": paid.pk, "amount": "20.00"}, format="json")
    response = finance.post(CREATE, {"payment_id": paid.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["amount"] == "79.99"
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("refunded", Decimal("99.99"))


def test_more_than_remains_is_a_conflict_and_changes_nothing(stripe_sandbox, finance, paid):
    finance.post(CREATE, {"payment_id": paid.pk, "amount": "60.00"}, format="json")
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": "40.00"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        "Only EUR 39.99 of EUR 99.99 remains refundable."
    )
    assert Refund.objects.count() == 1
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/refunds")) == 1


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "more than zero"),
        (-5, "more than zero"),
        ("10.001", "at most 2 decimal places"),
        ("ten", "valid number"),
    ],
)
def test_bad_amounts_are_a_400(stripe_sandbox, finance, paid, amount, message):
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": amount}, format="json")
    assert response.status_code == 400
    (problem,) = response.json()["error"]["fields"]["amount"]
    assert message in problem
    assert not Refund.objects.exists()


def test_zero_decimal_currencies_refuse_fractions(stripe_sandbox, finance, customer):
    jpy = factories.paid_payment(stripe_sandbox, customer, total="3500", currency="JPY")
    response = finance.post(CREATE, {"payment_id": jpy.pk, "amount": "1.5"}, format="json")
    assert response.status_code == 400
    ok = finance.post(CREATE, {"payment_id": jpy.pk, "amount": "1500"}, format="json")
    assert ok.json()["amount"] == "1500"
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert call["params"]["amount"] == "1500"


def test_unknown_reason_is_a_400(stripe_sandbox, finance, paid):
    response = finance.post(CREATE, {"payment_id": paid.pk, "reason": "bored"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()["error"]["fields"]


def test_a_customer_may_not_refund(stripe_sandbox, customer, paid):
    response = factories.api_client(customer).post(CREATE, {"payment_id": paid.pk}, format="json")
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_an_unpaid_payment_cannot_be_refunded(stripe_sandbox, finance):
    pending = factories.payment(status="pending")
    response = finance.post(CREATE, {"payment_id": pending.pk}, format="json")
    assert response.status_code == 409
    assert not Refund.objects.exists()


def test_an_unknown_payment_is_a_404(finance):
    assert finance.post(CREATE, {"payment_id": 999999}, format="json").status_code == 404


def test_the_same_idempotency_key_refunds_once(stripe_sandbox, finance, paid):
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}
    first = finance.post(CREATE, {"payment_id": paid.pk, "amount": "10"}, format="json", **headers)
    second = finance.post(CREATE, {"payment_id": paid.pk, "amount": "10"}, format="json", **headers)
    assert first.json() == second.json()
    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")


def test_stripe_refusing_leaves_a_failed_refund_and_the_amount_refundable(
    stripe_sandbox, finance, paid
):
    # Refunded in full in Stripe's Dashboard, and the webhook never came: Stripe refuses ours.
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id})
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": "10"}, format="json")
    assert response.status_code == 502
    refund = Refund.objects.get()
    assert refund.status == "failed"
    assert response.json()["error"]["message"].startswith(
        f"Refund #{refund.pk} of EUR 10.00 was not made: Stripe refused it"
    )
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("succeeded", Decimal("0"))


def test_a_429_holds_the_refund_and_the_same_key_sends_it_at_once(
    stripe_sandbox, finance, paid, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.inject_fault("POST", "/v1/refunds", kind="429", count=1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "busy-1"}
    body = {"payment_id": paid.pk, "amount": "10"}
    response = finance.post(CREATE, body, format="json", **headers)
    assert response.status_code == 503
    refund = Refund.objects.get()
    assert refund.is_unanswered and refund.sent_at is None  # nothing ran at Stripe
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")
    retry = finance.post(CREATE, body, format="json", **headers)
    assert retry.status_code == 201, retry.json()
    assert (retry.json()["id"], retry.json()["status"]) == (refund.pk, "succeeded")
    made = stripe_sandbox.api("GET", "/v1/refunds")[1]["data"]
    assert [(r["amount"], r["metadata"]["refund_id"]) for r in made] == [(1000, str(refund.pk))]


def test_stripe_not_answering_keeps_the_refund_pending_and_a_retry_finishes_it(
    stripe_sandbox, finance, paid, settings, customer
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.inject_fault("POST", "/v1/refunds", kind="500", count=1)
    headers = {"HTTP_IDEMPOTENCY_KEY": "refund-attempt-1"}
    body = {"payment_id": paid.pk, "amount": "10"}
    response = finance.post(CREATE, body, format="json", **headers)
    assert response.status_code == 503
    refund = Refund.objects.get()
    assert f"refund #{refund.pk}" in response.json()["error"]["message"]
    assert "Do not refund again" in response.json()["error"]["message"]
    assert refund.status == "pending"
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")  # held: Stripe may have made it

    # A customer's status check only reads: it sends nothing to Stripe's refunds.
    factories.api_client(customer).get(f"/api/payments/payments/{paid.pk}/status/")
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/refunds")) == 1

    # Once no request can still be waiting on Stripe, the same request asks Stripe again with
    # the refund's own idempotency key, and records the answer.
    Refund.objects.filter(pk=refund.pk).update(sent_at=refund.sent_at.replace(year=2020))
    retry = finance.post(CREATE, body, format="json", **headers)
    assert retry.status_code == 201
    assert (retry.json()["id"], retry.json()["status"]) == (refund.pk, "succeeded")
    keys = [
        c["idempotency_key"] for c in stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    ]
    assert keys == [f"refund-{refund.pk}", f"refund-{refund.pk}"]
    # It asked Stripe what it had made before sending again.
    assert stripe_sandbox.requests_log(method="GET", path="/v1/refunds")
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")


def test_a_key_reused_for_another_refund_is_a_conflict(stripe_sandbox, finance, paid, customer):
    other = factories.paid_payment(stripe_sandbox, customer, total="50.00")
    headers = {"HTTP_IDEMPOTENCY_KEY": "same-key"}
    finance.post(CREATE, {"payment_id": paid.pk, "amount": "10"}, format="json", **headers)
    for body in ({"payment_id": other.pk, "amount": "10"}, {"payment_id": paid.pk, "amount": "11"}):
        response = finance.post(CREATE, body, format="json", **headers)
        assert response.status_code == 409
        assert "already used for refund" in response.json()["error"]["message"]
    assert Refund.objects.count() == 1
    other.refresh_from_db()
    assert other.amount_refunded == Decimal("0")


@pytest.mark.parametrize("key", ["x" * 65, "spaces are bad", "é"])
def test_a_malformed_idempotency_key_is_a_400(stripe_sandbox, finance, paid, key):
    response = finance.post(
        CREATE, {"payment_id": paid.pk}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert not Refund.objects.exists()


def test_customers_list_refunds_of_their_own_payments(stripe_sandbox, finance, paid, customer):
    finance.post(CREATE, {"payment_id": paid.pk, "amount": "5"}, format="json")
    other = factories.paid_payment(stripe_sandbox, factories.user("bob"))
    finance.post(CREATE, {"payment_id": other.pk, "amount": "5"}, format="json")
    mine = factories.api_client(customer).get("/api/payments/refunds/").json()["results"]
    assert [r["payment_id"] for r in mine] == [paid.pk]
    everything = finance.get("/api/payments/refunds/").json()["results"]
    assert {r["payment_id"] for r in everything} == {paid.pk, other.pk}


CUSTOMER_FIELDS = {"id", "payment_id", "amount", "currency", "status", "created_at", "updated_at"}


def test_customers_see_only_amount_status_and_dates_of_their_refunds(customer, finance):
    payment = factories.payment(factories.order(customer), status=Payment.Status.SUCCEEDED)
    refund = factories.refund(
        payment,
        amount="10.00",
        stripe_refund_id="re_private_1",
        status=Refund.Status.FAILED,
        reason="fraudulent",
        description="Finance's internal note",
        failure_reason="Stripe refused it: expired_or_canceled_card.",
    )
    mine = factories.api_client(customer)
    for body in (
        mine.get(f"/api/payments/refunds/{refund.pk}/").json(),
        mine.get("/api/payments/refunds/").json()["results"][0],
    ):
        assert set(body) == CUSTOMER_FIELDS
        assert (body["amount"], body["status"]) == ("10.00", "failed")
        assert "fraudulent" not in str(body)
        assert "internal note" not in str(body)
        assert "expired" not in str(body)
    # Staff keep seeing everything.
    staff = finance.get(f"/api/payments/refunds/{refund.pk}/").json()
    assert set(staff) == CUSTOMER_FIELDS | {"refund_id", "reason", "description", "failure_reason"}
    assert (staff["reason"], staff["description"]) == ("fraudulent", "Finance's internal note")
    support = factories.api_client(factories.user("sam", group="Support"))
    assert "failure_reason" in support.get("/api/payments/refunds/").json()["results"][0]


def test_the_schema_documents_both_refund_shapes(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    assert set(components["CustomerRefund"]["properties"]) == CUSTOMER_FIELDS
    assert components["CustomerRefund"]["additionalProperties"] is False
    assert "description" in components["Refund"]["properties"]
    either = {"$ref": "#/components/schemas/RefundForCaller"}
    detail = schema["paths"]["/api/payments/refunds/{id}/"]["get"]["responses"]["200"]
    assert detail["content"]["application/json"]["schema"] == either
    assert components["RefundForCaller"]["oneOf"] == [
        {"$ref": "#/components/schemas/Refund"},
        {"$ref": "#/components/schemas/CustomerRefund"},
    ]
