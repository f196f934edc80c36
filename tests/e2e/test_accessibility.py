"""Every back-office page and the checkout pass axe-core (no serious or critical violation), and
the refund flow works by keyboard alone."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from payments import services
from payments.models import Dispute, Refund, StripeWebhookEvent
from tests import factories
from tests.e2e.accessibility import assert_accessible, wait_until_settled
from tests.e2e.conftest import log_in
from tests.e2e.test_disputes import hear_stripe
from tests.payments.webhook_helpers import SECRET

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def office(live_server, stripe_sandbox, settings):
    """Something on every page: a refundable payment, a refund awaiting approval, a dispute to
    answer, webhook events and audit entries."""
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": Decimal("500.00")}
    dora = factories.user("dora", email="dora@example.com")
    paid = factories.paid_payment(stripe_sandbox, dora, total="99.99")
    large = factories.paid_payment(stripe_sandbox, total="800.00")
    disputed = factories.paid_payment(stripe_sandbox, card="pm_card_createDispute")
    hear_stripe(stripe_sandbox)
    alice = factories.user("alice", group="Finance")
    services.refund_create(
        payment_id=large.pk, amount="600", reason="requested_by_customer", created_by=alice
    )
    factories.user("fiona", group="Finance")
    return {
        "paid": paid,
        "held": Refund.objects.get(payment=large),
        "dispute": Dispute.objects.get(payment=disputed),
        "event": StripeWebhookEvent.objects.order_by("pk").first(),
    }


def test_every_back_office_page_passes_axe(live_server, page: Page, office):
    base = live_server.url
    paid = office["paid"]

    page.goto(f"{base}/backoffice/")
    page.get_by_role("heading", name="Log in").wait_for()
    assert_accessible(page, "the login page")
    log_in(page, base, "fiona")
    assert_accessible(page, "the dashboard")

    page.goto(f"{base}/backoffice/payments/?status=succeeded&currency=EUR")
    expect(page.locator("#table tbody tr").first).to_be_visible()
    assert_accessible(page, "the payments list, filtered")
    page.get_by_label("Status").select_option("failed")  # an htmx swap: an empty table
    expect(page).to_have_url(re.compile(r"status=failed"))
    assert_accessible(page, "the payments list with no results")

    page.goto(f"{base}/backoffice/payments/{paid.pk}/")
    expect(page.get_by_role("heading", name=f"Payment #{paid.pk}")).to_be_visible()
    assert_accessible(page, "a payment with its refund form")
    page.get_by_label("Amount (EUR)").fill("10.001")
    page.get_by_role("button", name="Review refund").click()
    expect(page.locator("#refund-panel")).to_contain_text("at most 2 decimal places")
    assert_accessible(page, "the refund form with an error")
    page.get_by_label("Amount (EUR)").fill("10")
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_test_id("confirm-summary")).to_be_visible()
    assert_accessible(page, "the refund confirmation")
    page.get_by_role("button", name="Yes, refund EUR 10.00").click()
    expect(page.locator(".message-success")).to_contain_text("of EUR 10.00 succeeded")
    assert_accessible(page, "a payment after a refund")

    page.goto(f"{base}/backoffice/refunds/")
    assert_accessible(page, "the refunds list")
    page.goto(f"{base}/backoffice/refunds/awaiting/")
    expect(page.get_by_test_id("awaiting-refunds")).to_contain_text("alice@example.com")
    assert_accessible(page, "refunds awaiting approval")
    page.goto(f"{base}/backoffice/refunds/{office['held'].pk}/approve/")
    expect(page.get_by_test_id("confirm-summary")).to_be_visible()
    assert_accessible(page, "a refund's approval")

    page.goto(f"{base}/backoffice/disputes/")
    assert_accessible(page, "the disputes list")
    page.goto(f"{base}/backoffice/disputes/{office['dispute'].pk}/")
    expect(page.get_by_label("Product or service description")).to_be_visible()
    assert_accessible(page, "a dispute with the evidence form")

    page.goto(f"{base}/backoffice/webhooks/")
    assert_accessible(page, "the webhook events")
    page.goto(f"{base}/backoffice/webhooks/{office['event'].pk}/")
    assert_accessible(page, "a webhook event")

    page.goto(f"{base}/backoffice/audit/")
    assert_accessible(page, "the audit trail")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_the_checkout_passes_axe(live_server, page: Page, stripe_sandbox):
    alice = factories.user("alice")
    first = factories.order(alice, total="49.90")
    second = factories.order(alice, total="120.00")
    page.goto(f"{live_server.url}/checkout/")
    assert_accessible(page, "the checkout's login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your unpaid orders")).to_be_visible()
    assert_accessible(page, "the checkout's orders")
    page.get_by_role("button", name=f"Bank transfer for order #{second.pk}").click()
    expect(page.locator("#bank-amount")).to_have_text("EUR 120.00")
    assert_accessible(page, "the checkout's bank transfer")
    page.get_by_role("button", name=f"Pay order #{first.pk}").click()
    expect(page.get_by_label("Card number")).to_be_visible()
    assert_accessible(page, "the checkout's card form")


def focused(page: Page) -> str:
    """What has the focus: its role-ish tag and its accessible text."""
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return e.tagName.toLowerCase() + ':' + (e.labels && e.labels[0] ? e.labels[0].innerText"
        " : (e.innerText || e.value || e.getAttribute('aria-label') || '')).trim(); }"
    )


def tab_to(page: Page, target: str, *, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the element described as `target` has the focus."""
    key = "Shift+Tab" if backwards else "Tab"
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        now = focused(page)
        seen.append(now)
        if now == target:
            return
    raise AssertionError(f"{key} never reached {target!r}; went through {seen}")


