from __future__ import annotations

import pytest
from django.test import Client

from tests import factories


@pytest.fixture
def fiona(db):
    return factories.user("fiona", group="Finance", email="fiona@example.com")


@pytest.fixture
def finance(fiona) -> Client:
    client = Client()
    client.force_login(fiona)
    return client
