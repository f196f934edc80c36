"""Audit entries are written once and never changed or deleted: not by the model, not by a
queryset, not by raw SQL (the database's triggers), not in the admin."""

from __future__ import annotations

import importlib

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from audit import triggers
from audit.models import AppendOnly, AuditEntry
from audit.services import audit_record
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry() -> AuditEntry:
    return audit_record(
        action=AuditEntry.Action.PAYMENT_REFRESHED,
        summary="Payment refreshed",
        object_type="payment",
        object_id="1",
        actor_label="someone",
        before={"status": "processing"},
        after={"status": "succeeded"},
    )


def _raw(sql: str, params: list | None = None) -> None:
    # A savepoint, so that the refused statement does not spoil the test's transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _unchanged(entry: AuditEntry) -> None:
    row = AuditEntry.objects.values("summary", "after").get(pk=entry.pk)
    assert row == {"summary": "Payment refreshed", "after": {"status": "succeeded"}}


def test_the_model_refuses_to_save_an_entry_again(entry):
    entry.summary = "Nothing happened"
    with pytest.raises(AppendOnly, match="append-only"):
        entry.save()
    _unchanged(entry)


def test_the_model_refuses_to_delete_an_entry(entry):
    with pytest.raises(AppendOnly):
        entry.delete()
    _unchanged(entry)


def test_querysets_refuse_update_and_delete(entry):
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(summary="rewritten")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    _unchanged(entry)


def test_the_database_refuses_a_raw_update_and_delete(entry):
    # On whichever database the suite runs: PostgreSQL's trigger or SQLite's.
    table = AuditEntry._meta.db_table
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"UPDATE {table} SET summary = %s WHERE id = %s", ["rewritten", entry.pk])  # noqa: S608
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {table} WHERE id = %s", [entry.pk])  # noqa: S608
    _unchanged(entry)


# Transactional: TRUNCATE needs the entry committed (in the test's own transaction its
# deferred foreign-key checks are still pending, and PostgreSQL refuses for that reason first).
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgresql_refuses_update_delete_and_truncate(entry):
    table = AuditEntry._meta.db_table
    for sql in (
        f"UPDATE {table} SET actor_label = 'nobody'",  # noqa: S608
        f"DELETE FROM {table}",  # noqa: S608
        f"TRUNCATE {table}",
        f"TRUNCATE {table} RESTART IDENTITY CASCADE",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            _raw(sql)
    _unchanged(entry)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal "
            "AND tgenabled = 'O' ORDER BY tgname",
            [table],
        )
        assert [name for (name,) in cursor.fetchall()] == [
            "audit_entry_append_only",
            "audit_entry_no_truncate",
        ]


def test_sqlite_refuses_update_and_delete(entry):
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's triggers; PostgreSQL's are tested above")
    table = AuditEntry._meta.db_table
    with pytest.raises(DatabaseError, match="UPDATE refused"):
        _raw(f"UPDATE {table} SET actor_label = 'nobody'")  # noqa: S608
    with pytest.raises(DatabaseError, match="DELETE refused"):
        _raw(f"DELETE FROM {table}")  # noqa: S608
    _unchanged(entry)


def test_the_migration_installs_what_audit_triggers_describes():
    # The test flush (tests/conftest.py) lifts and restores the triggers with audit.triggers:
    # it must put back exactly what the migration made.
    migration = importlib.import_module("audit.migrations.0002_append_only")
    assert triggers.install_statements("postgresql") == migration.POSTGRESQL_INSTALL
    assert triggers.remove_statements("postgresql") == migration.POSTGRESQL_REMOVE
    assert triggers.install_statements("sqlite") == migration.SQLITE_INSTALL
    assert triggers.remove_statements("sqlite") == migration.SQLITE_REMOVE


# Two transactional tests, in this order (pytest-django keeps their order among themselves):
# the first one's flush empties the table with its entry in it (tests/conftest.py lifts the
# triggers for the flush only), and the second finds the table empty and the triggers back.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_transactional_test_with_entries_is_flushed(entry):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {AuditEntry._meta.db_table}")  # noqa: S608


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_triggers_are_back_after_a_flush(entry):
    assert AuditEntry.objects.count() == 1  # the previous test's entry is gone
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(f"DELETE FROM {AuditEntry._meta.db_table}")  # noqa: S608


class TestTheAdmin:
    @pytest.fixture
    def admin(self, client):
        client.force_login(factories.user("root", is_staff=True, is_superuser=True))
        return client

    def test_it_lists_and_shows_entries(self, admin, entry):
        page = admin.get(reverse("admin:audit_auditentry_changelist"))
        assert page.status_code == 200
        html = page.content.decode()
        assert "someone" in html
        assert reverse("admin:audit_auditentry_add") not in html
        assert "delete_selected" not in html
        assert (
            admin.get(reverse("admin:audit_auditentry_changelist"), {"q": "1"}).status_code == 200
        )
        detail = admin.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))
        assert detail.status_code == 200
        assert b'name="_save"' not in detail.content  # a view page, not a form

    def test_nothing_can_be_added_changed_or_deleted_even_by_a_superuser(self, admin, entry):
        add = reverse("admin:audit_auditentry_add")
        assert admin.get(add).status_code == 403
        assert admin.post(add, {"summary": "forged", "action": "refund.sent"}).status_code == 403
        change = reverse("admin:audit_auditentry_change", args=[entry.pk])
        admin.post(change, {"summary": "rewritten", "actor_label": "nobody"})
        delete = reverse("admin:audit_auditentry_delete", args=[entry.pk])
        assert admin.get(delete).status_code == 403
        assert admin.post(delete, {"post": "yes"}).status_code == 403
        bulk = admin.post(
            reverse("admin:audit_auditentry_changelist"),
            {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
        )
        assert bulk.status_code in (200, 302)
        _unchanged(entry)
        assert AuditEntry.objects.count() == 1

    def test_finance_may_view_and_nothing_more(self, client, entry):
        client.force_login(factories.user("fiona", group="Finance", is_staff=True))
        assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
        assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
