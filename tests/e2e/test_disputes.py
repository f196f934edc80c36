"""A finance user answers a chargeback with evidence, in a real browser."""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from payments.models import Dispute
from tests import factories
from tests.e2e.conftest import log_in
from tests.payments.webhook_helpers import SECRET, deliver

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def hear_stripe(sandbox) -> None:
    status, body, _ = sandbox.api("GET", "/v1/events", {"limit": 100})
    assert status == 200, body
    hooks = Client()
    for evt in reversed(body["data"]):
        assert deliver(hooks, evt).status_code == 200, evt["type"]


def test_a_chargeback_answered_with_evidence(live_server, page: Page, stripe_sandbox, settings):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    customer = factories.user("dora", email="dora@example.com")
    paid = factories.paid_payment(stripe_sandbox, customer, card="pm_card_createDispute")
    factories.paid_payment(stripe_sandbox)  # an undisputed one the filter must leave out
    hear_stripe(stripe_sandbox)
    dispute = Dispute.objects.get(payment=paid)
    factories.user("fiona", group="Finance")
    log_in(page, live_server.url, "fiona")

    # The dashboard says a dispute is due; its link lists it.
    expect(page.get_by_test_id("disputes-due")).to_contain_text("1")
    page.get_by_role("link", name="Answer before the deadline").click()
    expect(page.locator("#table tbody tr")).to_have_count(1)
    expect(page.locator("#table")).to_contain_text("Fraudulent")

    # The payment list shows the dispute too, and filters by it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.get_by_label("Dispute").select_option("open")
    expect(page.locator("#table tbody tr")).to_have_count(1)
    expect(page.locator("#table")).to_contain_text("Disputed · Needs response")

    # Open the dispute: draft the evidence, review, confirm.
    page.goto(f"{live_server.url}/backoffice/disputes/{dispute.pk}/")
    expect(page.get_by_test_id("dispute-status")).to_have_text("Needs response")
    page.get_by_label("Product or service description").fill("A blue mug, delivered 3 May")
    page.get_by_label("Customer email address").fill("dora@example.com")
    page.get_by_label("Other evidence or statement").fill("Signed for on delivery")
    page.get_by_label("Submit to the bank").check()
    page.get_by_role("button", name="Review").click()
    expect(page.get_by_test_id("confirm-summary")).to_contain_text(
        f"Submit 3 fields of evidence for dispute {dispute.stripe_dispute_id}"
    )
    page.get_by_role("button", name="Yes, submit the evidence").click()

    expect(page.locator(".message-success")).to_contain_text("Evidence submitted")
    expect(page.get_by_test_id("dispute-status")).to_have_text("Under review")
    expect(page.get_by_test_id("evidence-at-stripe")).to_contain_text("A blue mug, delivered 3 May")
    expect(page.get_by_test_id("dispute-timeline")).to_contain_text("Dispute evidence submitted by")
    expect(page.get_by_role("heading", name="Answer the dispute")).to_have_count(0)
    at_stripe = stripe_sandbox.dispute(dispute.stripe_dispute_id)
    assert at_stripe["status"] == "under_review"
    assert at_stripe["evidence"]["customer_email_address"] == "dora@example.com"

    # The bank decides; Stripe's events bring the outcome.
    stripe_sandbox.dispute_decide(dispute.stripe_dispute_id, "won")
    hear_stripe(stripe_sandbox)
    page.reload()
    expect(page.get_by_test_id("dispute-status")).to_have_text("Won")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
