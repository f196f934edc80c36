"""The demo checkout: a customer pays orders in a real browser, through the JSON API, the
stand-in's Stripe.js and its 3-D Secure page; Stripe's webhooks settle the books."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from payments.models import Payment
from shop.models import Order
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def shop(live_server, stripe_sandbox):
    alice = factories.user("alice")
    orders = [factories.order(alice, total="49.90"), factories.order(alice, total="120.00")]
    stripe_sandbox.add_webhook_endpoint(f"{live_server.url}/api/payments/webhook/stripe/")
    return live_server.url, orders


def open_checkout(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/checkout/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your unpaid orders")).to_be_visible()


def fill_card(page: Page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiration date").fill("12 / 34")
    page.get_by_label("Security code (CVC)").fill("123")


def test_a_customer_pays_an_order_with_the_success_card(page: Page, shop, stripe_sandbox):
    base_url, (first, second) = shop
    open_checkout(page, base_url)
    page.get_by_role("button", name=f"Pay order #{first.pk}").click()
    expect(page.get_by_role("status")).to_have_text("")
    expect(page.get_by_role("heading", name=f"Pay order #{first.pk} (EUR 49.90)")).to_be_visible()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment succeeded: order #{first.pk} is paid."
    )
    # The paid order left the list; the other one is still there.
    expect(page.get_by_role("button", name=f"Pay order #{first.pk}")).to_have_count(0)
    expect(page.get_by_role("button", name=f"Pay order #{second.pk}")).to_be_visible()
    stripe_sandbox.wait_for_deliveries()
    assert page.problems == []  # type: ignore[attr-defined]
    payment = Payment.objects.get(order=first)
    assert (payment.status, payment.card_last4) == ("succeeded", "4242")
    assert Order.objects.get(pk=first.pk).status == "paid"


def test_a_declined_card_says_so_and_another_card_pays(page: Page, shop, stripe_sandbox):
    base_url, (first, _) = shop
    open_checkout(page, base_url)
    page.get_by_role("button", name=f"Pay order #{first.pk}").click()
    fill_card(page, "4000 0000 0000 9995")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        "Your card has insufficient funds. Try another card. You have not been charged."
    )
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment succeeded: order #{first.pk} is paid."
    )
    stripe_sandbox.wait_for_deliveries()
    assert Payment.objects.get(order=first).status == "succeeded"


def test_a_declined_card_gets_a_shoppers_sentence(page: Page, shop, stripe_sandbox):
    base_url, (first, _) = shop
    open_checkout(page, base_url)
    page.get_by_role("button", name=f"Pay order #{first.pk}").click()
    fill_card(page, "4000 0000 0000 0002")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(
        "Your card was declined. Try another card, or ask your bank why. You have not been charged."
    )
    stripe_sandbox.wait_for_deliveries()
    assert Payment.objects.get(order=first).status == "failed"
    # Stripe answers a decline with a 402, which Chromium logs; nothing else went wrong.
    problems = page.problems  # type: ignore[attr-defined]
    assert [p for p in problems if not p.endswith("status of 402 (Payment Required)")] == []


def test_a_failed_3d_secure_check_says_so_without_stripes_developer_text(
    page: Page, shop, stripe_sandbox
):
    base_url, (first, _) = shop
    open_checkout(page, base_url)
    page.get_by_role("button", name=f"Pay order #{first.pk}").click()
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.frame_locator("iframe").get_by_role("button", name="Fail authentication").click()
    expect(page.get_by_role("status")).to_have_text(
        "Your bank could not confirm the payment (3-D Secure was not completed). "
        "Try again, or use another card. You have not been charged."
    )
    body = page.locator("body").inner_text()
    assert "PaymentMethod" not in body and "payment_method_data" not in body
    stripe_sandbox.wait_for_deliveries()
    assert Payment.objects.get(order=first).status == "failed"
    assert page.problems == []  # type: ignore[attr-defined]


def test_amounts_show_in_their_currencys_precision(page: Page, live_server, stripe_sandbox):
    alice = factories.user("alice")
    jpy = factories.order(alice, total="3500", currency="JPY")
    kwd = factories.order(alice, total="12.340", currency="KWD")
    stripe_sandbox.add_webhook_endpoint(f"{live_server.url}/api/payments/webhook/stripe/")
    open_checkout(page, live_server.url)
    expect(page.get_by_text(f"Order #{kwd.pk}: KWD 12.340")).to_be_visible()
    expect(page.get_by_text(f"Order #{jpy.pk}: JPY 3,500")).to_be_visible()
    page.get_by_role("button", name=f"Pay order #{jpy.pk}").click()
    expect(page.get_by_role("heading", name=f"Pay order #{jpy.pk} (JPY 3,500)")).to_be_visible()
    fill_card(page, "4242 4242 4242 4242")
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(f"Payment succeeded: order #{jpy.pk} is paid.")
    stripe_sandbox.wait_for_deliveries()
    assert page.problems == []  # type: ignore[attr-defined]
    assert Payment.objects.get(order=jpy).amount == 3500


def test_three_d_secure_is_completed_on_the_banks_page(page: Page, shop, stripe_sandbox):
    base_url, (first, _) = shop
    open_checkout(page, base_url)
    page.get_by_role("button", name=f"Pay order #{first.pk}").click()
    fill_card(page, "4000 0025 0000 3155")
    page.get_by_role("button", name="Pay", exact=True).click()
    bank = page.frame_locator("iframe")
    bank.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment succeeded: order #{first.pk} is paid."
    )
    stripe_sandbox.wait_for_deliveries()
    assert Payment.objects.get(order=first).status == "succeeded"


def test_a_bank_transfer_shows_its_instructions_and_is_paid_in_two_parts(
    page: Page, shop, stripe_sandbox, browser
):
    base_url, (_, second) = shop  # EUR 120.00
    open_checkout(page, base_url)
    page.get_by_role("button", name=f"Bank transfer for order #{second.pk}").click()
    expect(
        page.get_by_role("heading", name=f"Pay order #{second.pk} by bank transfer")
    ).to_be_visible()
    expect(page.locator("#bank-amount")).to_have_text("EUR 120.00")
    details = page.locator("#bank-details")
    expect(details).to_contain_text("IBAN")
    iban = details.locator("dt:has-text('IBAN') + dd").inner_text()
    assert iban.startswith("NL")  # the country the shop asked Stripe for (NL by default)
    reference = details.locator("dt:has-text('Reference') + dd").inner_text()

    payment = Payment.objects.get(order=second)
    stripe_sandbox.fund_cash_balance(payment.stripe_customer_id, 5000, "eur", reference)
    stripe_sandbox.wait_for_deliveries()
    page.get_by_role("button", name="Check the payment").click()
    expect(page.get_by_role("status")).to_have_text(
        f"EUR 70.00 still to arrive for order #{second.pk}."
    )

    # Finance sees the same in the back-office.
    factories.user("fiona", group="Finance")
    office = browser.new_context().new_page()
    log_in(office, base_url, "fiona")
    office.goto(f"{base_url}/backoffice/payments/{payment.pk}/")
    expect(office.get_by_test_id("amount-remaining")).to_contain_text("EUR 70.00 of EUR 120.00")

    stripe_sandbox.fund_cash_balance(payment.stripe_customer_id, 7000, "eur", reference)
    stripe_sandbox.wait_for_deliveries()
    page.get_by_role("button", name="Check the payment").click()
    expect(page.get_by_role("status")).to_have_text(
        f"Payment received: order #{second.pk} is paid."
    )
    payment.refresh_from_db()
    assert (payment.status, payment.amount_remaining) == ("succeeded", None)
    assert Order.objects.get(pk=second.pk).status == "paid"
    assert page.problems == []  # type: ignore[attr-defined]
