"""Four eyes in a real browser: one finance user asks for a large refund, a second approves it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from payments.models import Refund
from tests import factories
from tests.e2e.conftest import log_in

# serialized_rollback keeps the roles (a data migration's rows) for the tests after these.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_large_refund_waits_for_a_second_person(
    live_server, page: Page, stripe_sandbox, settings
):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": Decimal("500.00")}
    paid = factories.paid_payment(stripe_sandbox, total="800.00")
    factories.user("alice", group="Finance")
    factories.user("bob", group="Finance")

    # Alice asks for EUR 600.00: it is held, and nothing goes to Stripe.
    log_in(page, live_server.url, "alice")
    page.goto(f"{live_server.url}/backoffice/payments/{paid.pk}/")
    page.get_by_label("Amount (EUR)").fill("600")
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_test_id("confirm-summary")).to_contain_text(
        "it waits for a second person's approval, and nothing goes to Stripe until then"
    )
    page.get_by_role("button", name="Yes, ask for approval of EUR 600.00").click()
    expect(page.locator(".message-success")).to_contain_text(
        "of EUR 600.00 awaits approval by a second person"
    )
    refund = Refund.objects.get()
    expect(page.locator(".message-success")).to_contain_text(f"Refund #{refund.pk} of EUR 600.00")
    expect(page.get_by_test_id("payment-refunds")).to_contain_text("Awaiting approval")
    expect(page.get_by_test_id("refundable")).to_have_text("EUR 200.00")
    assert stripe_sandbox.requests_log(method="POST", path="/v1/refunds") == []
    # Her own request is listed without a way to approve it.
    page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Awaiting approval"
    ).click()
    expect(page.get_by_test_id("awaiting-refunds")).to_contain_text(
        "Yours: a second person decides"
    )
    expect(page.get_by_role("link", name="Review to approve")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()

    # Bob sees it on the dashboard, reviews it and approves it.
    log_in(page, live_server.url, "bob")
    expect(page.get_by_test_id("awaiting-approval")).to_have_text("1")
    page.get_by_role("link", name="Held until a second person decides").click()
    expect(page.get_by_test_id("awaiting-refunds")).to_contain_text("alice@example.com")
    page.get_by_role("link", name="Review to approve").click()
    expect(page.get_by_test_id("confirm-summary")).to_have_text(
        f"Approve refund #{refund.pk} of EUR 600.00 to Visa ending 4242, "
        "requested by alice@example.com"
    )
    page.get_by_role("button", name="Yes, approve and refund EUR 600.00").click()

    expect(page).to_have_url(f"{live_server.url}/backoffice/payments/{paid.pk}/")
    expect(page.locator(".message-success")).to_contain_text(
        f"Refund #{refund.pk} of EUR 600.00 approved: succeeded."
    )
    expect(page.get_by_test_id("payment-refunds")).to_contain_text("Approved by bob@example.com")
    refund.refresh_from_db()
    assert (refund.status, refund.approved_by.username) == ("succeeded", "bob")
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert call["idempotency_key"] == f"refund-{refund.pk}"
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
