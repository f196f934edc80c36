"""The Audit page and its CSV: Finance only, filtered, paged without counting, streamed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db

Action = AuditEntry.Action
ROUTES = ["backoffice:audit", "backoffice:audit_csv"]


def _entry(**fields) -> AuditEntry:
    fields.setdefault("action", Action.PAYMENT_REFRESHED)
    fields.setdefault("object_type", "payment")
    fields.setdefault("summary", "Payment refreshed from Stripe: no change")
    at = fields.pop("at", None)
    if at is not None:  # backdated, for the date filters
        actor = fields.pop("actor")
        return AuditEntry.objects.create(at=at, actor=actor, actor_label=actor.email, **fields)
    return audit_record(**fields)


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- Who may see it -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ROUTES)
def test_anonymous_is_sent_to_login(client: Client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ROUTES)
def test_a_customer_is_forbidden(name):
    assert _logged_in(factories.user("alice")).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", ROUTES)
def test_support_is_forbidden(name):
    support = factories.user("sam", group="Support")
    assert _logged_in(support).get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", ROUTES)
def test_finance_sees_it(finance: Client, name):
    assert finance.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ROUTES)
def test_a_second_finance_user_sees_the_same_trail(fiona, name):
    _entry(actor=fiona, summary="Refresh by the first")
    second = _logged_in(factories.user("felix", group="Finance"))
    response = second.get(reverse(name))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"Refresh by the first" in body


@pytest.mark.parametrize("name", ROUTES)
def test_it_only_answers_reads(finance: Client, name):
    assert finance.post(reverse(name)).status_code == 405


def test_the_nav_links_to_it_for_finance_only(finance: Client):
    link = f'href="{reverse("backoffice:audit")}"'
    assert link in finance.get(reverse("backoffice:payments")).content.decode()
    support = _logged_in(factories.user("sam", group="Support"))
    assert link not in support.get(reverse("backoffice:payments")).content.decode()


# --- The list -------------------------------------------------------------------------------


def test_it_lists_who_when_where_what_and_before_after(finance: Client, fiona):
    p = factories.payment()
    _entry(
        actor=fiona,
        payment_id=p.pk,
        object_id=p.pk,
        summary=f"Payment #{p.pk} refreshed from Stripe",
        before={"status": "processing"},
        after={"status": "succeeded"},
    )
    html = finance.get(reverse("backoffice:audit")).content.decode()
    assert "fiona@example.com" in html
    assert "Payment refreshed from Stripe" in html
    assert f'href="{reverse("backoffice:payment_detail", args=[p.pk])}"' in html
    assert "status: processing -&gt; succeeded" in html


def test_htmx_gets_only_the_table(finance: Client):
    html = finance.get(reverse("backoffice:audit"), **HTMX).content.decode()
    assert html.lstrip().startswith('<section id="table"')


def test_the_filters(finance: Client, fiona):
    felix = factories.user("felix", group="Finance")
    p, other = factories.payment(), factories.payment()
    _entry(actor=fiona, payment_id=p.pk, object_id=p.pk, summary="A: fiona refreshed")
    _entry(
        actor=felix,
        action=Action.WEBHOOK_REPLAYED,
        object_type="webhook_event",
        object_id="evt_42",
        payment_id=other.pk,
        summary="B: felix replayed",
    )
    _entry(
        actor_label="reconcile (scheduled)",
        action=Action.RECONCILE_RUN,
        object_type="job",
        object_id="reconcile",
        summary="C: reconcile changed one",
        before={"payments": {str(p.pk): {"status": "processing"}}},
        after={"payments": {str(p.pk): {"status": "succeeded"}}},
    )
    _entry(actor=fiona, summary="D: long ago", at=timezone.now() - dt.timedelta(days=40))

    def shown(**query) -> set[str]:
        response = finance.get(reverse("backoffice:audit"), query)
        assert response.status_code == 200
        rows = response.context["table"].page.object_list
        return {row.record.summary[0] for row in rows}

    assert shown() == {"A", "B", "C", "D"}
    assert shown(action=Action.WEBHOOK_REPLAYED) == {"B"}
    assert shown(actor=felix.pk) == {"B"}
    assert shown(object_type="job") == {"C"}
    assert shown(payment=p.pk) == {"A", "C"}  # its own entries, and the run that changed it
    assert shown(q="evt_42") == {"B"}
    assert shown(q="RECONCILE changed") == {"C"}
    since = (timezone.localdate() - dt.timedelta(days=1)).isoformat()
    assert shown(at_from=since) == {"A", "B", "C"}
    until = (timezone.localdate() - dt.timedelta(days=30)).isoformat()
    assert shown(at_to=until) == {"D"}


def test_a_bad_filter_is_a_400_with_the_reason(finance: Client):
    response = finance.get(reverse("backoffice:audit"), {"action": "nope", "payment": "x"})
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    assert finance.get(reverse("backoffice:audit_csv"), {"at_from": "soon"}).status_code == 400


def test_the_actor_choices_are_staff_not_customers(finance: Client, fiona):
    factories.user("alice")
    choices = finance.get(reverse("backoffice:audit")).context["filter"].form["actor"]
    html = str(choices)
    assert "fiona" in html and "alice" not in html


def test_it_pages_without_counting(finance: Client, fiona, django_assert_max_num_queries):
    for n in range(30):
        _entry(actor=fiona, summary=f"entry {n}")
    # session, user with permissions (one query), the actor choices, a page of entries (one
    # more than 25).
    with django_assert_max_num_queries(4) as captured:
        response = finance.get(reverse("backoffice:audit"))
    assert response.status_code == 200
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    assert 'rel="next"' in response.content.decode()
    assert "entry 4" not in response.content.decode()  # the 26th newest is on page two
    assert "entry 4" in finance.get(reverse("backoffice:audit"), {"page": 2}).content.decode()


# --- The CSV --------------------------------------------------------------------------------


def _csv(response) -> list[dict[str, str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_csv_has_every_field_and_follows_the_filters(finance: Client, fiona):
    p = factories.payment()
    _entry(
        actor=fiona,
        payment_id=p.pk,
        object_id=p.pk,
        summary="=HYPERLINK(evil)",
        before={"status": "processing"},
        after={"status": "succeeded"},
    )
    _entry(
        actor_label="settle_refunds (command)",
        action=Action.SWEEP_RUN,
        object_type="job",
        summary="Refund sweep: 1 settled",
    )
    response = finance.get(reverse("backoffice:audit_csv"), {"action": Action.PAYMENT_REFRESHED})
    assert 'filename="audit-' in response["Content-Disposition"]
    (row,) = _csv(response)
    assert row["who"] == "fiona@example.com" and row["user_id"] == str(fiona.pk)
    assert (row["action"], row["object_type"], row["payment_id"]) == (
        "payment.refreshed",
        "payment",
        str(p.pk),
    )
    assert row["summary"] == "'=HYPERLINK(evil)"  # no formula for a spreadsheet
    assert (row["before"], row["after"]) == ('{"status": "processing"}', '{"status": "succeeded"}')
    assert len(_csv(finance.get(reverse("backoffice:audit_csv")))) == 2


# --- The payment's timeline -----------------------------------------------------------------


def test_the_payment_page_shows_its_trail_to_finance_only(finance: Client, fiona):
    p = factories.payment()
    _entry(
        actor=fiona,
        payment_id=p.pk,
        object_id=p.pk,
        summary="Refreshed",
        before={"status": "processing"},
        after={"status": "succeeded"},
    )
    _entry(
        actor_label="reconcile (scheduled)",
        action=Action.RECONCILE_RUN,
        object_type="job",
        summary="Reconcile",
        before={"payments": {str(p.pk): {"status": "a"}, "999": {}}},
        after={"payments": {str(p.pk): {"status": "b"}, "999": {"status": "elsewhere"}}},
    )
    _entry(actor=fiona, payment_id=factories.payment().pk, summary="Another payment's")
    url = reverse("backoffice:payment_detail", args=[p.pk])
    html = finance.get(url).content.decode()
    section = html.split('data-testid="payment-audit"')[1]
    assert "fiona@example.com" in section and "127.0.0.1" not in section  # no request here
    assert "status</span>: processing → succeeded" in section
    assert "reconcile (scheduled)" in section and "status</span>: a → b" in section
    assert "elsewhere" not in section and "Another payment" not in section
    assert section.index("Refreshed") < section.index("reconcile (scheduled)")  # oldest first
    support = _logged_in(factories.user("sam", group="Support"))
    assert 'data-testid="payment-audit"' not in support.get(url).content.decode()
