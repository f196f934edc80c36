"""Real processes for the tests that cross them: gunicorn app servers (the repository's
gunicorn.conf.py), a Celery worker and beat, on the test's PostgreSQL database, with Redis as
broker and cache, and the Stripe stand-in over HTTP.

These tests need PostgreSQL (several processes on one database) and Redis; on a run without them
they skip and say so, and with REQUIRE_POSTGRES=1 (CI) they fail instead (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection

from tests.payments.webhook_helpers import SECRET

BASE_DIR = Path(__file__).resolve().parents[2]
MACHINE_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/7")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_ping(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


class Proc:
    """A child process in its own process group, its output in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name, self.args, self.env = name, args, env
        self.log = log_dir / f"{name}.log"
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.args,
            cwd=BASE_DIR,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        self.popen = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.popen is not None and self.popen.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} never said {text!r}:\n{self.output()[-3000:]}")
            time.sleep(0.1)


class Stack:
    """Builds the processes of a deployment, pointed at this test's database and stand-in."""

    def __init__(self, sandbox, tmp_path: Path, redis_url: str) -> None:
        self.sandbox, self.tmp, self.redis_url = sandbox, tmp_path, redis_url
        self.procs: list[Proc] = []
        db = connection.settings_dict
        self.database_url = (
            f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}"
        )

    def env(self, **extra: str) -> dict[str, str]:
        keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
        return {
            **keep,
            "ENV_FILE": "/dev/null",
            "DEBUG": "true",
            "DATABASE_URL": self.database_url,
            "CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": self.redis_url,
            "REDIS_URL": self.redis_url,
            "STRIPE_API_BASE": self.sandbox.base_url,
            "STRIPE_SECRET_KEY": self.sandbox.secret_key,
            "STRIPE_PUBLIC_KEY": self.sandbox.publishable_key,
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "STRIPE_TIMEOUT_SECONDS": "2",
            "STRIPE_MAX_NETWORK_RETRIES": "1",
            "PAYMENTS_SWEEP_EVERY_SECONDS": "1",
            "PAYMENTS_EVENT_REQUEUE_AFTER_SECONDS": "2",
            "PAYMENTS_RECONCILE_EVERY_SECONDS": "3600",
            "LOG_LEVEL": "INFO",
            **extra,
        }

    def app_server(self, name: str = "web", **extra: str) -> str:
        port = free_port()
        proc = Proc(
            f"{name}-{port}",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            self.env(**extra),
            self.tmp,
        ).start()
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/accounts/login/", timeout=2)  # noqa: S310
                return url
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.popen is not None and proc.popen.poll() is not None:
                    raise AssertionError(f"gunicorn exited:\n{proc.output()[-3000:]}") from None
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"gunicorn never answered:\n{proc.output()[-3000:]}"
                    ) from None
                time.sleep(0.2)

    def worker(self, name: str = "worker", **extra: str) -> Proc:
        proc = Proc(
            name,
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--loglevel=INFO",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"{name}-{free_port()}@%h",
            ],
            self.env(**extra),
            self.tmp,
        ).start()
        self.procs.append(proc)
        proc.wait_for_output("ready.")
        return proc

    def beat(self, **extra: str) -> Proc:
        proc = Proc(
            "beat",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel=INFO",
                "--schedule",
                str(self.tmp / "beat-schedule"),
            ],
            self.env(**extra),
            self.tmp,
        ).start()
        self.procs.append(proc)
        proc.wait_for_output("beat: Starting")
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.kill(signal.SIGTERM)


@pytest.fixture
def machine_redis() -> str:
    if not redis_ping(MACHINE_REDIS):
        message = f"needs Redis at {MACHINE_REDIS} (start it: see the README)"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message)  # CI: a worker test that cannot run is a failure, not a skip
        pytest.skip(message)
    import redis

    redis.Redis.from_url(MACHINE_REDIS).flushdb()
    return MACHINE_REDIS


@pytest.fixture
def stack_factory(stripe_sandbox, tmp_path) -> Iterator[Callable[[str], Stack]]:
    stacks: list[Stack] = []

    def make(redis_url: str) -> Stack:
        stack = Stack(stripe_sandbox, tmp_path, redis_url)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


class OwnRedis:
    """A Redis server of the test's own, on a free port, that it may stop and start again."""

    def __init__(self, tmp_path: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = Proc(
            f"redis-{self.port}",
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            {k: os.environ[k] for k in ("PATH",) if k in os.environ},
            tmp_path,
        )

    def start(self) -> None:
        self.proc.start()
        deadline = time.monotonic() + 10
        while not redis_ping(self.url):
            assert time.monotonic() < deadline, self.proc.output()
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.kill(signal.SIGKILL)


@pytest.fixture
def own_redis(tmp_path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()
