"""The README's screenshots, made by the browser on every test run so they show the pages as
they are: docs/screenshots/{dashboard,payments-filtered,payment,refund-confirmation}.png.

The data is the demo's (payments.demo_data, seeded from fixed random seeds) dated back from the
start of the current hour, so two runs draw the same pages apart from the dates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from payments import demo_data
from payments.models import Payment
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture
def demo(monkeypatch) -> None:
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    with monkeypatch.context() as patch:
        patch.setattr(demo_data.timezone, "now", lambda: hour)
        demo_data.seed_payments(120, demo_data.extra_customers(40))


@pytest.fixture
def screen(browser: Browser):
    context = browser.new_context(
        viewport=VIEWPORT,
        device_scale_factor=1,
        color_scheme="light",
        locale="en-GB",
        timezone_id="UTC",
        reduced_motion="reduce",
    )
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def shoot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling')")
    page.screenshot(path=SCREENSHOTS / name, animations="disabled", caret="hide")


def eur_card_payment(status: str) -> Payment:
    """The demo's first EUR card payment in this status (one with no refund at all, if paid)."""
    payments = Payment.objects.filter(
        currency="EUR", status=status, payment_method=Payment.Method.CARD
    )
    if status == Payment.Status.SUCCEEDED:
        payments = payments.filter(refunds__isnull=True)
    return payments.order_by("pk").first()


def test_the_readmes_screenshots(live_server, screen: Page, demo):
    page = screen
    base = live_server.url
    factories.user("finance", group="Finance")
    log_in(page, base, "finance")
    page.mouse.move(0, 0)  # no hover effect in the pictures
    shoot(page, "dashboard.png")

    page.goto(f"{base}/backoffice/payments/?status=succeeded&currency=EUR")
    expect(page.locator("#table tbody tr").first).to_be_visible()
    shoot(page, "payments-filtered.png")

    partly = eur_card_payment(Payment.Status.PARTIALLY_REFUNDED)
    page.goto(f"{base}/backoffice/payments/{partly.pk}/")
    expect(page.get_by_role("heading", name=f"Payment #{partly.pk}")).to_be_visible()
    shoot(page, "payment.png")

    paid = eur_card_payment(Payment.Status.SUCCEEDED)
    page.goto(f"{base}/backoffice/payments/{paid.pk}/")
    page.get_by_label(f"Amount ({paid.currency})").fill("20")
    page.get_by_label("Reason").select_option("requested_by_customer")
    page.get_by_label("Note (optional)").fill("Returned one of two items")
    page.get_by_role("button", name="Review refund").click()
    expect(page.get_by_role("heading", name="Confirm the refund")).to_be_focused()
    page.evaluate("document.getElementById('refund-panel').scrollIntoView({block: 'end'})")
    shoot(page, "refund-confirmation.png")

    for name in ["dashboard", "payments-filtered", "payment", "refund-confirmation"]:
        assert (SCREENSHOTS / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
