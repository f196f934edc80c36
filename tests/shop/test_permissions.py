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
