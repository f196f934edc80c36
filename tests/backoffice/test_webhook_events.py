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
        ({"received_to": str(timezone.localdate() - dt.timedelta(days=10))}, []),
        (
            {
                "received_to": str(timezone.localdate() - dt.timedelta(days=10)),
                "show_ignored": "on",
            },
            ["ignored"],
        ),
        ({}, ["ok", "failed", "unmatched"]),
        ({"show_ignored": "on"}, ["ok", "failed", "ignored", "unmatched"]),
        ({"event_type": "customer.created"}, []),
        ({"event_type": "customer.created", "show_ignored": "on"}, ["ignored"]),
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


def test_ignored_events_are_hidden_until_asked_for(finance: Client, rows):
    html = finance.get(URL).content.decode()
    assert "evt_3" not in html
    assert '<input type="checkbox" name="show_ignored"' in html
    shown = finance.get(URL, {"show_ignored": "on"}, **HTMX).content.decode()
    assert "evt_3" in shown
    page = finance.get(URL, {"show_ignored": "on"}).content.decode()
    assert 'name="show_ignored" id="id_show_ignored" checked' in page


class TestCsv:
    CSV = reverse("backoffice:webhook_events_csv")

    def _rows(self, response) -> list[dict]:
        import csv
        import io

        assert response.streaming
        body = b"".join(response.streaming_content).decode()
        return list(csv.DictReader(io.StringIO(body)))

    def test_it_exports_what_the_list_shows_newest_first(self, finance: Client, rows):
        response = finance.get(self.CSV)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith('attachment; filename="webhook-events-')
        exported = self._rows(response)
        assert [r["stripe_event_id"] for r in exported] == ["evt_4", "evt_2", "evt_1"]
        failed = exported[1]
        assert (failed["type"], failed["status"], failed["payment_id"]) == (
            "charge.refunded",
            "failed",
            "",
        )
        assert failed["processing_error"] == "KeyError: x"
        assert exported[2]["payment_id"] == str(rows["ok"].payment_id)
        assert "data" not in exported[0] and "9999" not in str(exported)

    def test_it_follows_the_filters_and_the_sort(self, finance: Client, rows):
        only_ignored = self._rows(finance.get(self.CSV, {"status": "ignored"}))
        assert [r["stripe_event_id"] for r in only_ignored] == ["evt_3"]
        oldest_first = self._rows(
            finance.get(self.CSV, {"show_ignored": "on", "sort": "received_at"})
        )
        assert oldest_first[0]["stripe_event_id"] == "evt_3"
        assert len(oldest_first) == 4

    def test_formulas_are_defused(self, finance: Client):
        _event(7, "charge.failed", Status.FAILED, processing_error="=HYPERLINK(1)")
        (row,) = self._rows(finance.get(self.CSV))
        assert row["processing_error"] == "'=HYPERLINK(1)"

    def test_a_bad_filter_is_a_400(self, finance: Client):
        response = finance.get(self.CSV, {"received_from": "not a day"})
        assert response.status_code == 400
        assert b"Invalid filter" in response.content

    def test_the_list_links_the_export_with_its_filters(self, finance: Client, rows):
        html = finance.get(URL, {"status": "failed", "page": "1"}).content.decode()
        assert 'href="/backoffice/webhooks/export.csv?status=failed"' in html

    def test_it_needs_a_login(self, rows):
        response = Client().get(self.CSV)
        assert response.status_code == 302 and "/login" in response["Location"]

    def test_it_streams_with_few_queries(self, finance: Client, django_assert_max_num_queries):
        for n in range(30):
            _event(n, "charge.succeeded", Status.PROCESSED)
        with django_assert_max_num_queries(6):
            exported = self._rows(finance.get(self.CSV))
        assert len(exported) == 30


def test_events_are_found_by_id_prefix_and_type_prefix(finance: Client):
    from payments.models import StripeWebhookEvent as E

    a = E.objects.create(
        stripe_event_id="evt_1AbcDef",
        event_type="payment_intent.succeeded",
        data={},
        stripe_object_id="pi_3Mxyz",
        status="processed",
    )
    b = E.objects.create(
        stripe_event_id="evt_9Zzz",
        event_type="charge.refunded",
        data={},
        stripe_object_id="ch_3Mabc",
        status="processed",
    )
    found = lambda params: sorted(_ids(finance.get(URL, params)))  # noqa: E731
    assert found({"q": "evt_1Ab"}) == [a.pk]
    assert found({"q": "pi_3M"}) == [a.pk]
    assert found({"q": "ch_3M"}) == [b.pk]
    assert found({"event_type": "payment_intent"}) == [a.pk]
    assert found({"event_type": "charge."}) == [b.pk]
