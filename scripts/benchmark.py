#!/usr/bin/env python
"""Measure the project at volume, side by side: `scripts/benchmark.py --payments 1000000`.

Seeds the database named by DATABASE_URL (PostgreSQL for numbers that mean something) up to N
demo payments (`seed_demo`, which only adds what is missing), then runs each section of
`scripts/bench/` in turn: each measures one part of the project against what a user would
otherwise use, in the same run, interleaved, and prints medians and ratios. `--only pages,webhooks`
runs some. Measure with this, not with timing assertions in tests.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

# In the order they run. "seed" seeds scratch databases of its own and compares with COPY; the
# others measure the database at DATABASE_URL, seeded to --payments first.
SECTIONS = ["seed", "pages", "admin", "dashboard", "api", "csv", "webhooks", "autovacuum"]


def _available() -> list[str]:
    return [s for s in SECTIONS if importlib.util.find_spec(f"scripts.bench.{s}") is not None]


def _vacuum_if_autovacuum_is_off() -> None:
    """Where autovacuum is off (as on some benchmark machines), VACUUM once, as autovacuum would
    after a load: without a visibility map every index-only scan reads the heap too, and the
    numbers would be of a server nobody runs."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        if cursor.fetchone()[0] == "on":
            return
        print("autovacuum is off on this server: VACUUM (ANALYZE) first", flush=True)
        cursor.execute("VACUUM (ANALYZE)")


def main() -> None:
    available = _available()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument(
        "--only",
        default=",".join(available),
        help=f"comma-separated sections, of: {', '.join(available)} (default: all)",
    )
    parser.add_argument(
        "--webhooks", action="store_true", help="the webhooks section only (--only webhooks)"
    )
    modules = {name: importlib.import_module(f"scripts.bench.{name}") for name in available}
    for module in modules.values():
        if hasattr(module, "add_arguments"):
            module.add_arguments(parser)
    args = parser.parse_args()
    chosen = ["webhooks"] if args.webhooks else [s for s in args.only.split(",") if s]
    unknown = sorted(set(chosen) - set(available))
    if unknown:
        parser.error(f"no such section: {', '.join(unknown)}")

    call_command("migrate", verbosity=0)
    if any(s not in ("seed", "webhooks") for s in chosen):
        call_command("seed_demo", payments=args.payments, allow_production=True, verbosity=1)
        _vacuum_if_autovacuum_is_off()
    for name in available:
        if name in chosen:
            print(f"\n=== {name}", flush=True)
            modules[name].run(args)


if __name__ == "__main__":
    main()
