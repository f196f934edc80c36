"""No refund goes out twice, and none is lost, under Stripe's faults and every retry.

Each test is one way the books and Stripe came apart before (issue 9), driven through the real
API, the back-office and the operators' commands, against the stand-in over HTTP.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from payments import stripe_client
from payments.models import Payment, Refund
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver, sandbox_events

pytestmark = pytest.mark.django_db

CREATE = "/api/payments/refunds/create_refund/"


@pytest.fixture
def fiona():
    return factories.user("fiona", group="Finance")


@pytest.fixture
def finance(fiona) -> APIClient:
    return factories.api_client(fiona)


@pytest.fixture
def browser(fiona) -> Client:
    client = Client()
    client.force_login(fiona)
    return client


@pytest.fixture
def paid(stripe_sandbox) -> Payment:
    return factories.paid_payment(stripe_sandbox, total="100.00")


def at_stripe(sandbox) -> list[tuple[int, str, str]]:
    """Stripe's refunds: (amount in cents, status, our refund id from the metadata)."""
    refunds = sandbox.api("GET", "/v1/refunds", {"limit": 100})[1]["data"]
    return sorted((r["amount"], r["status"], r["metadata"].get("refund_id", "")) for r in refunds)


def refund_posts(sandbox) -> int:
    return len(sandbox.requests_log(method="POST", path="/v1/refunds"))


def out_of_flight(refund: Refund) -> None:
    """Time passes: no send of this refund can still be on its way to Stripe."""
    Refund.objects.filter(pk=refund.pk).update(sent_at=timezone.now() - timedelta(hours=1))


def run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def wait_until(predicate, timeout: float = 6.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


# 1 ----------------------------------------------------------------------------------------------
def test_a_retry_without_a_key_after_a_503_is_refused_and_stripe_refunds_once(
    stripe_sandbox, finance, browser, paid
):
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "500", count=3)  # every SDK attempt
    body = {"payment_id": paid.pk, "amount": "10.00"}
    first = finance.post(CREATE, body, format="json")
    assert first.status_code == 503
    refund = Refund.objects.get()
    message = first.json()["error"]["message"]
    assert f"Stripe has not confirmed refund #{refund.pk} of EUR 10.00" in message
    assert "same Idempotency-Key" in message and "Do not refund again" in message

    again = finance.post(CREATE, body, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["message"].startswith(
        f"Refund #{refund.pk} of EUR 10.00 is still waiting for Stripe's answer"
    )
    assert Refund.objects.count() == 1
    assert refund_posts(stripe_sandbox) == 3  # the first request's attempts only

    # Later, finance's refresh settles it, and reconcile after it finds nothing left to send.
    out_of_flight(refund)
    assert browser.post(reverse("backoffice:payment_refresh", args=[paid.pk])).status_code == 302
    run("reconcile_payments")
    assert at_stripe(stripe_sandbox) == [(1000, "succeeded", str(refund.pk))]
    refund.refresh_from_db()
    assert (refund.status, refund.last_send_error) == ("succeeded", "")


# 2 ----------------------------------------------------------------------------------------------
def test_a_timeout_then_a_429_keeps_the_refund_held_and_the_sweep_finds_it_made(
    stripe_sandbox, finance, paid
):
    # The first attempt reaches Stripe and runs after the client gave up; the SDK's retry is
    # answered 429. Stripe made the refund.
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "hang", count=1, seconds=3)
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "429", count=1)
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": "10.00"}, format="json")
    assert response.status_code == 503
    refund = Refund.objects.get()
    assert refund.status == "pending" and "may have been made" in refund.last_send_error
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")  # held, not freed

    wait_until(lambda: at_stripe(stripe_sandbox) != [])
    out_of_flight(refund)
    assert f"refund #{refund.pk}" in run("settle_refunds")
    refund.refresh_from_db()
    assert (refund.status, refund.stripe_refund_id is not None) == ("succeeded", True)
    assert at_stripe(stripe_sandbox) == [(1000, "succeeded", str(refund.pk))]
    assert refund_posts(stripe_sandbox) == 2  # found by listing: not sent a third time


# 3 ----------------------------------------------------------------------------------------------
def test_an_error_after_the_webhook_recorded_the_refund_never_moves_it_back(
    stripe_sandbox, finance, paid, settings, monkeypatch
):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    real_create = stripe_client.refund_create
    hooks = Client()

    def made_then_an_error(**kwargs):
        # Stripe makes the refund and its webhook arrives first; then this request gets an error.
        real_create(**kwargs)
        for evt in sandbox_events(stripe_sandbox, "charge.refunded"):
            assert deliver(hooks, evt).status_code == 200
        raise stripe_client.InvalidRequest(
            "late error", outcome=stripe_client.Outcome.REFUSED, code="parameter_invalid"
        )

    monkeypatch.setattr(stripe_client, "refund_create", made_then_an_error)
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": "10.00"}, format="json")
    assert response.status_code == 201, response.json()
    refund = Refund.objects.get()
    assert (refund.status, refund.stripe_refund_id is not None) == ("succeeded", True)
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("10.00"))


