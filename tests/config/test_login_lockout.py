"""Brute-force protection on every login: the back-office's and the admin's forms, and the
API's token endpoint. After a few wrong passwords for one account from one address, that
account is locked there for a cool-off, with a clear message; then it works again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"


@pytest.fixture
def fiona():
    return factories.user("fiona", group="Finance", is_staff=True)


def wrong_logins(client: Client, url: str, n: int) -> list[int]:
    return [
        client.post(url, {"username": "fiona", "password": f"guess-{i}"}).status_code
        for i in range(n)
    ]


def cool_off_passes() -> None:
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(hours=1))


@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_a_login_form_locks_after_five_wrong_passwords_then_releases(fiona, url):
    client = Client()
    # The form again, with its error, four times; the fifth wrong password locks.
    assert wrong_logins(client, url, 5) == [200, 200, 200, 200, 429]
    locked = client.post(url, {"username": "fiona", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert "_auth_user_id" not in client.session  # the right password did not get in

    cool_off_passes()
    ok = client.post(url, {"username": "fiona", "password": PASSWORD})
    assert ok.status_code == 302
    assert client.session["_auth_user_id"] == str(fiona.pk)


def test_another_address_is_not_locked_out_by_someone_elses_guesses(fiona):
    wrong_logins(Client(REMOTE_ADDR="192.0.2.66"), "/accounts/login/", 6)
    elsewhere = Client(REMOTE_ADDR="192.0.2.10")
    response = elsewhere.post("/accounts/login/", {"username": "fiona", "password": PASSWORD})
    assert response.status_code == 302


def test_a_forged_forwarded_for_does_not_escape_the_lockout(fiona):
    client = Client()
    for n in range(6):
        client.post(
            "/accounts/login/",
            {"username": "fiona", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
    response = client.post(
        "/accounts/login/",
        {"username": "fiona", "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="203.0.113.99",
    )
    assert response.status_code == 429


def test_the_token_endpoint_locks_too_and_says_so_in_the_api_shape(fiona, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth-token": "1000/minute", "payment-status": "60/minute"},
    }
    api = APIClient()
    answers = [
        api.post("/api/auth/token/", {"username": "fiona", "password": f"x{n}"}).status_code
        for n in range(5)
    ]
    assert answers == [400, 400, 400, 400, 429]
    locked = api.post("/api/auth/token/", {"username": "fiona", "password": PASSWORD})
    assert locked.status_code == 429
    error = locked.json()["error"]
    assert (error["code"], error["status"]) == ("locked_out", 429)
    assert "Too many failed sign-in attempts" in error["message"]

    cool_off_passes()
    ok = api.post("/api/auth/token/", {"username": "fiona", "password": PASSWORD})
    assert ok.status_code == 200 and ok.json()["token"]
