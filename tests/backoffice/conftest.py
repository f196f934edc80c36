from __future__ import annotations

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def finance_user(db):
    return factories.user("fiona", group="Finance")


@pytest.fixture
def support_user(db):
    return factories.user("sam", group="Support")


@pytest.fixture
def finance(finance_user) -> Client:
    client = Client()
    client.force_login(finance_user)
    return client


@pytest.fixture
def support(support_user) -> Client:
    client = Client()
    client.force_login(support_user)
    return client


HTMX = {"HTTP_HX_REQUEST": "true"}