# 5 ----------------------------------------------------------------------------------------------
class _WorkerKilled(BaseException):
    """The process died in the middle of the Stripe call (gunicorn's timeout, a deploy)."""


def test_a_refund_orphaned_between_reserve_and_send_is_found_by_the_sweep(
    stripe_sandbox, finance, browser, paid, monkeypatch
):
    Payment.objects.filter(pk=paid.pk).update(created_at=timezone.now() - timedelta(days=200))

    def killed(**kwargs):
        raise _WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(stripe_client, "refund_create", killed)
        with pytest.raises(_WorkerKilled):
            finance.post(CREATE, {"payment_id": paid.pk, "amount": "25.00"}, format="json")
    refund = Refund.objects.get()
    assert refund.is_unanswered
    page = browser.get(reverse("backoffice:dashboard")).content.decode()
    assert "Refunds waiting for Stripe" in page
    assert browser.get(reverse("backoffice:dashboard")).context["refunds_attention"].waiting == 1

    assert "Settled 0 refund(s); 0 still waiting" in run("settle_refunds")  # in flight: left be
    assert at_stripe(stripe_sandbox) == []
    out_of_flight(refund)
    assert f"refund #{refund.pk} of payment #{paid.pk}: pending -> succeeded" in run(
        "settle_refunds"
    )
    assert at_stripe(stripe_sandbox) == [(2500, "succeeded", str(refund.pk))]
    assert "Settled 0" in run("settle_refunds")  # a second sweep changes nothing


# 6 ----------------------------------------------------------------------------------------------
def test_a_repeated_key_for_a_refused_refund_answers_the_same_502_and_sends_nothing(
    stripe_sandbox, finance, paid
):
    # Refunded in full in Stripe's Dashboard, unknown to us: Stripe refuses ours.
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id})
    headers = {"HTTP_IDEMPOTENCY_KEY": "k-1"}
    body = {"payment_id": paid.pk, "amount": "10.00"}
    first = finance.post(CREATE, body, format="json", **headers)
    second = finance.post(CREATE, body, format="json", **headers)
    assert first.status_code == second.status_code == 502
    assert first.json() == second.json()
    assert refund_posts(stripe_sandbox) == 2  # the Dashboard's and ours, once


# 7 ----------------------------------------------------------------------------------------------
def test_a_dashboard_refund_beside_a_held_refund_holds_it_until_stripe_says(
    stripe_sandbox, finance, browser, paid, settings, client
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "500", count=1)  # never ran at Stripe
    ours = finance.post(CREATE, {"payment_id": paid.pk, "amount": "50.00"}, format="json")
    assert ours.status_code == 503
    held = Refund.objects.get()
    # Then the whole payment is refunded in Stripe's Dashboard, and Stripe says so.
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id})
    for evt in sandbox_events(stripe_sandbox, "charge.refunded"):
        assert deliver(client, evt).status_code == 200

    # The books never pass the payment, but ours is not freed on a deduction: only Stripe can
    # say whether it was made (a refund we count could have failed there since).
    held.refresh_from_db()
    assert held.is_unanswered and "no room" in held.last_send_error
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("refunded", Decimal("100.00"))
    # Once no send of it can still be in flight, asking Stripe settles it: not among Stripe's
    # refunds, sent again with its key, refused for want of room.
    Refund.objects.filter(pk=held.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    assert browser.post(reverse("backoffice:payment_refresh", args=[paid.pk])).status_code == 302
    held.refresh_from_db()
    assert held.status == "failed" and held.stripe_refund_id is None
    assert "Checked 1 payments" in run("reconcile_payments")
    assert at_stripe(stripe_sandbox) == [(10000, "succeeded", "")]
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("100.00")


def test_reconcile_goes_on_past_a_payment_that_fails(stripe_sandbox, paid):
    broken = factories.paid_payment(stripe_sandbox, total="20.00")
    # A row that disagrees with Stripe beyond repair (its amount edited in the database): its
    # Stripe refund cannot be recorded. The other payment must still be repaired.
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": broken.stripe_payment_intent_id})
    Payment.objects.filter(pk=broken.pk).update(amount=Decimal("5.00"))
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 1500}
    )
    err = StringIO()
    with pytest.raises(CommandError, match="could not be checked"):
        call_command("reconcile_payments", stdout=StringIO(), stderr=err)
    assert f"payment #{broken.pk}" in err.getvalue()
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("15.00"))


