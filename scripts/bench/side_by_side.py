"""The back-office's pages at this checkout and at another revision, side by side on one database:
`scripts/benchmark.py --only pages --pages-against REV`.

The other revision is checked out into a temporary git worktree. Each side is a child process
(this file, run with `--root` set to its checkout) that logs in as the finance user and answers
URLs read from its stdin with the time of one request through Django's test client, its status,
its queries and their time. The parent asks both in turn, round by round, each round starting
with the other side, so both meet the same machine and the same database; it prints medians and
per-round ratios. The worktree is removed afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

# The child runs this file in the other checkout, whose `scripts` package may differ: it imports
# only the standard library and that checkout's Django project.
BASE_DIR = Path(__file__).resolve().parents[2]


# What a revision remembers of lists counted past the cap, and where: this one's list_counts, for
# any filters; revisions before it kept that in selectors, and before them only the unfiltered
# list of a large table.
_REMEMBERED = ("_beyond_cap", "_large_tables")
_REMEMBERED_IN = ("payments.list_counts", "payments.selectors")


class _Side:
    """One checkout's child process."""

    def __init__(self, root: Path) -> None:
        env = _env(root)
        if root != BASE_DIR:  # its own static files' manifest, as a deployment has
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
                cwd=root,
                env=env,
                check=True,
            )
        # Run by path, not as `python FILE`: that would put scripts/bench first on sys.path,
        # where csv.py hides the standard library's csv.
        here = str(Path(__file__).resolve())
        child = f"import runpy; runpy.run_path({here!r}, run_name='__main__')"
        self.proc = subprocess.Popen(  # noqa: S603 (our own command)
            [sys.executable, "-c", child, "--root", str(root)],
            cwd=root,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def get(self, url: str, htmx: bool, forget: bool = False) -> dict[str, Any]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps({"url": url, "htmx": htmx, "forget": forget}) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise SystemExit("a side of the comparison stopped")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(30)


def _env(root: Path) -> dict[str, str]:
    # Both sides read this checkout's settings file (the other checkout has none of its own).
    return {
        **os.environ,
        "PYTHONPATH": str(root),
        "ENV_FILE": os.environ.get("ENV_FILE", str(BASE_DIR / ".env")),
    }


@contextmanager
def _worktree(revision: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="bench-against-") as tmp:
        path = Path(tmp) / "checkout"
        subprocess.run(  # noqa: S603 (our own command)
            ["git", "worktree", "add", "--detach", "--quiet", str(path), revision],  # noqa: S607
            cwd=BASE_DIR,
            check=True,
        )
        try:
            yield path
        finally:
            subprocess.run(  # noqa: S603 (our own command)
                ["git", "worktree", "remove", "--force", str(path)],  # noqa: S607
                cwd=BASE_DIR,
                check=False,
            )


def compare(
    revision: str, pages: Sequence[tuple[str, str]], rounds: int, *, forget: bool = False
) -> None:
    """Each page, whole and as its htmx partial: this checkout's time against `revision`'s.
    `forget`: each request as the first in a minute of its list (what a list counted past the
    cap remembers, in either side's process, is dropped before it)."""
    from scripts.bench.common import median, ratios, series

    label = subprocess.run(  # noqa: S603 (our own command)
        ["git", "rev-parse", "--short", revision],  # noqa: S607
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(
        f"\nthis checkout against {label}, two processes, {rounds} interleaved rounds; medians "
        "in ms (queries); ratio = now / before, per round"
        + ("; each request the first of its list in a minute" if forget else "")
    )
    print(f"\n{'page':<34} {'now':>12} {'before':>12} {'ratio':>7}  per round")
    with _worktree(revision) as other:
        sides = {"now": _Side(BASE_DIR), "before": _Side(other)}
        try:
            for name, url in pages:
                for htmx in (False, True):
                    times: dict[str, list[float]] = {"now": [], "before": []}
                    queries: dict[str, int] = {}
                    for side in sides.values():  # warm: caches, connections
                        side.get(url, htmx, forget)
                    for round_ in range(rounds):
                        order = ["now", "before"] if round_ % 2 == 0 else ["before", "now"]
                        for key in order:
                            answer = sides[key].get(url, htmx, forget)
                            if answer["status"] != 200:
                                raise SystemExit(f"{key}: {url} answered {answer['status']}")
                            times[key].append(answer["ms"])
                            queries[key] = answer["queries"]
                    per_round = ratios(times["now"], times["before"])
                    print(
                        f"{name + (' (htmx)' if htmx else ''):<34} "
                        f"{median(times['now']):>7.1f} ({queries['now']}) "
                        f"{median(times['before']):>7.1f} ({queries['before']}) "
                        f"{median(per_round):>6.2f}x  {series(per_round, '.2f')}",
                        flush=True,
                    )
        finally:
            for side in sides.values():
                side.close()


def _serve(root: Path, stdin: IO[str], stdout: IO[str]) -> None:
    import time

    os.chdir(root)
    sys.path.insert(0, str(root))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import logging
    from importlib import import_module

    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from shop.models import CustomUser

    # Only the modules of that checkout: the project's editable install would find this one's.
    remembering = [
        import_module(m) for m in _REMEMBERED_IN if (root / f"{m.replace('.', '/')}.py").exists()
    ]

    logging.getLogger("axes").setLevel(logging.WARNING)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    client = Client()
    client.force_login(CustomUser.objects.get(username="finance"))
    for line in stdin:
        asked = json.loads(line)
        headers = {"HX-Request": "true"} if asked["htmx"] else {}
        if asked.get("forget"):
            for module in remembering:  # whichever this revision has
                for name in _REMEMBERED:
                    getattr(module, name, {}).clear()
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.get(asked["url"], headers=headers)
            took = (time.perf_counter() - start) * 1000
        sql = sum(float(q["time"]) for q in captured.captured_queries) * 1000
        answer = {"ms": took, "status": response.status_code, "queries": len(captured), "sql": sql}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


if __name__ == "__main__":
    _serve(Path(sys.argv[sys.argv.index("--root") + 1]), sys.stdin, sys.stdout)
