"""Disputes from Stripe's charge.dispute.* events: recorded once, in any order, never reopened;
and a disputed payment is not sent to Stripe for a refund."""

from __future__ import annotations

import itertools
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.models import Dispute, Payment, StripeWebhookEvent
from payments.services import RefundNotAllowed, refund_create, transitions
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver, event

pytestmark = pytest.mark.django_db

NOW = int(time.time())
_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]


def dispute_obj(payment: Payment, status: str = "needs_response", **fields: Any) -> dict:
    """A dispute as Stripe's events carry it (the fields of ../shared/stripe/fixtures3.json)."""
    withdrawn = fields.pop("withdrawn", status not in ("warning_needs_response",))
    reinstated = fields.pop("reinstated", False)
    transactions = []
    if withdrawn:
        transactions.append({"amount": -9999, "fee": 1500, "net": -11499, "currency": "eur"})
    if reinstated:
        transactions.append({"amount": 9999, "fee": 0, "net": 9999, "currency": "eur"})
    obj = {
        "id": fields.pop("id", "dp_test_1"),
        "object": "dispute",
        "amount": 9999,
        "currency": "eur",
        "charge": payment.stripe_charge_id or "ch_test_1",
        "payment_intent": payment.stripe_payment_intent_id,
        "balance_transactions": transactions,
        "created": NOW - 100,
        "evidence": {"product_description": None, "uncategorized_text": None},
        "evidence_details": {
            "due_by": NOW + 7 * 86400,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": status.startswith("warning_"),
        "livemode": False,
        "metadata": {},
        "payment_method_details": {
            "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
            "type": "card",
        },
        "reason": "fraudulent",
        "status": status,
    }
    obj.update(fields)
    return obj


@pytest.fixture
def sandbox(stripe_sandbox, settings):
    """The stand-in (to see what was asked of Stripe), with our test signing secret kept."""
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET, stripe_sandbox.webhook_secret]
    return stripe_sandbox


@pytest.fixture
def payment() -> Payment:
    return factories.payment(stripe_payment_intent_id="pi_disputed", stripe_charge_id="ch_disputed")


def _deliver(client, type_: str, obj: dict, created: int, id_: str | None = None):
    evt = event(f"charge.dispute.{type_}", obj, created=created, id_=id_)
    response = deliver(client, evt)
    assert response.status_code == 200, response.content
    return evt


def test_a_dispute_is_recorded_on_its_payment(client, payment):
    _deliver(client, "created", dispute_obj(payment), NOW - 100)
    _deliver(client, "funds_withdrawn", dispute_obj(payment), NOW - 99)

    dispute = Dispute.objects.get()
    assert dispute.payment == payment
    assert (dispute.amount, dispute.currency, dispute.reason) == (
        Decimal("99.99"),
        "EUR",
        "fraudulent",
    )
    assert dispute.status == "needs_response"
    assert dispute.network_reason_code == "10.4"
    assert dispute.funds_withdrawn and not dispute.funds_reinstated
    assert dispute.balance_net == Decimal("-114.99") and dispute.balance_currency == "EUR"
    assert dispute.evidence_due_by is not None
    assert not dispute.is_charge_refundable
    payment.refresh_from_db()
    assert payment.dispute_status == "needs_response"
    assert StripeWebhookEvent.objects.filter(status="processed", payment=payment).count() == 2


def test_a_dispute_found_by_its_charge_when_stripe_leaves_out_the_payment_intent(client, payment):
    _deliver(client, "created", dispute_obj(payment, payment_intent=None), NOW)
    assert Dispute.objects.get().payment == payment


def test_a_dispute_of_a_charge_we_do_not_know_is_unmatched(client, payment):
    obj = dispute_obj(payment, payment_intent="pi_other", charge="ch_other")
    _deliver(client, "created", obj, NOW)
    assert not Dispute.objects.exists()
    assert StripeWebhookEvent.objects.get().status == "unmatched"


def test_a_decided_dispute_never_opens_again(client, payment):
    _deliver(client, "closed", dispute_obj(payment, "won", reinstated=True), NOW)
    # Older news, delivered late: the dispute was created and updated before it was won.
    _deliver(client, "updated", dispute_obj(payment, "under_review"), NOW - 50)
    _deliver(client, "created", dispute_obj(payment, "needs_response"), NOW - 100)
    # Even a (wrong) newer event cannot reopen it.
    _deliver(client, "updated", dispute_obj(payment, "needs_response"), NOW + 50)
    dispute = Dispute.objects.get()
    assert dispute.status == "won"
    assert dispute.funds_withdrawn and dispute.funds_reinstated
    payment.refresh_from_db()
    assert payment.dispute_status == "won"


def test_events_of_one_second_are_ordered_by_how_far_along_they_are(client, payment):
    _deliver(client, "updated", dispute_obj(payment, "under_review"), NOW)
    _deliver(client, "created", dispute_obj(payment, "needs_response"), NOW)
    assert Dispute.objects.get().status == "under_review"


def test_a_duplicate_delivery_is_applied_once(client, payment):
    evt = _deliver(client, "created", dispute_obj(payment), NOW)
    assert deliver(client, evt).status_code == 200
    assert Dispute.objects.count() == 1
    assert StripeWebhookEvent.objects.get().delivery_count == 2


