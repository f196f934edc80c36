"""Shared fixtures, and the rule that keeps CI honest about skipped tests.

Tests marked `postgres` need PostgreSQL (row locks, real concurrency); on SQLite they skip and say
so. With REQUIRE_POSTGRES=1 (set by .ci/run) such a test fails instead of skipping, so a CI run
that silently fell back to SQLite cannot pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection, connections
from hypothesis import settings as hypothesis_settings

pytest_plugins = ["stripe_sandbox.pytest_plugin"]

# `pytest --hypothesis-profile=money-long tests/payments/test_money_model.py`: the model-based
# money test with many more examples and longer interleavings than CI's bounded run.
hypothesis_settings.register_profile("money-long", max_examples=300, stateful_step_count=40)

# The live server answers each request in a thread of its own; with persistent connections
# (CONN_MAX_AGE) every such thread would leave one open, and PostgreSQL would then refuse to drop
# the test database at the end ("being accessed by other users").
connections.settings["default"]["CONN_MAX_AGE"] = 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = connection.vendor == "postgresql"
    if os.environ.get("REQUIRE_POSTGRES") == "1" and not on_postgres:
        raise pytest.UsageError(
            "REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL: "
            "the row-lock and concurrency tests would be skipped."
        )
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _flush_lifts_the_audit_triggers():
    """A transactional test ends with `flush` (TRUNCATE on PostgreSQL, DELETE on SQLite), which
    the audit table's append-only triggers refuse. Here, and only here, the flush drops them for
    its own transaction and creates them again before it commits (audit.triggers), so every test
    starts with the triggers in place and the app never has a way around them."""
    from django.core.management.commands import flush

    from audit.triggers import install_statements, remove_statements

    original = flush.sql_flush

    def sql_flush(style, connection, *args, **kwargs):
        statements = original(style, connection, *args, **kwargs)
        if not statements:
            return statements
        vendor = connection.vendor
        # SQLite's flush is DELETEs, which the dashboard's triggers turn into deltas (TRUNCATE on
        # PostgreSQL fires no trigger): empty its tables last, as a test's database starts.
        dashboard = [
            "DELETE FROM payments_dashboarddelta;",
            "DELETE FROM payments_dashboardsummary;",
        ]
        return [
            *remove_statements(vendor),
            *statements,
            *(dashboard if vendor == "sqlite" else []),
            *install_statements(vendor),
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush, "sql_flush", sql_flush)
        yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness protects real passwords; in tests it only costs minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The dashboard caches its figures for a minute, the lists what they counted past the cap;
    # each test starts from what it made.
    from django.core.cache import cache

    from payments import list_counts

    cache.clear()
    list_counts._beyond_cap.clear()  # lists counted past the cap: this process's memory, a minute
    yield
    cache.clear()
    list_counts._beyond_cap.clear()


def pytest_unconfigure(config: pytest.Config) -> None:
    # Django deletes the SQLite test database file, not its WAL and shared-memory companions.
    for leftover in Path(__file__).resolve().parents[1].glob(f"var/test-db-{os.getpid()}.*"):
        leftover.unlink(missing_ok=True)
