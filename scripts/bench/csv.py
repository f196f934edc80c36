"""The payments CSV export of every payment, as the finance user gets it from gunicorn with
production settings (streamed, or prepared in the background and downloaded, end to end),
interleaved with `psql \\copy` of the same rows to a file: of the plain SELECT the list runs, and
of the SELECT with the export's formatting (the very bytes). Also, for the record, the Python
path (what every export did before COPY) once, and the gunicorn workers' peak memory."""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import requests
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from backoffice import csv_copy
from backoffice.filters import PaymentFilter
from backoffice.tables import PaymentTable
from backoffice.views.common import csv_python, ordered
from backoffice.views.lists import PAYMENT_COLUMNS
from payments import selectors
from scripts.bench import common
from shop.models import CustomUser
from shop.timezones import zone_of

USERNAME, PASSWORD = "finance", "finance-demo-pass"
REDIS = "redis://127.0.0.1:6379/13"  # the worker's broker, this section's own database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("csv")
    group.add_argument("--csv-rounds", type=int, default=3, help="interleaved rounds (3)")
    group.add_argument(
        "--csv-job-limit",
        type=int,
        default=200_000,
        help="BACKOFFICE_EXPORT_STREAM_MAX_ROWS of the background-job server (200,000)",
    )
    group.add_argument(
        "--csv-skip-python", action="store_true", help="skip the one run of the Python path"
    )


def _login(base: str) -> requests.Session:
    session = requests.Session()
    login = base + reverse("login")
    page = session.get(login, timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, "no CSRF token on the login page"
    answer = session.post(
        login,
        data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": login},
        timeout=30,
    )
    assert "sessionid" in session.cookies, f"login failed ({answer.status_code})"
    return session


def _download(session: requests.Session, base: str, into: Path) -> int:
    """The export as a user gets it: the stream, or the prepared file once it is ready."""
    answer = session.get(base + reverse("backoffice:payments_csv"), stream=True, timeout=600)
    answer.raise_for_status()
    if not answer.headers.get("Content-Type", "").startswith("text/csv"):
        # Prepared in the background: the page polls until the download link is there.
        page = answer.url
        while True:
            polled = session.get(page, timeout=60)
            polled.raise_for_status()  # an error page has no link either: never wait for ever
            html = polled.text
            link = re.search(r'href="([^"]+/download)"', html)
            if link:
                break
            if "could not be prepared" in html:
                raise SystemExit("the export failed")
            time.sleep(0.5)
        answer = session.get(base + link[1], stream=True, timeout=600)
        answer.raise_for_status()
    size = 0
    with into.open("wb") as out:
        for block in answer.iter_content(1 << 16):
            size += out.write(block)
    return size


def _psql_copy(select: str, into: Path) -> None:
    command = f"\\copy ({select}) to '{into}' with (format csv, header)"
    subprocess.run(  # noqa: S603 (our own command)
        ["psql", "-X", "-q", common.database_url(), "-c", command],  # noqa: S607
        check=True,
    )


def _body_digest(path: Path, *, crlf: bool = False) -> str:
    """SHA-256 of a CSV file after its header line (psql's header names the SELECT's aliases),
    its rows ended with CRLF as the export ends them when `crlf`."""
    with path.open("rb") as f:
        f.readline()
        blocks = iter(lambda: f.read(1 << 20), b"")
        digest = hashlib.sha256()
        for block in csv_copy.crlf_rows(blocks) if crlf else blocks:
            digest.update(block)
    return digest.hexdigest()


def _collectstatic(env: dict[str, str]) -> None:
    """Production settings serve pages with whitenoise's manifest: collect it once."""
    if not (common.BASE_DIR / "staticfiles" / "staticfiles.json").exists():
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=common.BASE_DIR,
            env=env,
            check=True,
        )


def _celery_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """One Celery worker (solo pool, as small as one core allows), once it says it is ready."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "solo",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=common.BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if b" ready." in log.read_bytes():
            return proc
        time.sleep(0.3)
    common.stop(proc)
    raise SystemExit("the Celery worker did not start")


def _rss_kb(pid: int | str, field: str) -> int:
    match = re.search(rf"{field}:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match[1]) if match else 0


def _peak_rss_kb(master_pid: int) -> int:
    """The largest peak resident set (VmHWM) among gunicorn's workers."""
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return max((_rss_kb(pid, "VmHWM") for pid in children), default=0)


