"""Seeding, side by side: `seed_demo --payments N` against a plain COPY of the same rows.

Both start from a freshly migrated template database (made here, then copied for each run):
one is seeded by `manage.py seed_demo` (a process of its own, timed from start to exit, with its
peak memory), the other gets the rows that seed_demo wrote, dumped beforehand with `COPY ... TO`
into files (untimed), loaded with plain `COPY ... FROM` in one transaction into the migrated
tables with all their indexes and constraints in place. Rounds are interleaved; the scratch
databases and the files are removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from django.db import connection
from psycopg import sql

from payments.models import Payment, Refund, StripeWebhookEvent
from scripts.bench.common import (
    BASE_DIR,
    database_url,
    interleaved,
    median,
    ratios,
    require_postgres,
    series,
)
from shop.models import CustomUser, Order

CHUNK = 1 << 20
# What seed_demo writes, in an order that needs no deferred check but the orders' current payment.
SEEDED_TABLES = [
    CustomUser._meta.db_table,
    CustomUser.groups.through._meta.db_table,
    Order._meta.db_table,
    Payment._meta.db_table,
    Refund._meta.db_table,
    StripeWebhookEvent._meta.db_table,
]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("seed")
    group.add_argument(
        "--seed-payments", type=int, default=None, help="payments to seed (default: --payments)"
    )
    group.add_argument(
        "--seed-rounds",
        type=int,
        default=None,
        help="interleaved rounds (default 3, or 1 from 1,000,000 payments)",
    )


def run(args: argparse.Namespace) -> None:
    require_postgres("seed")
    payments = args.seed_payments or args.payments
    rounds = args.seed_rounds or (1 if payments >= 1_000_000 else 3)
    bench = _Scratch(str(connection.settings_dict["NAME"]))
    try:
        bench.make_template()
        results = interleaved(
            {
                "seed_demo": lambda: bench.seed_demo(payments),
                "plain COPY": bench.plain_copy,
            },
            rounds,
        )
    finally:
        bench.clean_up()
    ours, theirs = results["seed_demo"], results["plain COPY"]
    print(f"{payments:,} payments, {rounds} interleaved round(s), seconds:")
    print(f"  seed_demo --payments {payments}: {series(ours, '.1f')} (median {median(ours):.1f})")
    print(
        "  plain COPY of the same rows, all indexes in place: "
        f"{series(theirs, '.1f')} (median {median(theirs):.1f})"
    )
    per_round = ratios(ours, theirs)
    print(f"  ratio seed_demo / COPY per round: {series(per_round, '.2f')}", end="")
    print(f" (median {median(per_round):.2f}x)")
    print(f"  seed_demo peak memory (RSS): {series(bench.peak_rss_mb, '.0f')} MB")


class _Scratch:
    """The template, the two scratch databases and the dump files of one benchmark run."""

    def __init__(self, base: str) -> None:
        self.template, self.ours, self.theirs = (f"{base}_seed{s}" for s in ("tpl", "a", "b"))
        self.dump_dir = Path(tempfile.mkdtemp(prefix="seed-bench-"))
        self.dumped: list[tuple[str, Path]] = []
        self.peak_rss_mb: list[float] = []

    def url(self, name: str) -> str:
        return database_url().rsplit("/", 1)[0] + f"/{name}"

    def admin(self, *statements: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            for statement in statements:
                for attempt in range(20):  # CREATE ... TEMPLATE fails while anyone is connected
                    try:
                        conn.execute(statement)  # type: ignore[arg-type]
                        break
                    except psycopg.errors.ObjectInUse:
                        if attempt == 19:
                            raise
                        time.sleep(1)

    def fresh(self, name: str) -> None:
        self.admin(
            f'DROP DATABASE IF EXISTS "{name}"',
            f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"',
        )

    def manage(self, name: str, *command: str) -> subprocess.Popen:
        env = {**os.environ, "DATABASE_URL": self.url(name), "ENV_FILE": "/dev/null"}
        return subprocess.Popen(  # noqa: S603 (our own command)
            [sys.executable, "manage.py", *command],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
        )

    def make_template(self) -> None:
        self.admin(
            f'DROP DATABASE IF EXISTS "{self.template}"', f'CREATE DATABASE "{self.template}"'
        )
        if self.manage(self.template, "migrate", "--verbosity", "0").wait():
            raise SystemExit("migrate failed")

    def seed_demo(self, payments: int) -> float:
        self.fresh(self.ours)
        start = time.perf_counter()
        proc = self.manage(
            self.ours,
            "seed_demo",
            "--payments",
            str(payments),
            "--allow-production",
            "--verbosity",
            "0",
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit("seed_demo failed")
        self.peak_rss_mb.append(usage.ru_maxrss / 1024)
        if not self.dumped:
            self.dump()
        self.admin(f'DROP DATABASE "{self.ours}"')
        return elapsed

    def dump(self) -> None:
        """The rows seed_demo wrote, a binary file per table. Only the tables it writes itself:
        a table kept by triggers (a summary) is filled by the same triggers when the COPY
        loads these, as it was when seed_demo wrote them."""
        with psycopg.connect(self.url(self.ours)) as conn, conn.cursor() as cursor:
            for table in SEEDED_TABLES:
                path = self.dump_dir / f"{table}.bin"
                statement = sql.SQL("COPY {} TO STDOUT (FORMAT BINARY)").format(
                    sql.Identifier(table)
                )
                with path.open("wb") as out, cursor.copy(statement) as copy:
                    for data in copy:
                        out.write(data)
                self.dumped.append((table, path))

    def plain_copy(self) -> float:
        self.fresh(self.theirs)
        with psycopg.connect(self.url(self.theirs)) as conn, conn.cursor() as cursor:
            start = time.perf_counter()
            for table, path in self.dumped:  # one transaction: foreign keys checked at commit
                with (
                    path.open("rb") as data,
                    cursor.copy(
                        f'COPY "{table}" FROM STDIN (FORMAT BINARY)'  # type: ignore[arg-type]
                    ) as copy,
                ):
                    while chunk := data.read(CHUNK):
                        copy.write(chunk)
            conn.commit()
            elapsed = time.perf_counter() - start
        self.admin(f'DROP DATABASE "{self.theirs}"')
        return elapsed

    def clean_up(self) -> None:
        self.admin(
            *(f'DROP DATABASE IF EXISTS "{n}"' for n in (self.ours, self.theirs, self.template))
        )
        shutil.rmtree(self.dump_dir, ignore_errors=True)
