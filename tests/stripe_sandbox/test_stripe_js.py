"""The Stripe.js stand-in in a real browser, on a page with a strict Content-Security-Policy:
card element, confirmCardPayment, and the 3-D Secure frame."""

from __future__ import annotations

import html
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright import sync_api

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

APP_JS = b"""
const root = document.getElementById("checkout");
const stripe = Stripe(root.dataset.key);
const card = stripe.elements().create("card");
card.mount("#card-element");
document.getElementById("pay").addEventListener("click", async () => {
  const result = await stripe.confirmCardPayment(root.dataset.secret, {
    payment_method: {card, billing_details: {name: "Jenny Rosen"}},
  });
  const out = result.error
    ? {error: result.error.code, decline_code: result.error.decline_code || null}
    : {status: result.paymentIntent.status};
  document.getElementById("result").textContent = JSON.stringify(out);
});
"""


def checkout_page(sandbox_url: str, key: str, client_secret: str) -> bytes:
    return f"""<!doctype html><html><head><meta charset="utf-8">
<script src="{sandbox_url}/v3/"></script></head><body>
<div id="checkout" data-key="{html.escape(key)}" data-secret="{html.escape(client_secret)}">
<div id="card-element"></div><button id="pay" type="button">Pay</button></div>
<pre id="result"></pre><script src="/app.js"></script></body></html>""".encode()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    assert CHROMIUM, (
        "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(browser) -> Iterator:
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Security Policy" in m.text else None)
    page.csp_violations = violations
    yield page
    context.close()


@pytest.fixture
def shop(stripe_sandbox) -> Iterator:
    """A shop page on its own origin, CSP allowing the stand-in the way Stripe's docs say to."""
    pages: dict[str, bytes] = {}
    csp = (
        f"default-src 'self'; script-src 'self' {stripe_sandbox.base_url}; "
        f"connect-src 'self' {stripe_sandbox.base_url}; frame-src {stripe_sandbox.base_url}; "
        "style-src 'self'; img-src 'self'"
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = APP_JS if self.path == "/app.js" else pages["/"]
            kind = "application/javascript" if self.path == "/app.js" else "text/html"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()

    def open_checkout(page) -> dict:
        _, pi, _ = stripe_sandbox.api(
            "POST", "/v1/payment_intents", {"amount": 1234, "currency": "eur"}
        )
        pages["/"] = checkout_page(
            stripe_sandbox.base_url, stripe_sandbox.publishable_key, pi["client_secret"]
        )
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        return pi

    yield open_checkout
    server.shutdown()
    server.server_close()


def pay(page, number: str) -> None:
    page.get_by_label("Card number").fill(number)
    page.get_by_label("Expiration date").fill("12 / 40")
    page.get_by_label("Security code (CVC)").fill("123")
    page.click("#pay")


def result(page) -> str:
    # A locator wait: the page's CSP forbids the eval behind wait_for_function.
    page.locator("#result:not(:empty)").wait_for(timeout=10000)
    return page.text_content("#result")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("4242 4242 4242 4242", '{"status":"succeeded"}'),
        ("4000 0000 0000 0002", '{"error":"card_declined","decline_code":"generic_decline"}'),
        ("4000 0000 0000 9995", '{"error":"card_declined","decline_code":"insufficient_funds"}'),
    ],
)
def test_confirm_card_payment_resolves_like_stripe_js(
    stripe_sandbox, shop, browser_page, number, expected
):
    shop(browser_page)

    pay(browser_page, number)

    assert result(browser_page) == expected
    assert browser_page.csp_violations == []


@pytest.mark.parametrize(
    ("button", "expected"),
    [
        ("Complete authentication", '{"status":"succeeded"}'),
        (
            "Fail authentication",
            '{"error":"payment_intent_authentication_failure","decline_code":null}',
        ),
    ],
)
def test_3ds_shows_the_bank_page_and_resolves_after_it(
    stripe_sandbox, shop, browser_page, button, expected
):
    pi = shop(browser_page)

    pay(browser_page, "4000 0025 0000 3155")
    bank = browser_page.frame_locator("iframe[name=stripe-sandbox-3ds]")
    bank.get_by_role("button", name=button).click()

    assert result(browser_page) == expected
    assert browser_page.locator("[data-stripe-sandbox=three-d-secure]").count() == 0
    assert browser_page.csp_violations == []
    _, after, _ = stripe_sandbox.api("GET", f"/v1/payment_intents/{pi['id']}")
    assert after["status"] == (
        "succeeded" if button.startswith("Complete") else "requires_payment_method"
    )


def test_an_incomplete_card_is_a_validation_error_without_a_request(
    stripe_sandbox, shop, browser_page
):
    shop(browser_page)
    stripe_sandbox.clear_requests_log()

    browser_page.get_by_label("Card number").fill("4242")
    browser_page.click("#pay")

    assert result(browser_page) == '{"error":"incomplete_number","decline_code":null}'
    assert stripe_sandbox.requests_log() == []
