"""What the benchmark's sections share: production-like servers, paired timing, ratios."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
BENCH_SECRET = "whsec_benchmark_secret"  # noqa: S105 (a benchmark's own signing secret)


def require_postgres(section: str) -> None:
    if connection.vendor != "postgresql":
        raise SystemExit(f"{section} needs DATABASE_URL pointing at PostgreSQL")


def database_url() -> str:
    db = connection.settings_dict
    return (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


def production_env(**extra: str) -> dict[str, str]:
    """The environment of an app server with production settings on the benchmark's database."""
    broker = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/8"
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")},
        "ENV_FILE": "/dev/null",
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only-secret-key-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "STRIPE_IDEMPOTENCY_PREFIX": "bench",
        "STRIPE_SECRET_KEY": "sk_test_unused",
        "STRIPE_WEBHOOK_SECRET": BENCH_SECRET,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "REDIS_URL": broker,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def finance_client() -> Any:
    """Django's test client logged in as the demo's finance user, in this process (the pages
    through the whole middleware, as the app serves them, without a socket)."""
    from django.conf import settings
    from django.test import Client

    from shop.models import CustomUser

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    client = Client()
    client.force_login(CustomUser.objects.get(username="finance"))
    return client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(app: str, env: dict[str, str], *args: str) -> tuple[subprocess.Popen, int]:
    """`app` under gunicorn with gunicorn.conf.py, on a free port, once it accepts connections."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603 (our own command)
        [
            sys.executable,
            "-m",
            "gunicorn",
            app,
            "-c",
            "gunicorn.conf.py",
            "--bind",
            f"127.0.0.1:{port}",
            "--access-logfile",
            "/dev/null",
            *args,
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{app} did not start")


def stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(30)


def timed_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def interleaved(contenders: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Each contender's measurement per round; each round starts with another contender."""
    names = list(contenders)
    results: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            results[name].append(contenders[name]())
    return results


def ratios(ours: Sequence[float], theirs: Sequence[float]) -> list[float]:
    return [a / b for a, b in zip(ours, theirs, strict=True) if b]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def series(values: Sequence[float], fmt: str = ".0f") -> str:
    return ", ".join(format(v, fmt) for v in values)
