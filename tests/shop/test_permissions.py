"""The permissions backend: the same permissions as Django's ModelBackend, in one query."""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from shop.models import CustomUser
from shop.permissions import OneQueryModelBackend
from tests import factories

pytestmark = pytest.mark.django_db


def _fresh(user: CustomUser) -> CustomUser:
    return CustomUser.objects.get(pk=user.pk)  # no permission cache


@pytest.mark.parametrize("group", [None, "Finance", "Support"])
@pytest.mark.parametrize("direct", [(), ("add_refund",), ("view_payment", "approve_refund")])
def test_the_same_permissions_as_model_backend(group, direct):
    user = factories.user(group=group)
    other = Group.objects.create(name="Other")
    other.permissions.add(Permission.objects.get(codename="view_dispute"))
    user.groups.add(other)
    for codename in direct:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    ours = OneQueryModelBackend().get_all_permissions(_fresh(user))
    assert ours == ModelBackend().get_all_permissions(_fresh(user))
    assert "payments.view_dispute" in ours
    assert all(f"payments.{c}" in ours for c in direct)


def test_one_query_cached_for_the_request(django_assert_num_queries):
    user = _fresh(factories.user(group="Finance"))
    with django_assert_num_queries(1):
        assert user.has_perm("payments.add_refund")
        assert user.has_perms(["payments.view_payment", "payments.view_refund"])
        assert not user.has_perm("payments.delete_payment")


def test_inactive_users_and_objects_have_none_and_superusers_all():
    finance = factories.user(group="Finance")
    inactive = factories.user(group="Finance", is_active=False)
    root = factories.user(is_superuser=True)
    backend = OneQueryModelBackend()
    assert backend.get_all_permissions(_fresh(inactive)) == set()
    assert backend.get_all_permissions(_fresh(finance), obj=finance) == set()
    assert backend.get_all_permissions(_fresh(root)) == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }


@pytest.mark.parametrize("group", [None, "Finance", "Support"])
def test_the_sessions_user_comes_with_their_permissions_in_one_query(
    group, django_assert_num_queries
):
    user = factories.user(group=group)
    user.user_permissions.add(Permission.objects.get(codename="view_dispute"))
    with django_assert_num_queries(1):
        loaded = OneQueryModelBackend().get_user(user.pk)
        granted = loaded.get_all_permissions()
        assert loaded.has_perm("payments.view_dispute")
    assert granted == ModelBackend().get_all_permissions(_fresh(user))
    assert "granted_permissions" not in loaded.__dict__  # read, not left on the user


def test_a_superuser_loaded_so_still_has_every_permission_and_the_inactive_none():
    root = OneQueryModelBackend().get_user(factories.user(is_superuser=True).pk)
    assert root.get_all_permissions() == ModelBackend().get_all_permissions(_fresh(root))
    assert len(root.get_all_permissions()) == Permission.objects.count()
    inactive = factories.user(group="Finance", is_active=False)
    assert OneQueryModelBackend().get_user(inactive.pk) is None


def test_a_back_office_page_reads_the_users_permissions_with_the_user(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(factories.user(group="Finance"))
    client.get("/backoffice/audit/")  # warm
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/backoffice/refunds/")
    assert response.status_code == 200
    from shop.permissions import _sql as permissions_query

    assert not [q for q in queries if q["sql"].startswith(permissions_query().split(" WHERE ")[0])]
    (user_read,) = [q["sql"] for q in queries if "granted_permissions" in q["sql"]]
    assert "auth_permission" in user_read