# The life of a chargeback Stripe reports: created, funds withdrawn, evidence submitted, won.
LIFE = [
    ("created", "needs_response", {}, 0),
    ("funds_withdrawn", "needs_response", {}, 1),
    ("updated", "under_review", {}, 5),
    ("closed", "won", {"reinstated": True}, 9),
    ("funds_reinstated", "won", {"reinstated": True}, 9),
]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(order=st.permutations(range(len(LIFE))), repeat=st.lists(st.integers(0, 4), max_size=3))
def test_any_order_and_any_repeat_ends_in_the_same_dispute(client, order, repeat):
    Dispute.objects.all().delete()
    StripeWebhookEvent.objects.all().delete()
    Payment.objects.filter(stripe_payment_intent_id="pi_life").update(dispute_status="")
    payment = Payment.objects.filter(stripe_payment_intent_id="pi_life").first() or (
        factories.payment(stripe_payment_intent_id="pi_life", stripe_charge_id="ch_life")
    )
    events = [
        event(
            f"charge.dispute.{kind}",
            dispute_obj(payment, status, id="dp_life", **extra),
            created=NOW + offset,
            id_=f"evt_life_{i}",
        )
        for i, (kind, status, extra, offset) in enumerate(LIFE)
    ]
    for i in [*order, *repeat]:
        assert deliver(client, events[i]).status_code == 200
    dispute = Dispute.objects.get()
    assert dispute.status == "won"
    assert dispute.funds_withdrawn and dispute.funds_reinstated
    assert dispute.balance_net == Decimal("-15.00")  # the fee stays lost even when won
    assert Payment.objects.get(pk=payment.pk).dispute_status == "won"


def test_the_status_function_only_moves_forward():
    t0 = timezone.now()
    after = transitions.dispute_status_after
    assert after(None, None, "needs_response", t0) == "needs_response"
    assert (
        after("under_review", t0, "needs_response", t0 + timedelta(seconds=1)) == "needs_response"
    )
    assert after("under_review", t0, "needs_response", t0) == "under_review"
    assert after("under_review", t0, "needs_response", t0 - timedelta(seconds=1)) == "under_review"
    for final in transitions.DISPUTE_FINAL:
        assert after(final, t0, "needs_response", t0 + timedelta(days=1)) == final
        assert after("under_review", t0 + timedelta(days=1), final, t0) == final


# --- Refunds of disputed payments --------------------------------------------------------------


def test_a_disputed_payment_is_refused_before_stripe_is_called(client, payment, sandbox):
    _deliver(client, "created", dispute_obj(payment), NOW)
    finance = factories.user(group="Finance")
    with pytest.raises(RefundNotAllowed, match=r"disputed .*Stripe refuses to refund"):
        refund_create(
            payment_id=payment.pk,
            amount="10.00",
            reason="requested_by_customer",
            created_by=finance,
        )
    assert not payment.refunds.exists()
    assert not sandbox.requests_log(path="/v1/refunds")


def test_the_api_answers_409_with_the_reason(client, payment, sandbox):
    _deliver(client, "created", dispute_obj(payment), NOW)
    api = factories.api_client(factories.user(group="Finance"))
    response = api.post(
        "/api/payments/refunds/create_refund/",
        {"payment_id": payment.pk, "amount": "10.00"},
        format="json",
    )
    assert response.status_code == 409, response.content
    assert "disputed" in response.json()["error"]["message"]
    assert not payment.refunds.exists()


def test_a_decided_chargeback_still_blocks_refunds_won_or_lost(client, payment):
    _deliver(client, "closed", dispute_obj(payment, "lost"), NOW)
    finance = factories.user(group="Finance")
    with pytest.raises(RefundNotAllowed):
        refund_create(
            payment_id=payment.pk, amount="1.00", reason="requested_by_customer", created_by=finance
        )
    other = factories.payment(stripe_payment_intent_id="pi_won", stripe_charge_id="ch_won")
    _deliver(client, "closed", dispute_obj(other, "won", id="dp_won", reinstated=True), NOW)
    from payments.services.disputes import refund_blocked_by_dispute

    other.refresh_from_db()
    assert refund_blocked_by_dispute(other) is not None  # as at Stripe: charge_disputed


def test_an_inquiry_stripe_says_is_refundable_does_not_block(client, payment):
    _deliver(client, "created", dispute_obj(payment, "warning_needs_response"), NOW)
    from payments.services.disputes import refund_blocked_by_dispute

    payment.refresh_from_db()
    assert payment.dispute_status == "warning_needs_response"
    assert refund_blocked_by_dispute(payment) is None
    # Closed, it stays refundable; escalated to a chargeback, it is not.
    _deliver(client, "closed", dispute_obj(payment, "warning_closed"), NOW + 1)
    payment.refresh_from_db()
    assert refund_blocked_by_dispute(payment) is None


def test_a_refund_awaiting_approval_is_not_approved_once_the_payment_is_disputed(
    client, payment, sandbox, settings
):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": Decimal("50")}
    from payments.services import refund_approve

    asked = refund_create(
        payment_id=payment.pk,
        amount="60.00",
        reason="requested_by_customer",
        created_by=factories.user("alma", group="Finance"),
    )
    assert asked.status == "awaiting_approval"
    _deliver(client, "created", dispute_obj(payment), NOW)
    with pytest.raises(RefundNotAllowed, match="disputed since"):
        refund_approve(refund_id=asked.pk, approver=factories.user("bert", group="Finance"))
    asked.refresh_from_db()
    assert asked.status == "awaiting_approval"
    assert not sandbox.requests_log(path="/v1/refunds")
