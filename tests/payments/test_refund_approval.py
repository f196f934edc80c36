"""Four eyes: refunds at or above the threshold wait for a second person, then go out once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from audit.models import AuditEntry
from payments import money, services
from payments.checks import refund_approval_threshold_check
from payments.models import Payment, Refund
from tests import factories

pytestmark = pytest.mark.django_db

CREATE = "/api/payments/refunds/create_refund/"
THRESHOLDS = {"EUR": Decimal("500.00"), "USD": Decimal("500.00"), "JPY": Decimal("75000")}


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = THRESHOLDS


@pytest.fixture
def alice():
    return factories.user("alice", group="Finance")


@pytest.fixture
def bob():
    return factories.user("bob", group="Finance")


@pytest.fixture
def paid(stripe_sandbox) -> Payment:
    return factories.paid_payment(stripe_sandbox, total="800.00")


def stripe_refund_calls(sandbox) -> list[dict]:
    return sandbox.requests_log(method="POST", path="/v1/refunds")


def ask(payment: Payment, amount: str, by, **kwargs) -> Refund:
    return services.refund_create(
        payment_id=payment.pk, amount=Decimal(amount), reason="duplicate", created_by=by, **kwargs
    )


# --- The threshold setting ----------------------------------------------------------------------


class TestThresholdParsing:
    def test_pairs_become_exact_amounts_per_currency(self):
        assert money.amounts_by_currency("EUR:500, usd:500.5,JPY:75000") == {
            "EUR": Decimal("500.00"),
            "USD": Decimal("500.50"),
            "JPY": Decimal("75000"),
        }

    def test_blank_means_no_approvals(self):
        assert money.amounts_by_currency("") == {}
        assert money.amounts_by_currency(" , ") == {}

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("EUR500", "is not CURRENCY:AMOUNT"),
            ("EUR:", "is not CURRENCY:AMOUNT"),
            ("XXX:5", "not a currency Stripe supports"),
            ("JPY:0.5", "JPY amounts can have at most whole units"),
            ("EUR:1.001", "at most 2 decimal places"),
            ("EUR:0", "more than zero"),
            ("EUR:-5", "more than zero"),
            ("EUR:abc", "is not a valid amount"),
            ("EUR:5,EUR:6", "EUR is given twice"),
        ],
    )
    def test_a_malformed_value_says_what_is_wrong(self, text, message):
        with pytest.raises(ValueError, match=message):
            money.amounts_by_currency(text)


class TestThresholdCheck:
    def test_a_well_formed_threshold_passes(self):
        assert refund_approval_threshold_check() == []

    @pytest.mark.parametrize(
        "value",
        [{"EUR": 500.0}, {"EUR": "500"}, {"JPY": Decimal("0.5")}, {"eur": Decimal("5")}, ["EUR"]],
    )
    def test_a_threshold_set_in_code_wrongly_is_an_error(self, settings, value):
        settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = value
        (error,) = refund_approval_threshold_check()
        assert error.id == "payments.E002"
        assert "PAYMENTS_REFUND_APPROVAL_THRESHOLD is malformed" in error.msg


# --- Asking: at or above the threshold waits, nothing is sent ------------------------------------


@pytest.mark.parametrize(
    ("currency", "total", "amount", "awaits"),
    [
        ("EUR", "800.00", "499.99", False),
        ("EUR", "800.00", "500.00", True),
        ("EUR", "800.00", "600.00", True),
        ("JPY", "100000", "74999", False),
        ("JPY", "100000", "75000", True),
        ("GBP", "800.00", "700.00", False),  # no threshold for GBP
    ],
)
def test_the_threshold_applies_per_currency(stripe_sandbox, alice, currency, total, amount, awaits):
    payment = factories.paid_payment(stripe_sandbox, total=total, currency=currency)
    refund = ask(payment, amount, alice)
    if awaits:
        assert (refund.status, refund.sent_at, refund.send_count) == ("awaiting_approval", None, 0)
        assert refund.stripe_refund_id is None
        assert stripe_refund_calls(stripe_sandbox) == []
    else:
        assert refund.status == "succeeded"
        assert len(stripe_refund_calls(stripe_sandbox)) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal(amount)  # held either way


def test_unset_means_no_approvals(stripe_sandbox, settings, alice, paid):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {}
    assert ask(paid, "800.00", alice).status == "succeeded"


def test_an_awaiting_refund_holds_its_amount_without_refunding_the_payment(alice, paid):
    ask(paid, "800.00", alice)
    paid.refresh_from_db()
    assert (paid.amount_refunded, paid.amount_refundable) == (Decimal("800.00"), Decimal("0"))
    assert paid.status == "succeeded"  # nothing was sent: the payment is not refunded yet
    with pytest.raises(services.RefundNotAllowed, match="fully refunded"):
        ask(paid, "1.00", factories.user(group="Finance"))


def test_the_same_refund_asked_again_while_it_awaits_is_refused(stripe_sandbox, alice, paid):
    first = ask(paid, "600.00", alice)
    with pytest.raises(services.RefundStillWaiting, match=f"#{first.pk} .* awaits approval"):
        ask(paid, "600.00", alice)
    assert Refund.objects.count() == 1


def test_the_same_token_again_answers_the_awaiting_refund(stripe_sandbox, alice, paid):
    first = ask(paid, "600.00", alice, request_token="key-1")
    again = ask(paid, "600.00", alice, request_token="key-1")
    assert (again.pk, again.status) == (first.pk, "awaiting_approval")
    assert stripe_refund_calls(stripe_sandbox) == []


def test_the_api_answers_202_and_sends_nothing(stripe_sandbox, alice, paid):
    response = factories.api_client(alice).post(
        CREATE, {"payment_id": paid.pk, "amount": "600.00"}, format="json"
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["amount"], body["refund_id"]) == (
        "awaiting_approval",
        "600.00",
        None,
    )
    assert stripe_refund_calls(stripe_sandbox) == []


# --- Approving: sent once, exactly as any refund -------------------------------------------------


def test_a_second_person_approves_and_it_is_sent_once_with_its_key(
    stripe_sandbox, alice, bob, paid
):
    refund = ask(paid, "600.00", alice)
    approved = services.refund_approve(
        refund_id=refund.pk, approver=bob, expected_amount_refunded=Decimal("600.00")
    )
    assert approved.status == "succeeded"
    assert (approved.approved_by, approved.send_count) == (bob, 1)
    assert approved.approved_at is not None
    (call,) = stripe_refund_calls(stripe_sandbox)
    assert call["idempotency_key"] == f"refund-{refund.pk}"
    assert call["params"]["amount"] == "60000"
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("600.00"))


def test_approving_twice_sends_once(stripe_sandbox, alice, bob, paid):
    refund = ask(paid, "600.00", alice)
    services.refund_approve(refund_id=refund.pk, approver=bob, request_token="n1")
    # The same approver confirming again (a double click) gets the outcome.
    again = services.refund_approve(refund_id=refund.pk, approver=bob, request_token="n1")
    assert again.status == "succeeded"
    # Someone else is told it was decided.
    carol = factories.user("carol", group="Finance")
    with pytest.raises(services.RefundNotAwaitingApproval, match=r"succeeded \(approved by bob@"):
        services.refund_approve(refund_id=refund.pk, approver=carol)
    assert len(stripe_refund_calls(stripe_sandbox)) == 1


def test_stripe_refusing_an_approved_refund_frees_it(stripe_sandbox, alice, bob, paid):
    refund = ask(paid, "600.00", alice)
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "500", count=10)
    with pytest.raises(services.RefundPending):
        services.refund_approve(refund_id=refund.pk, approver=bob)
    refund.refresh_from_db()
    assert refund.is_unanswered  # held, as any refund whose outcome is unknown
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("600.00")


def test_the_requester_can_never_approve_or_reject_their_own(stripe_sandbox, alice, paid):
    refund = ask(paid, "600.00", alice)
    with pytest.raises(services.RefundApproverIsRequester):
        services.refund_approve(refund_id=refund.pk, approver=alice)
    with pytest.raises(services.RefundApproverIsRequester):
        services.refund_reject(refund_id=refund.pk, rejecter=alice)
    refund.refresh_from_db()
    assert refund.status == "awaiting_approval"
    assert stripe_refund_calls(stripe_sandbox) == []


def test_the_database_refuses_a_requester_as_approver(alice):
    payment = factories.payment(factories.order(total="900.00"))
    refund = factories.refund(
        payment, amount="600.00", status="awaiting_approval", created_by=alice
    )
    for field in ("approved_by", "rejected_by"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Refund.objects.filter(pk=refund.pk).update(**{field: alice})


def test_a_payment_refunded_meanwhile_makes_the_approval_stale(stripe_sandbox, alice, bob):
    payment = factories.paid_payment(stripe_sandbox, total="1000.00")
    refund = ask(payment, "600.00", alice)
    reviewed = Payment.objects.get(pk=payment.pk).amount_refunded
    ask(payment, "400.00", factories.user(group="Finance"))  # below the threshold: sent at once
    with pytest.raises(services.RefundStale, match="changed since refund"):
        services.refund_approve(
            refund_id=refund.pk, approver=bob, expected_amount_refunded=reviewed
        )
    refund.refresh_from_db()
    assert refund.status == "awaiting_approval"
    assert len(stripe_refund_calls(stripe_sandbox)) == 1  # only the other refund


def test_the_api_maps_approval_errors(stripe_sandbox, alice, bob, paid):
    refund = ask(paid, "600.00", alice)
    seen = {"expected_amount_refunded": str(Payment.objects.get(pk=paid.pk).amount_refunded)}
    own = factories.api_client(alice).post(
        f"/api/payments/refunds/{refund.pk}/approve/", seen, format="json"
    )
    assert own.status_code == 403
    unseen = factories.api_client(bob).post(f"/api/payments/refunds/{refund.pk}/approve/")
    assert unseen.status_code == 400  # approving needs what the approver saw
    stale = factories.api_client(bob).post(
        f"/api/payments/refunds/{refund.pk}/approve/",
        {"expected_amount_refunded": "0"},
        format="json",
    )
    assert stale.status_code == 409
    support = factories.api_client(factories.user(group="Support"))
    assert support.post(f"/api/payments/refunds/{refund.pk}/approve/").status_code == 403
    ok = factories.api_client(bob).post(
        f"/api/payments/refunds/{refund.pk}/approve/", seen, format="json"
    )
    assert (ok.status_code, ok.json()["status"]) == (200, "succeeded")
    again = factories.api_client(bob).post(f"/api/payments/refunds/{refund.pk}/reject/")
    assert again.status_code == 409
    assert "no longer awaits approval" in again.json()["error"]["message"]


# --- Rejecting: the amount is free again ---------------------------------------------------------


def test_rejecting_frees_the_amount_and_sends_nothing(stripe_sandbox, alice, bob, paid):
    refund = ask(paid, "600.00", alice, request_token="key-1")
    rejected = services.refund_reject(
        refund_id=refund.pk, rejecter=bob, note="Not agreed with the customer"
    )
    assert (rejected.status, rejected.rejected_by) == ("rejected", bob)
    assert rejected.failure_reason == "Not agreed with the customer"
    paid.refresh_from_db()
    assert (paid.amount_refunded, paid.amount_refundable) == (Decimal("0"), Decimal("800.00"))
    assert stripe_refund_calls(stripe_sandbox) == []
    # Final: no approval after it; the requester's retry is told it was rejected.
    with pytest.raises(services.RefundNotAwaitingApproval, match="rejected"):
        services.refund_approve(refund_id=refund.pk, approver=factories.user(group="Finance"))
    with pytest.raises(services.RefundRejected, match="rejected by bob@"):
        ask(paid, "600.00", alice, request_token="key-1")


# --- Every other path leaves awaiting refunds alone ----------------------------------------------


def test_sweep_and_reconcile_leave_awaiting_refunds_alone(stripe_sandbox, alice, paid):
    refund = ask(paid, "600.00", alice)
    assert services.refunds_settle_unanswered() == ([], [])
    services.payment_sync_from_stripe(payment_id=paid.pk, settle_refunds=True)
    call_command("reconcile_payments", "--since", "1d", stdout=None)
    refund.refresh_from_db()
    assert (refund.status, refund.send_count, refund.sent_at) == ("awaiting_approval", 0, None)
    assert stripe_refund_calls(stripe_sandbox) == []
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("600.00")


def test_a_stripe_refund_naming_an_awaiting_refund_is_not_taken_for_it(alice):
    payment = factories.payment(factories.order(total="900.00"))
    refund = factories.refund(
        payment, amount="600.00", status="awaiting_approval", created_by=alice
    )
    Payment.objects.filter(pk=payment.pk).update(amount_refunded="600.00")
    payment.refresh_from_db()
    outside = {
        "id": "re_outside",
        "object": "refund",
        "amount": 10000,
        "status": "succeeded",
        "metadata": {"refund_id": str(refund.pk)},
    }
    services.refunds_apply(payment, [outside])
    refund.refresh_from_db()
    assert (refund.status, refund.stripe_refund_id) == ("awaiting_approval", None)
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (Decimal("700.00"), "partially_refunded")


def test_a_dashboard_refund_that_leaves_no_room_rejects_the_awaiting_one(alice):
    payment = factories.payment(factories.order(total="900.00"))
    refund = factories.refund(
        payment, amount="600.00", status="awaiting_approval", created_by=alice
    )
    Payment.objects.filter(pk=payment.pk).update(amount_refunded="600.00")
    payment.refresh_from_db()
    whole = {"id": "re_dash", "object": "refund", "amount": 90000, "status": "succeeded"}
    services.refunds_apply(payment, [whole])
    refund.refresh_from_db()
    assert refund.status == "rejected"
    assert "refunded meanwhile" in refund.failure_reason
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (Decimal("900.00"), "refunded")


def test_an_awaiting_refund_is_not_unanswered():
    from payments.services import transitions

    assert transitions.refund_may_be_decided("awaiting_approval", "pending")
    assert transitions.refund_may_be_decided("awaiting_approval", "rejected")
    for status in ("pending", "succeeded", "failed", "rejected", "canceled"):
        assert not transitions.refund_may_be_decided(status, "pending")
        assert not transitions.refund_may_be_decided(status, "rejected")


# --- The audit trail -----------------------------------------------------------------------------


def test_requested_approved_and_sent_are_audited(stripe_sandbox, alice, bob, paid):
    refund = ask(paid, "600.00", alice)
    services.refund_approve(refund_id=refund.pk, approver=bob)
    entries = list(AuditEntry.objects.filter(object_id=str(refund.pk)).order_by("at", "id"))
    assert [(e.action, e.actor) for e in entries] == [
        ("refund.requested", alice),
        ("refund.approved", bob),
        ("refund.sent", bob),
    ]
    requested, approved, sent = entries
    assert requested.after["status"] == "awaiting_approval"
    assert requested.after["amount"] == "600.00"
    assert (approved.before["status"], approved.after["status"]) == ("awaiting_approval", "pending")
    assert (sent.before["status"], sent.after["status"]) == ("pending", "succeeded")
    assert sent.after["outcome"] == "made"
    assert all(e.payment_id == paid.pk for e in entries)


def test_rejection_is_audited(stripe_sandbox, alice, bob, paid):
    refund = ask(paid, "600.00", alice)
    services.refund_reject(refund_id=refund.pk, rejecter=bob, note="No")
    entry = AuditEntry.objects.get(action="refund.rejected")
    assert (entry.actor, entry.before, entry.after["status"]) == (
        bob,
        {"status": "awaiting_approval"},
        "rejected",
    )


def test_an_ordinary_refund_is_audited_as_requested_and_sent(stripe_sandbox, alice, paid):
    refund = ask(paid, "10.00", alice)
    actions = AuditEntry.objects.filter(object_id=str(refund.pk)).values_list("action", flat=True)
    assert sorted(actions) == ["refund.requested", "refund.sent"]
