"""Moving around the lists in a real browser: Back and Forward keep the filter form in step with
the table, a payment leads back to its filtered list, and the webhook pages (ignored events
hidden, CSV export, a payment's timeline that shows new events by itself)."""

from __future__ import annotations

import contextlib
import csv
import io
import re

import pytest
from django.core.cache import cache
from playwright.sync_api import Page, expect

from payments.models import Payment, StripeWebhookEvent
from tests import factories
from tests.e2e.conftest import log_in

# serialized_rollback keeps the roles (a data migration's rows) for the tests after these.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
Status = StripeWebhookEvent.Status


@pytest.fixture
def payments() -> dict[str, Payment]:
    def pay(total: str, currency: str, status: str, method: str) -> Payment:
        return factories.payment(
            factories.order(total=total, currency=currency), status=status, payment_method=method
        )

    made = {
        "eur_card": pay("11.00", "EUR", Payment.Status.SUCCEEDED, Payment.Method.CARD),
        "gbp_card": pay("22.00", "GBP", Payment.Status.SUCCEEDED, Payment.Method.CARD),
        "gbp_bank": pay("33.00", "GBP", Payment.Status.SUCCEEDED, Payment.Method.BANK_TRANSFER),
        "gbp_failed": pay("44.00", "GBP", Payment.Status.FAILED, Payment.Method.CARD),
    }
    cache.clear()  # the currency filter's choices are cached: let it see these
    factories.user("fiona", group="Finance")
    return made


def _succeeded_in_gbp(page: Page, url: str) -> None:
    """Fiona's payments list, filtered to succeeded, then to GBP: two pushed URLs to go back by."""
    log_in(page, url, "fiona")
    page.goto(f"{url}/backoffice/payments/")
    page.get_by_label("Status").select_option("succeeded")
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    page.get_by_label("Currency").select_option("GBP")
    expect(page).to_have_url(re.compile(r"currency=GBP"))


def _amounts(page: Page) -> list[str]:
    return sorted(re.findall(r"(?:EUR|GBP) \d+\.\d\d", page.locator("#table tbody").inner_text()))


def test_back_and_forward_keep_the_filters_in_step_with_the_table(
    live_server, page: Page, payments
):
    log_in(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/backoffice/payments/")
    page.evaluate("document.getElementById('filters').dataset.kept = 'yes'")
    status, currency, method = (page.get_by_label(n) for n in ("Status", "Currency", "Method"))

    status.select_option("succeeded")
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    expect(page.locator("#table")).not_to_contain_text("GBP 44.00")
    currency.select_option("GBP")
    expect(page).to_have_url(re.compile(r"currency=GBP"))
    expect(page.locator("#table")).not_to_contain_text("EUR 11.00")
    # Filtering swaps the table only: the form is the same element (focus stays put).
    assert page.evaluate("document.getElementById('filters').dataset.kept") == "yes"

    # Back: "Succeeded, any currency", in the table and in the form.
    page.go_back()
    expect(page).to_have_url(re.compile(r"status=succeeded"))
    expect(page).not_to_have_url(re.compile(r"currency=GBP"))
    expect(page.locator("#table")).to_contain_text("EUR 11.00")
    expect(status).to_have_value("succeeded")
    expect(currency).to_have_value("")
    expect(page.locator("#table tbody tr")).to_have_count(3)  # waits for the swap, not a race
    assert _amounts(page) == ["EUR 11.00", "GBP 22.00", "GBP 33.00"]

    # Forward: GBP again, in both.
    page.go_forward()
    expect(page).to_have_url(re.compile(r"currency=GBP"))
    expect(page.locator("#table")).not_to_contain_text("EUR 11.00")
    expect(currency).to_have_value("GBP")
    expect(status).to_have_value("succeeded")

    # Back again, then another filter: the status the table was drawn with is kept.
    page.go_back()
    expect(currency).to_have_value("")
    method.select_option("card")
    expect(page).to_have_url(re.compile(r"status=succeeded.*method=card"))
    expect(page.locator("#table")).not_to_contain_text("GBP 33.00")
    expect(page.locator("#table tbody tr")).to_have_count(2)
    assert _amounts(page) == ["EUR 11.00", "GBP 22.00"]

    # Back to where it all started: every filter "Any", every payment.
    page.go_back()
    page.go_back()
    expect(page).to_have_url(f"{live_server.url}/backoffice/payments/")
    expect(status).to_have_value("")
    expect(page.locator("#table")).to_contain_text("GBP 44.00")
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") is None
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_two_quick_backs_end_on_the_page_of_the_second(live_server, page: Page, payments):
    """The first Back's page comes late, after the second Back's: it is not drawn over it."""
    _succeeded_in_gbp(page, live_server.url)

    held = []

    def hold_the_first_restore(route) -> None:
        if "hx-history-restore-request" in route.request.headers and not held:
            held.append(route)  # answered below, after the second Back's page is drawn
        else:
            route.continue_()

    page.route(re.compile(r"/backoffice/payments/"), hold_the_first_restore)
    page.evaluate("history.back()")
    expect(page).not_to_have_url(re.compile(r"currency=GBP"))
    page.evaluate("history.back()")
    expect(page).to_have_url(f"{live_server.url}/backoffice/payments/")
    expect(page.get_by_label("Status")).to_have_value("")
    expect(page.locator("#table")).to_contain_text("GBP 44.00")
    assert len(held) == 1
    with contextlib.suppress(Exception):  # an aborted request cannot be continued: the point
        held[0].continue_()  # the first Back's answer, late
    page.wait_for_timeout(1000)
    expect(page).to_have_url(f"{live_server.url}/backoffice/payments/")
    expect(page.get_by_label("Status")).to_have_value("")
    expect(page.locator("#table")).to_contain_text("GBP 44.00")


def test_a_payment_leads_back_to_its_filtered_list(live_server, page: Page, payments):
    _succeeded_in_gbp(page, live_server.url)
    expect(page.locator("#table")).not_to_contain_text("EUR 11.00")

    page.get_by_role("link", name=f"#{payments['gbp_card'].pk}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Payment #{payments['gbp_card'].pk}")).to_be_visible()
    page.get_by_role("link", name="← Payments").click()

    expect(page).to_have_url(re.compile(r"/backoffice/payments/\?status=succeeded&currency=GBP$"))
    expect(page.get_by_label("Status")).to_have_value("succeeded")
    expect(page.get_by_label("Currency")).to_have_value("GBP")
    assert _amounts(page) == ["GBP 22.00", "GBP 33.00"]
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_the_way_back_works_without_javascript(live_server, page_without_js: Page, payments):
    page = page_without_js
    log_in(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/backoffice/payments/")
    page.get_by_label("Currency").select_option("GBP")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"currency=GBP"))
    page.get_by_role("link", name=f"#{payments['gbp_bank'].pk}", exact=True).click()
    page.get_by_role("link", name="← Payments").click()
    expect(page).to_have_url(re.compile(r"/backoffice/payments/\?currency=GBP$"))
    expect(page.get_by_label("Currency")).to_have_value("GBP")


