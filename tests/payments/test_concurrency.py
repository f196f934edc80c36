"""Two requests at once never pay twice or refund too much (PostgreSQL: real row locks)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from payments import services
from payments.models import Payment, Refund
from tests import factories

# serialized_rollback: the flush after a transactional test would otherwise drop the roles
# that a data migration created, for every test after it.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def run_together(n: int, fn) -> list:
    """Run fn(i) in n threads released at the same moment; return results or exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_concurrent_checkouts_create_one_payment_intent(stripe_sandbox):
    order = factories.order(total="42.00")
    results = run_together(
        6,
        lambda i: services.payment_intent_create(
            user=order.user, order_id=order.pk, payment_method="card"
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert len({payment.stripe_payment_intent_id for payment, _ in results}) == 1
    assert Payment.objects.count() == 1
    intents = stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"]
    customers = stripe_sandbox.api("GET", "/v1/customers")[1]["data"]
    assert (len(intents), len(customers)) == (1, 1)


def test_concurrent_checkouts_share_one_payment_intent_while_stripe_says_in_use(stripe_sandbox):
    # Stripe is slow on the first create; the others meet its key in use (409) and retry.
    order = factories.order(total="42.00")
    stripe_sandbox.inject_fault("POST", "/v1/payment_intents", "hang", count=1, seconds=1.0)
    results = run_together(
        4,
        lambda i: services.payment_intent_create(
            user=order.user, order_id=order.pk, payment_method="card"
        ),
    )
    assert all(isinstance(r, tuple) for r in results), results
    assert len({payment.stripe_payment_intent_id for payment, _ in results}) == 1
    assert Payment.objects.count() == 1
    statuses = [e["status"] for e in stripe_sandbox.requests_log(path="/v1/payment_intents")]
    assert 409 in statuses
    assert len(stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"]) == 1


def test_concurrent_refunds_never_exceed_the_payment(stripe_sandbox):
    paid = factories.paid_payment(stripe_sandbox, total="100.00")
    # Eight people at once (one person asking the same again while Stripe has not answered is a
    # retry, refused as such: test_refund_safety).
    team = [factories.user(group="Finance") for _ in range(8)]
    results = run_together(
        8,
        lambda i: services.refund_create(
            payment_id=paid.pk, amount=Decimal("30.00"), reason="duplicate", created_by=team[i]
        ),
    )
    made = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, services.RefundExceedsRemaining)]
    assert (len(made), len(refused)) == (3, 5), results
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("90.00")
    stripe_refunds = stripe_sandbox.api("GET", "/v1/refunds")[1]["data"]
    assert sum(r["amount"] for r in stripe_refunds) == 9000


def test_a_double_submitted_form_refunds_once(stripe_sandbox):
    paid = factories.paid_payment(stripe_sandbox, total="100.00")
    finance = factories.user(group="Finance")
    results = run_together(
        5,
        lambda i: services.refund_create(
            payment_id=paid.pk,
            amount=Decimal("25.00"),
            reason="requested_by_customer",
            created_by=finance,
            request_token="form-token-1",
        ),
    )
    # Every click answers the one refund (the later ones wait for the first's send to return).
    assert all(isinstance(r, Refund) for r in results), results
    assert {r.pk for r in results} == {Refund.objects.get().pk}, results
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("25.00")
    assert len(stripe_sandbox.api("GET", "/v1/refunds")[1]["data"]) == 1


def test_concurrent_status_polls_share_one_stripe_call(stripe_sandbox, settings):
    settings.PAYMENTS_STATUS_FRESH_SECONDS = 0  # the last word is stale for every poll
    order = factories.order(total="15.00")
    payment, _ = services.payment_intent_create(
        user=order.user, order_id=order.pk, payment_method="card"
    )
    stripe_sandbox.confirm_payment_intent(payment.stripe_payment_intent_id)  # no webhook
    stripe_sandbox.clear_requests_log()
    results = run_together(6, lambda i: services.payment_status_check(payment_id=payment.pk))
    assert {r.status for r in results} == {"succeeded"}, results
    retrieves = stripe_sandbox.requests_log(
        method="GET", path=f"/v1/payment_intents/{payment.stripe_payment_intent_id}"
    )
    assert len(retrieves) == 1


# --- Four eyes ------------------------------------------------------------------------------------


def test_two_approvers_at_once_send_it_once(stripe_sandbox, settings):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": Decimal("500.00")}
    paid = factories.paid_payment(stripe_sandbox, total="800.00")
    requester = factories.user(group="Finance")
    refund = services.refund_create(
        payment_id=paid.pk, amount=Decimal("600.00"), reason="duplicate", created_by=requester
    )
    approvers = [factories.user(group="Finance") for _ in range(4)]
    results = run_together(
        4,
        lambda i: services.refund_approve(
            refund_id=refund.pk, approver=approvers[i], expected_amount_refunded=Decimal("600.00")
        ),
    )
    approved = [r for r in results if isinstance(r, Refund)]
    refused = [r for r in results if isinstance(r, services.RefundNotAwaitingApproval)]
    assert (len(approved), len(refused)) == (1, 3), results
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert refund.approved_by == approved[0].approved_by
    calls = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert [c["idempotency_key"] for c in calls] == [f"refund-{refund.pk}"]
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("600.00")


def test_an_approval_racing_a_refund_that_uses_up_the_payment_is_stale(stripe_sandbox, settings):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": Decimal("500.00")}
    paid = factories.paid_payment(stripe_sandbox, total="1000.00")
    requester, approver, other = (factories.user(group="Finance") for _ in range(3))
    refund = services.refund_create(
        payment_id=paid.pk, amount=Decimal("600.00"), reason="duplicate", created_by=requester
    )
    reviewed = Payment.objects.get(pk=paid.pk).amount_refunded  # what the approver saw
    stripe_sandbox.clear_requests_log()
    # The other refund takes the payment's lock first and holds the rest; the approval, reviewed
    # before it, queues behind the lock and then finds the payment changed.

    def one(i: int):
        if i == 0:
            return services.refund_create(
                payment_id=paid.pk, amount=Decimal("400.00"), reason="duplicate", created_by=other
            )
        time.sleep(0.2)
        return services.refund_approve(
            refund_id=refund.pk, approver=approver, expected_amount_refunded=reviewed
        )

    made, approval = run_together(2, one)
    assert isinstance(made, Refund), made
    assert isinstance(approval, services.RefundStale), approval
    refund.refresh_from_db()
    assert (refund.status, refund.send_count) == ("awaiting_approval", 0)
    calls = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert [c["params"]["amount"] for c in calls] == ["40000"]
