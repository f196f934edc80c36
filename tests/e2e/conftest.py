"""Browser tests: Playwright's sync API driving Debian's Chromium against pytest-django's
live_server (the real app, static files, CSP and htmx included)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
# thread with an event loop unless told that this is deliberate (the test drives both).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A Chromium for one test. Not session-wide on purpose: while Playwright's sync API is
    running, its event loop makes Django keep database connections per context rather than per
    thread, and the connections it then hands out lack the test database's serialized contents,
    so every later `serialized_rollback` test (here and in other packages) would lose the roles.
    Stopping Playwright after each test gives the thread its own connections back."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
        # Connections opened while Playwright's loop ran belong to that loop's context: close
        # them now, or PostgreSQL keeps them open and cannot drop the test database at the end.
        connections.close_all()


def _open_page(browser: Browser, **context_options) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    # A CSP violation or a script error shows up here: the pages must have neither. A 400 or 409
    # answer (a form with its errors, swapped in place) is logged by Chromium too: not a problem.
    problems: list[str] = []
    expected = ("status of 400 (Bad Request)", "status of 409 (Conflict)")

    def on_console(message) -> None:
        if message.type == "error" and not message.text.endswith(expected):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from _open_page(browser)


@pytest.fixture
def page_without_js(browser: Browser) -> Iterator[Page]:
    yield from _open_page(browser, java_script_enabled=False)


PASSWORD = "pw-for-tests"  # what tests.factories.user gives everyone


def log_in(page: Page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/backoffice/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