def _event(n: int, event_type: str, status: str, payment: Payment | None = None):
    return StripeWebhookEvent.objects.create(
        stripe_event_id=f"evt_e2e_{n}",
        event_type=event_type,
        status=status,
        data={"id": f"evt_e2e_{n}", "type": event_type},
        payment=payment,
    )


def test_webhook_events_hide_ignored_ones_and_export_what_they_show(
    live_server, page: Page, payments
):
    _event(1, "payment_intent.succeeded", Status.PROCESSED, payments["eur_card"])
    _event(2, "customer.created", Status.IGNORED)
    log_in(page, live_server.url, "fiona")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Webhook events").click()
    table = page.locator("#table")
    expect(table).to_contain_text("evt_e2e_1")
    expect(table).not_to_contain_text("evt_e2e_2")

    page.get_by_label("Show ignored").check()
    expect(page).to_have_url(re.compile(r"show_ignored=on"))
    expect(table).to_contain_text("evt_e2e_2")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export CSV").click()
    assert download.value.suggested_filename.startswith("webhook-events-")
    with open(download.value.path(), encoding="utf-8") as f:
        rows = list(csv.DictReader(io.StringIO(f.read())))
    assert [r["stripe_event_id"] for r in rows] == ["evt_e2e_2", "evt_e2e_1"]

    page.get_by_label("Show ignored").uncheck()
    expect(table).not_to_contain_text("evt_e2e_2")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def _wait_until(page: Page, condition, timeout_ms: int = 5000) -> None:
    for _ in range(timeout_ms // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("the condition did not come true")


def test_the_payment_timeline_shows_new_events_by_itself(live_server, page: Page, payments):
    payment = payments["gbp_card"]
    _event(1, "payment_intent.created", Status.PROCESSED, payment)
    log_in(page, live_server.url, "fiona")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/timeline/" in r.url else None)
    page.clock.install()
    page.goto(f"{live_server.url}/backoffice/payments/{payment.pk}/")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("payment_intent.created")
    page.evaluate("document.getElementById('timeline').dataset.kept = 'yes'")

    # Nothing new: the poll is answered 204 and the section is left as it is.
    page.clock.run_for(10_500)
    _wait_until(page, lambda: len(polls) == 1)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.getElementById('timeline').dataset.kept") == "yes"

    # A hidden page does not poll.
    page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
    _event(2, "charge.refunded", Status.PROCESSED, payment)
    page.clock.run_for(20_500)
    page.wait_for_load_state("networkidle")
    assert len(polls) == 1
    expect(timeline).not_to_contain_text("charge.refunded")

    # Shown again: it asks at once, and the new event appears.
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    expect(timeline).to_contain_text("charge.refunded")
    assert len(polls) == 2

    # And the next one arrives with the next poll.
    _event(3, "charge.dispute.created", Status.PROCESSED, payment)
    page.clock.run_for(10_500)
    expect(timeline).to_contain_text("charge.dispute.created")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]
