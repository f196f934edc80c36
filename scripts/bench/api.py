"""The API's staff payment list at N payments, through gunicorn with production settings and a
Finance user's token: its first page and a page deep in (reached by following `next` cursors),
interleaved round by round with the same pages under the page-number pagination it had before
(kept here as the comparison: `?page=`, with its COUNT of the table); medians and per-round
ratios. With `--api-small-database`, the same cursor pages on a 10,000-payment database beside
N: flat means a ratio near 1."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import time
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()  # gunicorn imports this module (wsgi_app) before Django is set up

from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

from config.urls import urlpatterns as project_urlpatterns  # noqa: E402
from payments.api.pagination import MAX_PAGE, PageNumberPagination  # noqa: E402
from payments.api.views import PaymentViewSet  # noqa: E402
from scripts.bench import common  # noqa: E402

LIST = "/api/payments/payments/"
PAGE_NUMBERS = "/bench/api/page-numbers/"


class PageNumberPaymentViewSet(PaymentViewSet):
    """The staff list as it was: the same rows, paged by `?page=` (OFFSET, and a COUNT(*))."""

    pagination_class = PageNumberPagination  # type: ignore[assignment]


urlpatterns = [
    path(PAGE_NUMBERS.strip("/") + "/", PageNumberPaymentViewSet.as_view({"get": "list"})),
    *project_urlpatterns,
]


def wsgi_app() -> Any:
    """The project's WSGI application, with the page-number list beside its own URLs."""
    from django.core.wsgi import get_wsgi_application

    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("api")
    group.add_argument("--api-rounds", type=int, default=5, help="interleaved rounds")
    group.add_argument("--api-per-page", type=int, default=25, help="rows per page")
    group.add_argument(
        "--api-deep-page",
        type=int,
        default=1000,
        help="the deep page's number",
    )
    group.add_argument(
        "--api-small-database",
        metavar="URL",
        help="a PostgreSQL database to seed with --api-small-payments, measured beside N",
    )
    group.add_argument("--api-small-payments", type=int, default=10_000)
    group.add_argument("--api-web-workers", type=int, default=2, help="gunicorn workers")


