"""The authentication backend: Django's ModelBackend, with a user's permissions read in one query,
the request's user read with them, by SQL compiled once per connection (config.prepared).

Every back-office page checks permissions, and ModelBackend reads them in two queries (the user's
own, their groups'), each built and compiled by the ORM on every request. Here they are one
query, a union of the two grant tables, whose SQL is written once per process from the models'
tables. The answer is the same set of "app_label.codename" strings, cached on the user for the
request as ModelBackend does; superusers, inactive users and object permissions are ModelBackend's.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import QuerySet, TextField
from django.db.models.expressions import RawSQL

from config.prepared import one_row


def _granted(user: str) -> str:
    """The ids of the permissions granted to `user` (an SQL expression: a placeholder, or the
    outer query's column), directly or through a group: a union of the two grant tables."""
    q = connection.ops.quote_name
    user_model = get_user_model()
    own = user_model.user_permissions.field  # type: ignore[attr-defined]
    member = user_model.groups.field  # type: ignore[attr-defined]
    granted = Group.permissions.field
    own_t, member_t, granted_t = (f.remote_field.through._meta for f in (own, member, granted))  # type: ignore[union-attr]

    def col(meta: Any, name: str) -> str:
        return q(meta.get_field(name).column)

    # Table and column names from the models, quoted: no input reaches the text (S608).
    return (
        f"SELECT {col(own_t, own.m2m_reverse_field_name())} FROM {q(own_t.db_table)} "  # noqa: S608
        f"WHERE {col(own_t, own.m2m_field_name())} = {user} "
        f"UNION ALL "
        f"SELECT g.{col(granted_t, granted.m2m_reverse_field_name())} "
        f"FROM {q(granted_t.db_table)} g JOIN {q(member_t.db_table)} m "
        f"ON m.{col(member_t, member.m2m_reverse_field_name())} = "
        f"g.{col(granted_t, granted.m2m_field_name())} "
        f"WHERE m.{col(member_t, member.m2m_field_name())} = {user}"
    )


def _permissions_select(columns: str, user: str) -> str:
    """SELECT `columns` (of permission p and its content type ct) of the permissions granted to
    `user` (see _granted)."""
    q = connection.ops.quote_name
    return (
        f"SELECT {columns} FROM {q(Permission._meta.db_table)} p "  # noqa: S608 (model names)
        f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE p.{q('id')} IN ({_granted(user)})"
    )


@functools.cache
def _sql() -> str:
    q = connection.ops.quote_name
    return _permissions_select(f"ct.{q('app_label')}, p.{q('codename')}", "%s")


@functools.cache
def _permissions_column() -> str:
    """The user's "app_label.codename" permissions as a JSON array, a subquery of the user's
    row (the same as permissions_of)."""
    q = connection.ops.quote_name
    meta = get_user_model()._meta
    user = f"{q(meta.db_table)}.{q(str(meta.pk.column))}"  # type: ignore[union-attr]
    name = f"ct.{q('app_label')} || '.' || p.{q('codename')}"
    if connection.vendor == "postgresql":
        return _permissions_select(f"COALESCE(json_agg({name}), '[]')::text", user)
    return _permissions_select(f"json_group_array({name})", user)


def permissions_of(user_id: int) -> set[str]:
    """The "app_label.codename" permissions granted to the user directly or through a group."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(), [user_id, user_id])
        return {f"{app_label}.{codename}" for app_label, codename in cursor.fetchall()}


def _user_by_id() -> QuerySet:
    """The user of an id, with their permissions (one query: every back-office page and API
    call checks them, and a second query was a second round trip to the database)."""
    return (
        get_user_model()
        ._default_manager.filter(pk=0)
        # Table and column names from the models, quoted: no input reaches the text.
        .annotate(granted_permissions=RawSQL(_permissions_column(), [], output_field=TextField()))  # noqa: S611
    )


class OneQueryModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """ModelBackend's: the active user of this id (the session's), else None."""
        pk = get_user_model()._meta.pk.get_db_prep_value(user_id, connection)  # type: ignore[union-attr]
        user = one_row("user and permissions by id", _user_by_id, [pk])
        if user is None or not self.user_can_authenticate(user):
            return None
        granted = json.loads(user.__dict__.pop("granted_permissions"))
        if not user.is_superuser:  # a superuser's are every permission (ModelBackend's)
            user._perm_cache = set(granted)
        return user

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj)
        if not hasattr(user_obj, "_perm_cache"):
            user_obj._perm_cache = permissions_of(user_obj.pk)
        return user_obj._perm_cache
