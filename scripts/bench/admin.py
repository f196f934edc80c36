"""The admin's payment list at N payments, through gunicorn with production settings, logged in
as the demo admin: the back-office's list, the project's admin and a stock `admin.ModelAdmin`
(scripts/bench/admin_stock_site.py) for the same questions, interleaved round by round; medians
and per-round ratios against the back-office."""

from __future__ import annotations

import argparse
import http.client
import re
import subprocess
import sys
import time
from functools import partial
from urllib.parse import urlencode

from payments.models import Payment
from scripts.bench import common
from scripts.bench.admin_stock_site import AMOUNT_COLUMN, STATUS_COLUMN

SERVER = "scripts.bench.admin_stock_site:wsgi_app()"
LISTS = {
    "back-office": "/backoffice/payments/",
    "admin": "/admin/payments/payment/",
    "stock admin": "/stock-admin/payments/payment/",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("admin")
    group.add_argument("--admin-rounds", type=int, default=5, help="interleaved rounds")
    group.add_argument("--admin-web-workers", type=int, default=2, help="gunicorn workers")


def questions(payment: Payment) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(what, the back-office's query, the admins' query): the same question of each list."""
    email, intent = payment.user.email, payment.stripe_payment_intent_id
    return [
        ("default page", {}, {}),
        ("sort by amount, largest first", {"sort": "-amount"}, {"o": f"-{AMOUNT_COLUMN}"}),
        ("sort by status", {"sort": "status"}, {"o": f"{STATUS_COLUMN}"}),
        ("status = failed", {"status": "failed"}, {"status__exact": "failed"}),
        ("currency = JPY", {"currency": "JPY"}, {"currency__exact": "JPY"}),
        ("search an email", {"q": email}, {"q": email}),
        ("search a PaymentIntent id", {"q": intent}, {"q": intent}),
    ]


# The admin's other lists beside the back-office's equivalent (orders, users and tokens have
# none: beside the back-office's payment list, the busiest list there is).
OTHER_LISTS = [
    ("refunds", "/backoffice/refunds/", "/admin/payments/refund/"),
    ("webhook events", "/backoffice/webhooks/", "/admin/payments/stripewebhookevent/"),
    ("disputes", "/backoffice/disputes/", "/admin/payments/dispute/"),
    ("audit trail", "/backoffice/audit/", "/admin/audit/auditentry/"),
    ("webhook refusals", "/backoffice/webhooks/", "/admin/payments/stripewebhookrefusal/"),
    ("orders", "/backoffice/payments/", "/admin/shop/order/"),
    ("users", "/backoffice/payments/", "/admin/shop/customuser/"),
    ("API tokens", "/backoffice/payments/", "/admin/authtoken/tokenproxy/"),
]


class Browser:
    """One keep-alive connection with the session's cookies, as a logged-in browser."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, body: str | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, url, body, headers)
        response = self.conn.getresponse()
        text = response.read().decode(errors="replace")
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, text

    def log_in(self, username: str, password: str) -> None:
        _, form = self.request("GET", "/admin/login/")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
        assert found, "no CSRF token on the login form"
        body = urlencode(
            {
                "csrfmiddlewaretoken": found.group(1),
                "username": username,
                "password": password,
                "next": "/admin/",
            }
        )
        status, _ = self.request("POST", "/admin/login/", body)
        if status != 302 or "sessionid" not in self.cookies:
            raise SystemExit(f"could not log in as {username} ({status})")

    def timed(self, url: str) -> float:
        start = time.perf_counter()
        status, _ = self.request("GET", url)
        elapsed = (time.perf_counter() - start) * 1000
        if status != 200:
            raise SystemExit(f"GET {url}: {status}")
        return elapsed


def run(args: argparse.Namespace) -> None:
    from payments.demo_data import DEMO_USERS

    common.require_postgres("the admin section")
    admin_user = next(u for u in DEMO_USERS if u.role == "admin")
    total = Payment.objects.order_by().values("pk")[:10_000_001].count()
    sample = Payment.objects.select_related("user").order_by("-created_at", "-id")[
        min(1000, total - 1)
    ]
    env = common.production_env(WEB_CONCURRENCY=str(args.admin_web_workers))
    # Production settings serve hashed static files from their manifest, as after a deploy.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
        cwd=common.BASE_DIR,
        env=env,
        check=True,
    )
    proc, port = common.serve(SERVER, env)
    try:
        browser = Browser(port)
        browser.log_in(admin_user.username, admin_user.password)
        print(
            f"\nPayment lists, {total:,} payments, {args.admin_rounds} interleaved rounds, "
            f"gunicorn x {args.admin_web_workers} (production settings), as "
            f"{admin_user.username}; ms per request\n"
        )
        print(
            f"{'question':<30} {'back-office':>11} {'admin':>7} {'stock':>7} "
            f"{'admin/bo':>9} {'stock/bo':>9}  per-round admin/bo; stock/bo"
        )
        for what, ours, theirs in questions(sample):
            urls = {
                name: f"{path}?{urlencode(ours if name == 'back-office' else theirs)}"
                for name, path in LISTS.items()
            }
            for url in urls.values():
                browser.timed(url)  # warm: the plan, the caches, the templates
            times = common.interleaved(
                {name: partial(browser.timed, url) for name, url in urls.items()},
                args.admin_rounds,
            )
            bo, ad, st = times["back-office"], times["admin"], times["stock admin"]
            admin_ratios, stock_ratios = common.ratios(ad, bo), common.ratios(st, bo)
            print(
                f"{what:<30} {common.median(bo):>11.0f} {common.median(ad):>7.0f} "
                f"{common.median(st):>7.0f} {common.median(admin_ratios):>8.2f}x "
                f"{common.median(stock_ratios):>8.2f}x  "
                f"{common.series(admin_ratios, '.2f')}; {common.series(stock_ratios, '.1f')}",
                flush=True,
            )
        print(f"\n{'other admin lists':<30} {'back-office':>11} {'admin':>7} {'admin/bo':>9}")
        for what, backoffice_url, admin_url in OTHER_LISTS:
            urls = {"back-office": backoffice_url, "admin": admin_url}
            for url in urls.values():
                browser.timed(url)
            times = common.interleaved(
                {name: partial(browser.timed, url) for name, url in urls.items()},
                args.admin_rounds,
            )
            admin_ratios = common.ratios(times["admin"], times["back-office"])
            print(
                f"{what:<30} {common.median(times['back-office']):>11.0f} "
                f"{common.median(times['admin']):>7.0f} {common.median(admin_ratios):>8.2f}x  "
                f"{common.series(admin_ratios, '.2f')}",
                flush=True,
            )
    finally:
        common.stop(proc)
