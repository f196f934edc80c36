"""Finance and Support exist from the first migrate, with exactly their permissions."""

import pytest
from django.contrib.auth.models import Group

from tests import factories

pytestmark = pytest.mark.django_db

VIEW = {"payments.view_payment", "payments.view_refund", "payments.view_stripewebhookevent"}


def test_finance_sees_everything_and_may_refund():
    user = factories.user(group="Finance")
    assert user.has_perms([*VIEW, "payments.add_refund"])
    assert not user.has_perm("payments.change_payment")
    assert not user.has_perm("payments.delete_refund")


def test_support_sees_everything_and_may_not_refund():
    user = factories.user(group="Support")
    assert user.has_perms(VIEW)
    assert not user.has_perm("payments.add_refund")


def test_a_customer_has_no_back_office_permission():
    user = factories.user()
    assert not any(user.has_perm(p) for p in [*VIEW, "payments.add_refund"])


def test_superusers_can_do_everything():
    user = factories.user(is_superuser=True)
    assert user.has_perms([*VIEW, "payments.add_refund"])


def test_only_the_two_roles_exist():
    assert set(Group.objects.values_list("name", flat=True)) == {"Finance", "Support"}
