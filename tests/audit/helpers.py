"""Tests only: what the append-only trail refuses the app."""

from __future__ import annotations

from django.db import connection, transaction

from audit.triggers import TABLE, install_statements, remove_statements


def audit_trail_empty() -> None:
    """Delete every audit entry, lifting the append-only triggers for the one transaction that
    does it (as the test flush does, tests/conftest.py): for tests that reset their rows between
    examples, since entries hold on to the payments they are about (PROTECT)."""
    vendor = connection.vendor
    statements = [*remove_statements(vendor), f"DELETE FROM {TABLE}", *install_statements(vendor)]  # noqa: S608 (our table)
    with transaction.atomic(), connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
