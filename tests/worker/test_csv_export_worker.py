"""A large CSV export prepared by a real Celery worker (Redis broker, PostgreSQL) for the user
who asked at a real gunicorn, and downloaded there once ready."""

from __future__ import annotations

import csv
import io
import re
import time

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from backoffice.models import CsvExport
from shop.models import CustomUser
from tests import factories

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def _login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    login = f"{base}/accounts/login/"
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(login).text)
    assert token
    answer = session.post(
        login,
        data={"username": username, "password": "pw-for-tests", "csrfmiddlewaretoken": token[1]},
        headers={"Referer": login},
    )
    assert "sessionid" in session.cookies, (answer.status_code, answer.text[:2000])
    return session


def test_the_worker_prepares_it_and_only_its_user_downloads_it(
    machine_redis, stack_factory, tmp_path
):
    for total, currency in (("12.340", "KWD"), ("1500", "JPY"), ("99.99", "EUR")):
        factories.payment(factories.order(total=total, currency=currency), card_brand="=1+1")
    # The servers hash passwords as production does (the tests' own hasher is a fast one).
    hasher = PBKDF2PasswordHasher()
    real_hash = hasher.encode("pw-for-tests", hasher.salt())
    fiona = factories.user("fiona", group="Finance")
    frank = factories.user("frank", group="Finance")
    CustomUser.objects.filter(pk__in=[fiona.pk, frank.pk]).update(password=real_hash)
    stack = stack_factory(machine_redis)
    env = {
        "BACKOFFICE_EXPORT_STREAM_MAX_ROWS": "2",
        "BACKOFFICE_EXPORT_DIR": str(tmp_path / "exports"),
    }
    server = stack.app_server(**env)
    stack.worker(**env)

    session = _login(server, "fiona")
    asked = session.get(f"{server}/backoffice/payments/export.csv", params={"sort": "amount"})
    assert asked.status_code == 200
    assert asked.url.startswith(f"{server}/backoffice/exports/")  # its page, not the file
    export = CsvExport.objects.get(user=fiona)

    deadline = time.monotonic() + 30
    while (link := re.search(r'href="([^"]+/download)"', session.get(asked.url).text)) is None:
        assert time.monotonic() < deadline, "the export was never ready"
        time.sleep(0.3)
    download = session.get(server + link[1])
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.content.decode())))
    assert [r["amount"] for r in rows] == ["99.99", "1500", "12.340"]  # by currency, then amount
    assert {r["card_brand"] for r in rows} == {"'=1+1"}
    export.refresh_from_db()
    assert export.status == CsvExport.Status.READY
    assert export.size == len(download.content)

    colleague = _login(server, "frank")
    assert colleague.get(asked.url).status_code == 404
    assert colleague.get(server + link[1]).status_code == 404
