"""Answering a dispute from the back-office, against the Stripe stand-in over real HTTP: evidence
saved and submitted, the dispute accepted, each once however often it is confirmed."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEntry
from payments.models import Dispute, Payment
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox(stripe_sandbox, settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    return stripe_sandbox


def _events(sandbox) -> list[dict[str, Any]]:
    status, body, _ = sandbox.api("GET", "/v1/events", {"limit": 100})
    assert status == 200, body
    return list(reversed(body["data"]))


def hear_stripe(sandbox) -> None:
    """Deliver every event the stand-in has made (again: applying is idempotent)."""
    hooks = Client()
    for evt in _events(sandbox):
        assert deliver(hooks, evt).status_code == 200, evt["type"]


def disputed_payment(sandbox, card: str = "pm_card_createDispute") -> tuple[Payment, Dispute]:
    payment = factories.paid_payment(sandbox, card=card)
    hear_stripe(sandbox)
    return Payment.objects.get(pk=payment.pk), Dispute.objects.get(payment=payment)


def _token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no one-time token in the confirmation"
    return match.group(1)


def review_evidence(client: Client, dispute: Dispute, action: str, **evidence: str):
    data = {"step": "review", "action": action, **evidence}
    response = client.post(reverse("backoffice:dispute_evidence", args=[dispute.pk]), data)
    assert response.status_code == 200, response.content
    return {**data, "step": "confirm", "token": _token(response.content.decode())}, response


def updates_of(sandbox, dispute: Dispute) -> list[dict]:
    return sandbox.requests_log(method="POST", path=f"/v1/disputes/{dispute.stripe_dispute_id}")


def test_a_chargeback_arrives_with_its_deadline_and_its_withdrawal(sandbox):
    payment, dispute = disputed_payment(sandbox)
    assert dispute.status == "needs_response" and dispute.reason == "fraudulent"
    assert dispute.funds_withdrawn and dispute.balance_net < 0
    assert dispute.evidence_due_by is not None
    assert payment.dispute_status == "needs_response"


def test_evidence_saved_as_a_draft_then_submitted_and_won(sandbox, finance, finance_user):
    payment, dispute = disputed_payment(sandbox)
    confirm, review = review_evidence(
        finance, dispute, "save", product_description="A blue mug, shipped 3 May"
    )
    assert "as a draft at Stripe (not sent)" in review.content.decode()
    assert not updates_of(sandbox, dispute)  # a review sends nothing

    url = reverse("backoffice:dispute_evidence", args=[dispute.pk])
    assert finance.post(url, confirm).status_code == 302
    assert finance.post(url, confirm).status_code == 302  # the same confirmation again: once
    assert len(updates_of(sandbox, dispute)) == 1
    at_stripe = sandbox.dispute(dispute.stripe_dispute_id)
    assert at_stripe["evidence"]["product_description"] == "A blue mug, shipped 3 May"
    assert at_stripe["status"] == "needs_response"  # staged, not submitted
    dispute.refresh_from_db()
    assert dispute.evidence == {"product_description": "A blue mug, shipped 3 May"}
    assert dispute.has_evidence and dispute.status == "needs_response"

    confirm, review = review_evidence(
        finance,
        dispute,
        "submit",
        product_description="A blue mug, shipped 3 May",
        uncategorized_text="winning_evidence",
    )
    assert "Stripe takes no changes after this" in review.content.decode()
    response = finance.post(url, confirm, follow=True)
    assert "Evidence submitted" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "under_review" and dispute.submission_count == 1

    sandbox.run_scheduled()  # the bank decides (the stand-in's winning_evidence)
    hear_stripe(sandbox)
    dispute.refresh_from_db()
    assert dispute.status == "won" and dispute.funds_reinstated

    entries = AuditEntry.objects.filter(object_id=dispute.stripe_dispute_id).order_by("at")
    assert [e.action for e in entries] == ["dispute.evidence_saved", "dispute.evidence_submitted"]
    assert all(e.actor == finance_user and e.payment_id == payment.pk for e in entries)
    assert entries[0].ip_address == "127.0.0.1"
    assert entries[1].before["status"] == "needs_response"
    assert entries[1].after["status"] == "under_review"


def test_a_confirmation_cannot_be_edited(sandbox, finance):
    _, dispute = disputed_payment(sandbox)
    confirm, _ = review_evidence(finance, dispute, "save", product_description="Reviewed text")
    confirm["product_description"] = "Something else"
    response = finance.post(reverse("backoffice:dispute_evidence", args=[dispute.pk]), confirm)
    assert response.status_code == 409
    assert "does not match what was reviewed" in response.content.decode()
    assert not updates_of(sandbox, dispute)


def test_a_confirmation_reviewed_before_someone_else_answered_is_stale(sandbox, finance):
    _, dispute = disputed_payment(sandbox)
    mine, _ = review_evidence(finance, dispute, "submit", uncategorized_text="My answer")
    other = Client()
    other.force_login(factories.user("gina", group="Finance"))
    theirs, _ = review_evidence(other, dispute, "submit", uncategorized_text="Their answer")
    url = reverse("backoffice:dispute_evidence", args=[dispute.pk])
    assert other.post(url, theirs).status_code == 302
    response = finance.post(url, mine)
    assert response.status_code == 409
    assert len(updates_of(sandbox, dispute)) == 1
    assert sandbox.dispute(dispute.stripe_dispute_id)["evidence"]["uncategorized_text"] == (
        "Their answer"
    )


def test_stripe_failing_changes_nothing_and_the_same_confirmation_can_be_sent_again(
    sandbox, finance
):
    _, dispute = disputed_payment(sandbox)
    confirm, _ = review_evidence(finance, dispute, "submit", uncategorized_text="Proof")
    path = f"/v1/disputes/{dispute.stripe_dispute_id}"
    sandbox.inject_fault("POST", path, "500", count=5)
    url = reverse("backoffice:dispute_evidence", args=[dispute.pk])
    response = finance.post(url, confirm)
    assert response.status_code == 503
    assert "Sending this same confirmation again asks Stripe once" in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.status == "needs_response" and not AuditEntry.objects.exists()
    sandbox.clear_faults()
    assert finance.post(url, confirm).status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == "under_review"
    keys = {r["idempotency_key"] for r in updates_of(sandbox, dispute)}
    assert len(keys) == 1  # every try of this confirmation was one request to Stripe


def test_accepting_a_dispute_closes_it_as_lost_and_counts_it_as_money_out(sandbox, finance):
    payment, dispute = disputed_payment(sandbox, card="pm_card_createDisputeProductNotReceived")
    url = reverse("backoffice:dispute_accept", args=[dispute.pk])
    review = finance.post(url, {"step": "review"})
    assert review.status_code == 200
    assert f"the customer keeps {dispute.amount_display}" in review.content.decode()
    token = _token(review.content.decode())
    assert finance.post(url, {"step": "confirm", "token": token}).status_code == 302
    assert finance.post(url, {"step": "confirm", "token": token}).status_code == 302  # once
    closes = sandbox.requests_log(
        method="POST", path=f"/v1/disputes/{dispute.stripe_dispute_id}/close"
    )
    assert len(closes) == 1
    dispute.refresh_from_db()
    assert dispute.status == "lost"
    assert AuditEntry.objects.get(action="dispute.accepted").object_id == dispute.stripe_dispute_id
    page = finance.get(reverse("backoffice:dashboard")).content.decode()
    lost = page.split('data-testid="disputes-lost">')[1].split("</dd>")[0]
    assert dispute.amount_display in lost
    # A lost chargeback's charge cannot be refunded: the form says so, and nothing is sent.
    detail = finance.get(reverse("backoffice:payment_detail", args=[payment.pk])).content.decode()
    assert 'data-testid="refund-blocked"' in detail


def test_an_inquiry_can_still_be_refunded_and_a_chargeback_is_refused_before_stripe(
    sandbox, finance
):
    payment, inquiry = disputed_payment(sandbox, card="pm_card_createDisputeInquiry")
    assert inquiry.status == "warning_needs_response" and inquiry.is_charge_refundable
    api = factories.api_client(factories.user("rita", group="Finance"))
    body = {"payment_id": payment.pk, "amount": "10.00"}
    response = api.post("/api/payments/refunds/create_refund/", body, format="json")
    assert response.status_code == 201, response.content

    charged_back, _ = disputed_payment(sandbox)
    sandbox.clear_requests_log()
    body = {"payment_id": charged_back.pk, "amount": "10.00"}
    response = api.post("/api/payments/refunds/create_refund/", body, format="json")
    assert response.status_code == 409
    assert not sandbox.requests_log(path="/v1/refunds")


def test_missed_dispute_events_are_repaired_by_refresh_and_by_reconcile(sandbox, finance):
    """No webhook arrives at all: a person's refresh finds the payment's dispute, and reconcile
    finds new disputes and the news of open ones."""
    refreshed = factories.paid_payment(sandbox, card="pm_card_createDispute")
    reconciled = factories.paid_payment(sandbox, card="pm_card_createDisputeInquiry")
    assert not Dispute.objects.exists()
    response = finance.post(reverse("backoffice:payment_refresh", args=[refreshed.pk]))
    assert response.status_code == 302
    assert Dispute.objects.get(payment=refreshed).status == "needs_response"
    assert AuditEntry.objects.get(action="payment.refreshed").after["dispute_status"] == (
        "needs_response"
    )

    call_command("reconcile_payments", stdout=io.StringIO())
    inquiry = Dispute.objects.get(payment=reconciled)
    assert inquiry.status == "warning_needs_response"
    # Decided at Stripe with no event heard: the next reconcile brings it.
    sandbox.dispute_decide(Dispute.objects.get(payment=refreshed).stripe_dispute_id, "lost")
    call_command("reconcile_payments", stdout=io.StringIO())
    assert Dispute.objects.get(payment=refreshed).status == "lost"
    assert Payment.objects.get(pk=refreshed.pk).dispute_status == "lost"
    run = AuditEntry.objects.filter(action="reconcile.run").order_by("-at").first()
    assert run is not None and "needs_response -> lost" in run.summary


def test_a_colleagues_draft_since_the_review_makes_the_confirmation_stale(sandbox, finance):
    _, dispute = disputed_payment(sandbox)
    mine, _ = review_evidence(finance, dispute, "submit", product_description="Mine")
    other = Client()
    other.force_login(factories.user("gina", group="Finance"))
    theirs, _ = review_evidence(
        other, dispute, "save", product_description="Theirs", shipping_tracking_number="TRACK123"
    )
    url = reverse("backoffice:dispute_evidence", args=[dispute.pk])
    assert other.post(url, theirs).status_code == 302
    response = finance.post(url, mine)
    assert response.status_code == 409
    assert "changed since this answer was reviewed" in response.content.decode()
    at_stripe = sandbox.dispute(dispute.stripe_dispute_id)
    assert at_stripe["evidence"]["shipping_tracking_number"] == "TRACK123"
    assert at_stripe["status"] == "needs_response"  # nothing submitted over the draft


def test_an_answer_stripe_made_but_whose_reply_was_lost_is_recorded_once_on_retry(
    sandbox, finance, finance_user
):
    """Stripe submitted; its reply was lost; the webhook then says "under review". The same
    confirmation sent again is not refused for that status: it asks Stripe (same key), and the
    answer is recorded once, with who gave it."""
    _, dispute = disputed_payment(sandbox)
    confirm, _ = review_evidence(finance, dispute, "submit", uncategorized_text="Proof")
    url = reverse("backoffice:dispute_evidence", args=[dispute.pk])
    sandbox.inject_fault("POST", f"/v1/disputes/{dispute.stripe_dispute_id}", "lost", count=5)
    response = finance.post(url, confirm)
    assert response.status_code == 503
    assert "it may have been made" in response.content.decode()
    sandbox.clear_faults()
    hear_stripe(sandbox)
    dispute.refresh_from_db()
    assert dispute.status == "under_review"  # Stripe did submit

    assert finance.post(url, confirm).status_code == 302
    entry = AuditEntry.objects.get()
    assert entry.action == "dispute.evidence_submitted" and entry.actor == finance_user
    assert (entry.before["status"], entry.after["status"]) == ("needs_response", "under_review")
    assert {r["idempotency_key"] for r in updates_of(sandbox, dispute)} == {
        updates_of(sandbox, dispute)[0]["idempotency_key"]
    }
    at_stripe = sandbox.dispute(dispute.stripe_dispute_id)
    assert at_stripe["evidence_details"]["submission_count"] == 1


def test_a_confirmation_without_its_token_is_a_400(sandbox, finance):
    _, dispute = disputed_payment(sandbox)
    url = reverse("backoffice:dispute_accept", args=[dispute.pk])
    assert finance.post(url, {"step": "confirm"}).status_code == 400
    assert not sandbox.requests_log(
        method="POST", path=f"/v1/disputes/{dispute.stripe_dispute_id}/close"
    )
