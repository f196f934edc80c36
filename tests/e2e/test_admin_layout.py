"""The admin's payment list fits a 1,366 px laptop screen without scrolling sideways."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from payments.models import Payment
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_the_payment_list_fits_a_1366_px_screen(browser: Browser, live_server):
    factories.user("root", is_staff=True, is_superuser=True)
    for n, (total, currency) in enumerate(
        [("1234567.89", "EUR"), ("350000", "JPY"), ("12.340", "KWD"), ("99.99", "USD")]
    ):
        owner = factories.user(f"customer{n:05d}")
        payment = factories.payment(
            factories.order(owner, total=total, currency=currency),
            status=Payment.Status.PARTIALLY_REFUNDED,
            payment_method=Payment.Method.BANK_TRANSFER,
        )
        Payment.objects.filter(pk=payment.pk).update(amount_refunded=Decimal("1"))
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/payments/payment/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("JPY 350,000")).to_be_visible()
    # The admin puts the table in a box that scrolls sideways (`.results`): it must not need to.
    table, box = page.evaluate(
        "[document.querySelector('#result_list').offsetWidth,"
        " document.querySelector('#changelist .results').clientWidth]"
    )
    assert table <= box
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    context.close()