def test_a_refund_by_keyboard_alone(live_server, page: Page, stripe_sandbox):
    customer = factories.user("dora", email="dora@example.com")
    paid = factories.paid_payment(stripe_sandbox, customer, total="99.99")
    factories.user("fiona", group="Finance")
    base = live_server.url

    # Log in: the skip link first, then the form's fields.
    page.goto(f"{base}/backoffice/")
    tab_to(page, "a:Skip to content")
    tab_to(page, "input:Username")
    page.keyboard.type("fiona")
    page.keyboard.press("Tab")
    assert focused(page) == "input:Password"
    page.keyboard.type("pw-for-tests")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # To the payments list through the main menu, then to the payment, from its link.
    tab_to(page, "a:Payments")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Payments", exact=True)).to_be_visible()
    tab_to(page, f"a:#{paid.pk}")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Payment #{paid.pk}")).to_be_visible()

    # The refund form: a mistake first. After the swap the focus is on the field in error.
    tab_to(page, "input:Amount (EUR)")
    page.keyboard.type("10.001")
    page.keyboard.press("Enter")
    expect(page.locator("#refund-panel")).to_contain_text("at most 2 decimal places")
    wait_until_settled(page)
    expect(page.get_by_label("Amount (EUR)")).to_be_focused()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("25")
    page.keyboard.press("Tab")
    assert focused(page).startswith("select:Reason")
    page.keyboard.press("ArrowDown")  # a closed <select> takes arrow keys: the next reason
    page.keyboard.press("Tab")
    assert focused(page) == "textarea:Note (optional)"
    page.keyboard.type("Asked by phone")
    tab_to(page, "button:Review refund")
    page.keyboard.press("Space")

    # The confirmation: its heading has the focus, the next Tab is the confirm button.
    expect(page.get_by_test_id("confirm-summary")).to_have_text(
        "Refund EUR 25.00 of EUR 99.99 to Visa ending 4242"
    )
    wait_until_settled(page)
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_focused()
    # Change goes back to the form with what was typed; then review again.
    tab_to(page, "button:Change")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Amount (EUR)")).to_have_value("25.00")
    wait_until_settled(page)
    expect(page.get_by_label("Amount (EUR)")).to_be_focused()
    tab_to(page, "button:Review refund")
    page.keyboard.press("Enter")
    wait_until_settled(page)
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_focused()
    page.keyboard.press("Tab")
    assert focused(page) == "button:Yes, refund EUR 25.00"
    assert not Refund.objects.exists()
    page.keyboard.press("Enter")

    # Done: the outcome is announced and has the focus, so the next Tab goes on from there.
    success = page.locator(".message-success")
    expect(success).to_contain_text("of EUR 25.00 succeeded")
    wait_until_settled(page)
    expect(page.locator("#payment .messages")).to_be_focused()
    refund = Refund.objects.get()
    assert (refund.amount, refund.created_by.username) == (Decimal("25.00"), "fiona")
    assert refund.description == "Asked by phone"
    assert refund.reason != ""
    tab_to(page, "button:Refresh from Stripe")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