# 8 ----------------------------------------------------------------------------------------------
def test_a_resend_after_stripes_idempotency_window_finds_the_refund_instead_of_repeating_it(
    stripe_sandbox, finance, paid, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "lost", count=1)  # made; answer lost
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": "30.00"}, format="json")
    assert response.status_code == 503
    refund = Refund.objects.get()
    stripe_sandbox.expire_idempotency_keys()  # a day later: the key would run anew
    out_of_flight(refund)
    run("settle_refunds")
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert at_stripe(stripe_sandbox) == [(3000, "succeeded", str(refund.pk))]
    assert refund_posts(stripe_sandbox) == 1


# 10 ---------------------------------------------------------------------------------------------
def test_an_idempotency_key_used_by_another_database_is_an_error_for_a_person(
    stripe_sandbox, finance, browser, paid, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_IDEMPOTENCY_PREFIX = ""
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "500", count=1)
    body = {"payment_id": paid.pk, "amount": "5.00"}
    assert finance.post(CREATE, body, format="json").status_code == 503
    refund = Refund.objects.get()
    # Another database on the same Stripe account, also without a prefix, uses "refund-<id>".
    elsewhere = factories.paid_payment(stripe_sandbox, total="9.00")
    status, _, _ = stripe_sandbox.api(
        "POST",
        "/v1/refunds",
        {"payment_intent": elsewhere.stripe_payment_intent_id, "amount": 100},
        idempotency_key=f"refund-{refund.pk}",
    )
    assert status == 200
    out_of_flight(refund)
    run("settle_refunds")
    refund.refresh_from_db()
    assert refund.status == "failed"
    assert "STRIPE_IDEMPOTENCY_PREFIX" in refund.failure_reason
    assert "Needs a person" in refund.failure_reason
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("0")  # Stripe refunded nothing of this payment
    attention = browser.get(reverse("backoffice:dashboard")).context["refunds_attention"]
    assert (attention.waiting, attention.failed) == (0, 1)


# 11 ---------------------------------------------------------------------------------------------
def test_idempotency_keys_belong_to_their_caller(stripe_sandbox, finance, fiona, paid):
    other = factories.api_client(factories.user("gus", group="Finance"))
    body = {"payment_id": paid.pk, "amount": "10.00", "reason": "duplicate"}
    mine = finance.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="1")
    theirs = other.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="1")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert Refund.objects.get(pk=theirs.json()["id"]).created_by.username == "gus"
    assert [a for a, _, _ in at_stripe(stripe_sandbox)] == [1000, 1000]


# 12 ---------------------------------------------------------------------------------------------
def test_a_null_amount_is_a_400_not_a_full_refund(stripe_sandbox, finance, paid):
    response = finance.post(CREATE, {"payment_id": paid.pk, "amount": None}, format="json")
    assert response.status_code == 400
    assert "amount" in response.json()["error"]["fields"]
    assert not Refund.objects.exists()
    assert refund_posts(stripe_sandbox) == 0


# Stripe's contract ----------------------------------------------------------------------------
def test_a_500_stripe_stored_under_the_key_keeps_the_refund_held_until_the_key_expires(
    stripe_sandbox, finance, paid, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "failed", count=1)  # began, then failed
    body = {"payment_id": paid.pk, "amount": "12.00"}
    assert finance.post(CREATE, body, format="json").status_code == 503
    refund = Refund.objects.get()
    out_of_flight(refund)
    with pytest.raises(CommandError, match="still wait"):
        run("settle_refunds")  # not at Stripe; sent again with its key: Stripe replays the 500
    refund.refresh_from_db()
    assert refund.is_unanswered
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("12.00")  # held all along
    assert at_stripe(stripe_sandbox) == []

    stripe_sandbox.expire_idempotency_keys()  # a day later, Stripe has forgotten the key
    out_of_flight(refund)
    run("settle_refunds")
    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert at_stripe(stripe_sandbox) == [(1200, "succeeded", str(refund.pk))]


def test_a_blind_retry_after_a_503_is_refused_even_once_stripes_answer_arrived(
    stripe_sandbox, finance, paid, settings
):
    """Found by the money model under load: a 503 (Stripe acted, its answer lost), then reconcile
    records the refund as made, then the caller retries the same body without a key."""
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "lost", count=1)
    body = {"payment_id": paid.pk, "amount": "1.00"}
    first = finance.post(CREATE, body, format="json")
    assert first.status_code == 503
    run("reconcile_payments")
    refund = Refund.objects.get()
    assert refund.status == "succeeded"
    again = finance.post(CREATE, body, format="json")
    assert again.status_code == 409
    assert (
        f"Refund #{refund.pk} of EUR 1.00 was asked for moments ago"
        in (again.json()["error"]["message"])
    )
    assert Refund.objects.count() == 1
    assert at_stripe(stripe_sandbox) == [(100, "succeeded", str(refund.pk))]
    # With a new key it is a new refund, on purpose.
    third = finance.post(CREATE, body, format="json", HTTP_IDEMPOTENCY_KEY="second-euro")
    assert third.status_code == 201
