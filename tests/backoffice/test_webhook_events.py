"""Webhook events: list with filters, detail with the payload, replay for failed events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import StripeWebhookEvent
from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db
URL = reverse("backoffice:webhook_events")
Status = StripeWebhookEvent.Status


def _ids(response) -> list[int]:
    return [row.record.pk for row in response.context["table"].page.object_list]


def _event(n: int, event_type: str, status: str, *, days_ago: int = 0, payment=None, **fields):
    event = StripeWebhookEvent.objects.create(
        stripe_event_id=f"evt_{n}",
        event_type=event_type,
        status=status,
        data={"id": f"evt_{n}", "type": event_type, "data": {"object": {"amount": 9999}}},
        payment=payment,
        **fields,
    )
    if days_ago:
        StripeWebhookEvent.objects.filter(pk=event.pk).update(
            received_at=timezone.now() - dt.timedelta(days=days_ago)
        )
    return event


@pytest.fixture
def rows():
    p = factories.payment()
    return {
        "ok": _event(1, "payment_intent.succeeded", Status.PROCESSED, payment=p),
        "failed": _event(2, "charge.refunded", Status.FAILED, processing_error="KeyError: x"),
        "ignored": _event(3, "customer.created", Status.IGNORED, days_ago=20),
        "unmatched": _event(4, "payment_intent.succeeded", Status.UNMATCHED),
    }


def test_full_page_and_htmx_partial(finance: Client, rows):
    page = finance.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert '<datalist id="event-types">' in html
    assert '<label for="id_event_type">Type</label>' in html
    partial = finance.get(URL, **HTMX).content.decode()
    assert partial.lstrip().startswith('<section id="table"')


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "failed"}, ["failed"]),
        ({"status": "processed"}, ["ok"]),
        ({"status": "ignored"}, ["ignored"]),
        ({"status": "unmatched"}, ["unmatched"]),
        ({"event_type": "payment_intent.succeeded"}, ["ok", "unmatched"]),
        ({"received_to": str(timezone.localdate() - dt.timedelta(days=10))}, ["ignored"]),
    ],
)
def test_it_filters(finance: Client, rows, query, expected):
    assert sorted(_ids(finance.get(URL, query))) == sorted(rows[k].pk for k in expected)


def test_the_list_does_not_load_payloads(finance: Client, rows):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        finance.get(URL)
    (select,) = [
        q["sql"] for q in ctx.captured_queries if "payments_stripewebhookevent" in q["sql"]
    ]
    assert '"data"' not in select


def test_queries_stay_constant(finance: Client, django_assert_max_num_queries):
    p = factories.payment()
    for n in range(40):
        _event(n, "charge.succeeded", Status.PROCESSED, payment=p)
    with django_assert_max_num_queries(6):
        response = finance.get(URL)
    assert len(_ids(response)) == 25


def test_detail_shows_the_payload_pretty_printed_and_the_error(finance: Client, rows):
    response = finance.get(reverse("backoffice:webhook_event_detail", args=[rows["failed"].pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "&quot;amount&quot;: 9999" in html
    assert "\n  &quot;data&quot;: {" in html
    assert "KeyError: x" in html
    assert "Replay event" in html


def test_no_replay_button_unless_failed(finance: Client, rows):
    html = finance.get(
        reverse("backoffice:webhook_event_detail", args=[rows["ok"].pk])
    ).content.decode()
    assert "Replay event" not in html


def test_an_event_that_did_not_fail_is_not_replayed_even_by_a_forged_post(finance: Client, rows):
    before = StripeWebhookEvent.objects.get(pk=rows["ok"].pk)
    url = reverse("backoffice:webhook_event_replay", args=[rows["ok"].pk])
    page = finance.post(url, follow=True).content.decode()
    assert "Only a failed event can be replayed" in page
    after = StripeWebhookEvent.objects.get(pk=rows["ok"].pk)
    assert (after.status, after.processed_at) == (before.status, before.processed_at)


def test_replay_needs_a_post(finance: Client, rows):
    url = reverse("backoffice:webhook_event_replay", args=[rows["failed"].pk])
    assert finance.get(url).status_code == 405


def test_replaying_a_failed_event_applies_it_again(finance: Client):
    event = _event(9, "customer.created", Status.FAILED, processing_error="boom")
    url = reverse("backoffice:webhook_event_replay", args=[event.pk])
    response = finance.post(url, follow=True)
    event.refresh_from_db()
    assert event.status == Status.IGNORED
    assert "Replayed: ignored." in response.content.decode()
    assert "Replay event" not in response.content.decode()