def run(args: argparse.Namespace) -> None:
    common.require_postgres("csv")
    finance = CustomUser.objects.get(username=USERNAME)
    zone = zone_of(finance) or timezone.get_default_timezone()
    queryset = ordered(
        PaymentTable,
        PaymentFilter({}, queryset=selectors.payment_list()).qs,
        None,
    )
    fields = list(
        dict.fromkeys(f for c in PAYMENT_COLUMNS for f in (c.field, c.currency_field) if f)
    )
    formatted = csv_copy.formatted_select(queryset, PAYMENT_COLUMNS, zone)
    assert formatted is not None
    raw = psycopg.connect(common.database_url())
    with psycopg.ClientCursor(raw) as cursor:
        plain_sql = cursor.mogrify(*queryset.values(*fields).query.sql_with_params())
        formatted_sql = cursor.mogrify(formatted[0], formatted[1])
    raw.close()
    total = selectors.payment_list().count()
    print(f"\n{total:,} payments, {args.csv_rounds} interleaved rounds, zone {zone}\n")

    limit = args.csv_job_limit
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        shared = {"BACKOFFICE_EXPORT_DIR": str(out / "exports"), "CELERY_BROKER_URL": REDIS}
        shared["REDIS_URL"] = REDIS
        _collectstatic(common.production_env(**shared))
        servers = {
            "streamed": common.serve(
                "config.wsgi",
                common.production_env(
                    **shared, BACKOFFICE_EXPORT_STREAM_MAX_ROWS=str(total * 10 + 1)
                ),
            ),
            "background job": common.serve(
                "config.wsgi",
                common.production_env(**shared, BACKOFFICE_EXPORT_STREAM_MAX_ROWS=str(limit)),
            ),
        }
        worker = _celery_worker(common.production_env(**shared), out / "worker.log")
        try:
            sessions = {
                name: _login(f"http://127.0.0.1:{port}") for name, (_, port) in servers.items()
            }
            rss_before = {name: _peak_rss_kb(proc.pid) for name, (proc, _) in servers.items()}
            sizes: dict[str, int] = {}

            def export(name: str) -> Callable[[], float]:
                def timed() -> float:
                    base = f"http://127.0.0.1:{servers[name][1]}"
                    start = time.perf_counter()
                    sizes[name] = _download(sessions[name], base, out / f"{name}.csv")
                    return (time.perf_counter() - start) * 1000

                return timed

            def copy_plain() -> float:
                return common.timed_ms(lambda: _psql_copy(plain_sql, out / "plain.csv"))

            def copy_formatted() -> float:
                return common.timed_ms(lambda: _psql_copy(formatted_sql, out / "formatted.csv"))

            results = common.interleaved(
                {
                    "export, streamed": export("streamed"),
                    f"export, background job (>{limit:,})": export("background job"),
                    "psql \\copy, plain SELECT": copy_plain,
                    "psql \\copy, formatted SELECT": copy_formatted,
                },
                args.csv_rounds,
            )
            formatted_digest = _body_digest(out / "formatted.csv", crlf=True)
            identical = {
                name: _body_digest(out / f"{name}.csv") == formatted_digest for name in servers
            }
            rss_after = {name: _peak_rss_kb(proc.pid) for name, (proc, _) in servers.items()}
            worker_rss = _rss_kb(worker.pid, "VmHWM")
        finally:
            for proc, _ in servers.values():
                common.stop(proc)
            common.stop(worker)

    for name, times in results.items():
        print(
            f"  {name:36} median {common.median(times) / 1000:7.2f} s   ({common.series(times)} ms)"
        )
    for ours in list(results)[:2]:
        for theirs in list(results)[2:]:
            r = common.ratios(results[ours], results[theirs])
            print(
                f"  {ours} / {theirs}: median {common.median(r):5.2f}x ({common.series(r, '.2f')})"
            )
    for name in servers:
        print(
            f"  {name}: file {sizes[name] / 1e6:,.1f} MB, rows byte-for-byte those of \\copy of"
            f" the formatted SELECT: {identical[name]}; gunicorn worker peak RSS"
            f" {rss_before[name] / 1024:.0f} MB before, {rss_after[name] / 1024:.0f} MB after"
        )
    print(f"  celery worker peak RSS {worker_rss / 1024:.0f} MB")
    if total <= limit:
        print(f"  ({total:,} payments are not above {limit:,}: the job path streamed too)")

    if not args.csv_skip_python:
        start = time.perf_counter()
        with Path("/dev/null").open("w") as sink:
            for line in csv_python(queryset, PAYMENT_COLUMNS, zone):
                sink.write(line)
        python_s = time.perf_counter() - start
        streamed_s = common.median(results["export, streamed"]) / 1000
        print(
            f"  the Python path (in process, once) {python_s:7.2f} s, "
            f"{python_s / streamed_s:.2f}x the streamed export"
        )
    connection.close()
