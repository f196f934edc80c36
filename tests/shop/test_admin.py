"""The admin shows orders and API tokens and changes none of them; a token shows its first
characters only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token

from shop.models import Order
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(factories.user("root", is_staff=True, is_superuser=True))
    return client


def test_an_order_cannot_be_added_changed_or_deleted(admin_client):
    order = factories.order(total="25.00")
    changelist = admin_client.get(reverse("admin:shop_order_changelist"))
    assert changelist.status_code == 200
    assert reverse("admin:shop_order_add") not in changelist.content.decode()

    url = reverse("admin:shop_order_change", args=[order.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # a view page, not a form
    admin_client.post(url, {"total": "1.00", "currency": "EUR", "status": "paid"})
    order.refresh_from_db()
    assert (order.total, order.status) == (Decimal("25.00"), Order.Status.PENDING)

    assert admin_client.get(reverse("admin:shop_order_add")).status_code == 403
    delete = admin_client.post(reverse("admin:shop_order_delete", args=[order.pk]), {"post": "yes"})
    assert delete.status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()


def test_tokens_show_only_a_key_prefix(admin_client):
    alice = factories.user("alice")
    bob = factories.user("bob")
    keys = [Token.objects.create(user=u).key for u in (alice, bob)]

    changelist = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist"))
    assert changelist.status_code == 200
    html = changelist.content.decode()
    for key in keys:
        assert key not in html
        assert f"{key[:6]}…" in html
    assert reverse("admin:authtoken_tokenproxy_add") not in html

    url = reverse("admin:authtoken_tokenproxy_change", args=[alice.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert keys[0] not in page.content.decode()
    assert f"{keys[0][:6]}…" in page.content.decode()
    assert b'name="_save"' not in page.content


def test_tokens_cannot_be_added_changed_or_deleted(admin_client):
    alice = factories.user("alice")
    key = Token.objects.create(user=alice).key
    add = admin_client.post(reverse("admin:authtoken_tokenproxy_add"), {"user": alice.pk})
    assert add.status_code == 403
    change = reverse("admin:authtoken_tokenproxy_change", args=[alice.pk])
    admin_client.post(change, {"user": factories.user("bob").pk})
    delete = reverse("admin:authtoken_tokenproxy_delete", args=[alice.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert Token.objects.get().key == key
    assert Token.objects.get().user == alice
