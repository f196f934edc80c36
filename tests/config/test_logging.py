"""A refused request is one log line (no traceback); a bug keeps its traceback."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db


def request_records(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


def test_a_customers_403_is_one_warning_line_without_a_traceback(caplog):
    client = Client()
    client.force_login(factories.user("alice"))
    caplog.clear()  # the login's own lines
    with caplog.at_level(logging.INFO):
        assert client.get("/backoffice/").status_code == 403
    (record,) = request_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "Forbidden (Permission denied): /backoffice/"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text
    assert len(caplog.text.strip().splitlines()) == 1


def test_an_api_403_is_one_line_too(caplog):
    support = factories.api_client(factories.user("sam", group="Support"))
    payment = factories.payment()
    with caplog.at_level(logging.INFO):
        response = support.post(
            "/api/payments/refunds/create_refund/", {"payment_id": payment.pk}, format="json"
        )
    assert response.status_code == 403
    (record,) = request_records(caplog)
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


@pytest.mark.urls("tests.config.error_urls")
def test_a_500_keeps_its_traceback(caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.INFO):
        assert client.get("/backoffice/boom/").status_code == 500
    (record,) = request_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None
    assert "RuntimeError: a bug" in caplog.text


def test_djangos_logger_does_not_print_records_a_second_time():
    # With DEBUG on, Django's default config gives the "django" logger a console handler of its
    # own besides the root's: every record (and traceback) was printed twice in the demo.
    assert logging.getLogger("django").handlers == []
    assert logging.getLogger("django").propagate
