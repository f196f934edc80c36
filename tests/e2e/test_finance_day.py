"""A finance user's day, and a support user's, in a real browser."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment, Refund
from tests import factories
from tests.e2e.conftest import log_in

# serialized_rollback keeps the roles (a data migration's rows) for the tests after these.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def shop(stripe_sandbox) -> dict[str, Payment]:
    """A paid payment at the Stripe stand-in, among others the filters must leave out."""
    customer = factories.user("dora", email="dora@example.com")
    paid = factories.paid_payment(stripe_sandbox, customer, total="99.99")
    for total in ["12.00", "30.00"]:
        factories.payment(factories.order(total=total), status=Payment.Status.FAILED)
    factories.payment(factories.order(total="5000", currency="JPY"))
    return {"paid": paid}


def test_a_finance_users_day(live_server, page: Page, shop):
    paid = shop["paid"]
    factories.user("fiona", group="Finance")
    log_in(page, live_server.url, "fiona")

    # Find the payment: filters swap only the table (the form stays the same element) and the
    # URL follows, so the view can be bookmarked.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.evaluate("document.getElementById('filters').dataset.kept = 'yes'")
    page.get_by_label("Status").select_option("succeeded")
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    expect(page.get_by_role("link", name="#" + str(paid.pk), exact=True)).to_be_visible()
    expect(page.locator("#table")).not_to_contain_text("EUR 12.00")
    page.get_by_label("Search").fill(paid.stripe_payment_intent_id)
    page.get_by_label("Search").press("Enter")
    expect(page).to_have_url(re.compile(rf"q={paid.stripe_payment_intent_id}"))
    expect(page.locator("#table tbody tr")).to_have_count(1)
    expect(page.locator("#table")).not_to_contain_text("JPY 5,000")
    assert page.evaluate("document.getElementById('filters').dataset.kept") == "yes"

    # Open it.
    page.get_by_role("link", name=f"#{paid.pk}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Payment #{paid.pk}")).to_be_visible()
    expect(page.get_by_test_id("refundable")).to_have_text("EUR 99.99")

    # A mistake first: too precise for euros; the panel shows why, in place.
    page.get_by_label("Amount (EUR)").fill("10.001")
    page.get_by_role("button", name="Review refund").click()
    expect(page.locator("#refund-panel")).to_contain_text("at most 2 decimal places")

    # Then refund part of it through the confirmation step.
    page.get_by_label("Amount (EUR)").fill("50")
    page.get_by_label("Reason").select_option("duplicate")
    page.get_by_label("Note (optional)").fill("Charged twice")
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_test_id("confirm-summary")).to_have_text(
        "Refund EUR 50.00 of EUR 99.99 to Visa ending 4242"
    )
    assert not Refund.objects.exists()
    page.get_by_role("button", name="Yes, refund EUR 50.00").click()

    # The page updates in place.
    expect(page.locator(".message-success")).to_contain_text("of EUR 50.00 succeeded")
    expect(page.get_by_test_id("refundable")).to_have_text("EUR 49.99")
    expect(page.get_by_role("heading", name=f"Payment #{paid.pk}")).to_contain_text(
        "Partially refunded"
    )
    expect(page.get_by_test_id("payment-refunds")).to_contain_text("Charged twice")
    refund = Refund.objects.get()
    assert (refund.amount, refund.created_by.username) == (Decimal("50.00"), "fiona")

    # And in the refunds list.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Refunds").click()
    expect(page.locator("#table")).to_contain_text("EUR 50.00")
    expect(page.locator("#table")).to_contain_text("fiona")
    expect(page.locator("#table")).to_contain_text("Duplicate")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_a_support_user_sees_no_refund_form(live_server, page: Page, shop):
    paid = shop["paid"]
    factories.user("sam", group="Support")
    log_in(page, live_server.url, "sam")
    page.goto(f"{live_server.url}/backoffice/payments/{paid.pk}/")
    expect(page.get_by_role("heading", name=f"Payment #{paid.pk}")).to_be_visible()
    expect(page.get_by_test_id("refundable")).to_have_text("EUR 99.99")
    expect(page.locator("#refund-panel")).to_have_count(0)
    expect(page.get_by_role("button", name="Review refund")).to_have_count(0)
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_it_all_works_without_javascript(live_server, page_without_js: Page, shop):
    page = page_without_js
    paid = shop["paid"]
    factories.user("fiona", group="Finance")
    log_in(page, live_server.url, "fiona")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Payments").click()
    page.get_by_label("Status").select_option("succeeded")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    page.get_by_role("link", name=f"#{paid.pk}", exact=True).click()
    page.get_by_label("Amount (EUR)").fill("20")
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_test_id("confirm-summary")).to_have_text(
        "Refund EUR 20.00 of EUR 99.99 to Visa ending 4242"
    )
    page.get_by_role("button", name="Yes, refund EUR 20.00").click()
    expect(page).to_have_url(f"{live_server.url}/backoffice/payments/{paid.pk}/")
    expect(page.locator(".message-success")).to_contain_text("of EUR 20.00 succeeded")
    expect(page.get_by_test_id("refundable")).to_have_text("EUR 79.99")