class Client:
    """One keep-alive connection with a token, as the API's callers have."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}

    def get(self, url: str) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        self.conn.request("GET", url, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise SystemExit(f"GET {url}: {response.status} {body[:200]!r}")
        return elapsed, json.loads(body)

    def timed(self, url: str) -> float:
        return self.get(url)[0]


def _cursor(link: str) -> str:
    return parse_qs(urlsplit(link).query)["cursor"][0]


def deep_cursor_url(client: Client, page: int, per_page: int) -> tuple[str, float]:
    """The cursor URL of page `page`, reached by following `next` (100 rows a step), and how
    long the walk took."""
    to_skip, cursor, start = (page - 1) * per_page, None, time.perf_counter()
    while to_skip:
        step = min(100, to_skip)
        query = {"per_page": step, **({"cursor": cursor} if cursor else {})}
        _, body = client.get(f"{LIST}?{urlencode(query)}")
        if not body["next"]:
            raise SystemExit(f"the list ends before page {page}")
        cursor, to_skip = _cursor(body["next"]), to_skip - step
    query = {"per_page": per_page, **({"cursor": cursor} if cursor else {})}
    return f"{LIST}?{urlencode(query)}", time.perf_counter() - start


def _serve(database_url: str, workers: int) -> tuple[subprocess.Popen, int]:
    env = common.production_env(WEB_CONCURRENCY=str(workers), DATABASE_URL=database_url)
    return common.serve("scripts.bench.api:wsgi_app()", env)


def _token() -> str:
    from rest_framework.authtoken.models import Token

    from shop.models import CustomUser

    return Token.objects.get_or_create(user=CustomUser.objects.get(username="finance"))[0].key


def _seed_small(url: str, payments: int, token: str) -> None:
    env = common.production_env(DATABASE_URL=url)
    for command in (
        ["migrate", "-v0"],
        ["seed_demo", f"--payments={payments}", "--allow-production"],
    ):
        subprocess.run(  # noqa: S603 (our own command)
            [sys.executable, "manage.py", *command],
            cwd=common.BASE_DIR,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    # The same token there, so that one client header serves both servers.
    script = (
        "from rest_framework.authtoken.models import Token; from shop.models import CustomUser;"
        "Token.objects.filter(user__username='finance').delete();"
        f"Token.objects.create(key={token!r}, user=CustomUser.objects.get(username='finance'))"
    )
    subprocess.run(  # noqa: S603 (our own command)
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=common.BASE_DIR,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _line(what: str, ours: list[float], theirs: list[float], label: str) -> None:
    r = common.ratios(ours, theirs)
    print(
        f"{what:<24} {common.median(ours):>8.1f} {common.median(theirs):>8.1f} "
        f"{common.median(r):>7.2f}x {label}  ({common.series(r, '.2f')})",
        flush=True,
    )


def run(args: argparse.Namespace) -> None:
    from payments.models import Payment

    common.require_postgres("the api section")
    per_page, rounds = args.api_per_page, args.api_rounds
    total = Payment.objects.order_by().values("pk")[:10_000_001].count()
    deep = max(1, min(args.api_deep_page, MAX_PAGE, (total - 1) // per_page + 1))
    token = _token()
    servers = {"N": _serve(common.database_url(), args.api_web_workers)}
    try:
        if args.api_small_database:
            _seed_small(args.api_small_database, args.api_small_payments, token)
            servers["small"] = _serve(args.api_small_database, args.api_web_workers)
        client = Client(servers["N"][1], token)
        deep_url, walked = deep_cursor_url(client, deep, per_page)
        pages = {
            "cursor, first page": f"{LIST}?per_page={per_page}",
            "page numbers, first": f"{PAGE_NUMBERS}?per_page={per_page}",
            f"cursor, page {deep}": deep_url,
            f"page numbers, {deep}": f"{PAGE_NUMBERS}?per_page={per_page}&page={deep}",
        }
        ids = {
            name: [r["id"] for r in client.get(url)[1]["results"]] for name, url in pages.items()
        }
        names = list(pages)
        assert ids[names[0]] == ids[names[1]] and ids[names[2]] == ids[names[3]], "rows differ"
        times = common.interleaved(
            {name: partial(client.timed, url) for name, url in pages.items()}, rounds
        )
        print(
            f"\nAPI staff payment list, {total:,} payments, {per_page} a page, {rounds} "
            f"interleaved rounds, gunicorn x {args.api_web_workers} (production settings); page "
            f"{deep} reached by following `next` ({walked:.1f} s)\n"
        )
        print(f"{'page':<24} {'cursor':>8} {'pages':>8} {'ratio':>8}  (per round)")
        _line("first page (ms)", times[names[0]], times[names[1]], "cursor/page-number")
        _line(f"page {deep} (ms)", times[names[2]], times[names[3]], "cursor/page-number")
        _line("page deep/first", times[names[2]], times[names[0]], "cursor: flat is 1")
        if "small" in servers:
            small = Client(servers["small"][1], token)
            small_pages = {"first": f"{LIST}?per_page={per_page}"}
            small_deep = min(deep, (args.api_small_payments - 1) // per_page + 1)
            small_pages["deep"] = deep_cursor_url(small, small_deep, per_page)[0]
            for url in small_pages.values():
                small.timed(url)
            both = common.interleaved(
                {
                    "N first": partial(client.timed, pages[names[0]]),
                    "small first": partial(small.timed, small_pages["first"]),
                    "N deep": partial(client.timed, deep_url),
                    "small deep": partial(small.timed, small_pages["deep"]),
                },
                rounds,
            )
            print(f"\n{'cursor pages':<24} {'N':>8} {'10k':>8} {'N/10k':>8}")
            _line("first page (ms)", both["N first"], both["small first"], "flat is 1")
            _line(
                "deep page (ms)", both["N deep"], both["small deep"], f"(small: page {small_deep})"
            )
    finally:
        for proc, _ in servers.values():
            common.stop(proc)
