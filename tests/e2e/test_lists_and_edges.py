"""In a real browser: a seeded demo payment refunds and refreshes (issue 13, item 2), the search
finds partial input (8), and the error pages lead somewhere (17)."""

from __future__ import annotations

import re
from io import StringIO
from urllib.parse import quote_plus

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from payments.models import Payment, Refund
from tests import factories
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_a_seeded_demo_payment_refreshes_and_refunds(live_server, page: Page, stripe_sandbox):
    call_command(
        "seed_demo",
        "--allow-production",
        "--payments",
        "30",
        "--stand-in",
        stdout=StringIO(),
        stderr=StringIO(),
    )
    seeded = (
        Payment.objects.filter(
            stripe_payment_intent_id__startswith="pi_demo_", status="succeeded", amount_refunded=0
        )
        .order_by("created_at")
        .first()
    )
    assert seeded is not None
    log_in(page, live_server.url, "finance", "finance-demo-pass")
    page.goto(f"{live_server.url}/backoffice/payments/{seeded.pk}/")
    page.get_by_role("button", name="Refresh from Stripe").click()
    expect(page.locator(".message-success")).to_contain_text("Refreshed from Stripe")
    page.get_by_label(re.compile(r"^Amount \(")).fill("1")
    page.get_by_role("button", name="Review refund").click()
    page.get_by_role("button", name=re.compile(r"^Yes, refund")).click()
    expect(page.locator(".message-success")).to_contain_text("succeeded")
    refund = Refund.objects.get(payment=seeded, created_by__username="finance")
    assert refund.status == "succeeded" and refund.stripe_refund_id


def test_the_search_finds_partial_input(live_server, page: Page):
    dora = factories.user("dora", email="dora.explorer@example.com", last_name="Márquez")
    mine = factories.payment(factories.order(dora), stripe_payment_intent_id="pi_3MabcDEF")
    factories.payment(factories.order(factories.user("zed", email="zed@else.org")))
    factories.user("fiona", group="Finance")
    log_in(page, live_server.url, "fiona")
    page.goto(f"{live_server.url}/backoffice/payments/")
    # "MáRQ": other case in ASCII letters (SQLite's LIKE folds only those; PostgreSQL any).
    for term in ["explorer", "MáRQ", "pi_3Mab"]:
        page.get_by_label("Search").fill(term)
        page.get_by_label("Search").press("Enter")
        # The pushed URL says the table was swapped: not the previous term's rows.
        expect(page).to_have_url(re.compile(r"q=" + re.escape(quote_plus(term))))
        expect(page.locator("#table tbody tr")).to_have_count(1)
        expect(page.locator("#table")).to_contain_text(f"#{mine.pk}")
    assert page.problems == [], page.problems  # type: ignore[attr-defined]


def test_error_pages_lead_somewhere(live_server, page: Page):
    factories.user("carl")  # a customer, not staff
    log_in_url = f"{live_server.url}/accounts/login/"
    page.goto(log_in_url)
    page.get_by_label("Username").fill("carl")
    page.get_by_label("Password").fill("pw-for-tests")
    page.get_by_role("button", name=re.compile("Log in|Sign in", re.I)).click()
    response = page.goto(f"{live_server.url}/backoffice/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_contain_text("for staff")
    expect(page.get_by_role("link", name=re.compile("checkout", re.I)).first).to_be_visible()

    factories.user("fiona", group="Finance")
    page.context.clear_cookies()
    log_in(page, live_server.url, "fiona")
    response = page.goto(f"{live_server.url}/backoffice/payments/999999/")
    assert response is not None and response.status == 404
    page.get_by_role("link", name=re.compile("dashboard|payments", re.I)).first.click()
    expect(page).to_have_url(re.compile(r"/backoffice/"))
