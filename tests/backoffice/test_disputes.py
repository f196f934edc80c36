"""The disputes pages: the list (filters, order, export), a dispute's page, who may see and who
may answer. Answering through Stripe is in tests/backoffice/test_dispute_answers.py."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Dispute, Payment
from tests import factories

pytestmark = pytest.mark.django_db


def make_dispute(
    payment: Payment | None = None,
    *,
    status: str = "needs_response",
    reason: str = "fraudulent",
    due_in_days: float | None = 5,
    **fields,
) -> Dispute:
    payment = payment or factories.payment()
    n = Dispute.objects.count() + 1
    dispute = Dispute.objects.create(
        stripe_dispute_id=fields.pop("stripe_dispute_id", f"dp_page_{n}"),
        payment=payment,
        stripe_charge_id=fields.pop("stripe_charge_id", f"ch_page_{n}"),
        amount=payment.amount,
        currency=payment.currency,
        reason=reason,
        status=status,
        evidence_due_by=None
        if due_in_days is None
        else timezone.now() + timedelta(days=due_in_days),
        stripe_created_at=timezone.now() - timedelta(days=1),
        **fields,
    )
    Payment.objects.filter(pk=payment.pk).update(dispute_status=status)
    return dispute


def _ids(response) -> list[str]:
    return [row.record.stripe_dispute_id for row in response.context["table"].page.object_list]


def test_the_list_puts_the_soonest_deadline_first(finance: Client):
    later = make_dispute(due_in_days=10)
    sooner = make_dispute(due_in_days=2)
    undated = make_dispute(due_in_days=None, status="won")
    response = finance.get(reverse("backoffice:disputes"))
    assert response.status_code == 200
    assert _ids(response) == [
        sooner.stripe_dispute_id,
        later.stripe_dispute_id,
        undated.stripe_dispute_id,
    ]


def test_filters_by_status_reason_and_deadline(finance: Client):
    due_soon = make_dispute(due_in_days=3, reason="product_not_received")
    make_dispute(due_in_days=20)
    inquiry = make_dispute(status="warning_needs_response", due_in_days=6)
    make_dispute(status="won", due_in_days=1)  # decided: never "due"
    url = reverse("backoffice:disputes")
    assert _ids(finance.get(url, {"due_within": "7"})) == [
        due_soon.stripe_dispute_id,
        inquiry.stripe_dispute_id,
    ]
    assert _ids(finance.get(url, {"reason": "product_not_received"})) == [
        due_soon.stripe_dispute_id
    ]
    assert _ids(finance.get(url, {"status": "warning_needs_response"})) == [
        inquiry.stripe_dispute_id
    ]
    assert len(_ids(finance.get(url, {"status": "open"}))) == 3
    assert len(_ids(finance.get(url, {"status": "needs_response_any"}))) == 3
    assert _ids(finance.get(url, {"q": due_soon.stripe_dispute_id})) == [due_soon.stripe_dispute_id]
    assert _ids(finance.get(url, {"q": f"#{inquiry.payment_id}"})) == [inquiry.stripe_dispute_id]


@pytest.mark.parametrize("bad", ["-1", "abc", "9999", "1.5"])
def test_a_bad_deadline_filter_is_a_400_naming_it(finance: Client, bad):
    make_dispute()
    response = finance.get(reverse("backoffice:disputes"), {"due_within": bad})
    assert response.status_code == 400
    assert "due_within" in response.context["filter"].errors


def test_the_export_has_the_filtered_disputes(finance: Client):
    make_dispute(
        due_in_days=3,
        stripe_dispute_id="dp_export_a",
        balance_net=Decimal("-114.99"),
        balance_currency="EUR",
        funds_withdrawn=True,
    )
    make_dispute(due_in_days=30, stripe_dispute_id="dp_export_b")
    response = finance.get(reverse("backoffice:disputes_csv"), {"due_within": "7"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["dispute_id"] for r in rows] == ["dp_export_a"]
    assert rows[0]["balance_net"] == "-114.99" and rows[0]["funds_withdrawn"] == "yes"
    assert rows[0]["amount"] == "99.99" and rows[0]["currency"] == "EUR"


def test_the_list_does_not_grow_queries_with_rows(finance: Client, django_assert_max_num_queries):
    for _ in range(30):
        make_dispute()
    with django_assert_max_num_queries(6):
        response = finance.get(reverse("backoffice:disputes"))
    assert len(_ids(response)) == 25


def test_a_disputed_payment_shows_it_in_the_list_filter_and_page(finance: Client):
    disputed = make_dispute(status="needs_response").payment
    plain = factories.payment()
    lost = make_dispute(status="lost").payment
    url = reverse("backoffice:payments")
    page = finance.get(url).content.decode()
    assert "Disputed · Needs response" in page and "Disputed · Lost" in page
    ids = lambda r: [row.record.pk for row in r.context["table"].page.object_list]  # noqa: E731
    assert set(ids(finance.get(url, {"disputed": "any"}))) == {disputed.pk, lost.pk}
    assert ids(finance.get(url, {"disputed": "open"})) == [disputed.pk]
    assert ids(finance.get(url, {"disputed": "lost"})) == [lost.pk]
    assert plain.pk not in ids(finance.get(url, {"disputed": "any"}))

    detail = finance.get(reverse("backoffice:payment_detail", args=[disputed.pk])).content.decode()
    assert 'data-testid="payment-disputes"' in detail
    assert 'data-testid="refund-blocked"' in detail  # no refund form: Stripe would refuse it
    assert 'name="step" value="review"' not in detail


def test_a_dispute_page_shows_the_dispute_and_its_payment(finance: Client):
    dispute = make_dispute(evidence={"product_description": "A blue mug"}, has_evidence=True)
    response = finance.get(reverse("backoffice:dispute_detail", args=[dispute.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert dispute.stripe_dispute_id in page and "A blue mug" in page
    assert reverse("backoffice:payment_detail", args=[dispute.payment_id]) in page
    assert "Answer the dispute" in page  # Finance may answer
    assert finance.get(reverse("backoffice:dispute_detail", args=[999999])).status_code == 404


def test_a_decided_dispute_offers_no_answer(finance: Client):
    dispute = make_dispute(status="lost")
    page = finance.get(reverse("backoffice:dispute_detail", args=[dispute.pk])).content.decode()
    assert "Answer the dispute" not in page
    response = finance.post(
        reverse("backoffice:dispute_accept", args=[dispute.pk]), {"step": "review"}
    )
    assert response.status_code == 409


def test_the_dashboard_counts_disputes_due_within_a_week(finance: Client):
    make_dispute(due_in_days=2)
    make_dispute(due_in_days=-1)  # overdue counts too
    make_dispute(due_in_days=12)
    make_dispute(status="under_review", due_in_days=2)  # answered: nothing to do
    page = finance.get(reverse("backoffice:dashboard")).content.decode()
    assert 'data-testid="disputes-due"><span class="stat-number">2</span>' in page


# --- Who may see and who may answer ------------------------------------------------------------

GET_ROUTES = ["backoffice:disputes", "backoffice:disputes_csv", "backoffice:dispute_detail"]
POST_ROUTES = ["backoffice:dispute_evidence", "backoffice:dispute_accept"]


def _url(name: str, dispute: Dispute) -> str:
    return reverse(name, args=[dispute.pk] if "dispute_" in name else [])


@pytest.fixture
def people(finance_user, support_user):
    customer = factories.user("carl")
    second = factories.user("gina", group="Finance")
    clients = {}
    for label, user in [
        ("customer", customer),
        ("support", support_user),
        ("finance", finance_user),
        ("second_finance", second),
    ]:
        c = Client()
        c.force_login(user)
        clients[label] = c
    clients["anonymous"] = Client()
    return clients


@pytest.mark.parametrize("name", GET_ROUTES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 302),
        ("customer", 403),
        ("support", 200),
        ("finance", 200),
        ("second_finance", 200),
    ],
)
def test_who_may_see_disputes(people, name, who, expected):
    dispute = make_dispute()
    response = people[who].get(_url(name, dispute))
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", POST_ROUTES)
@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 302),
        ("customer", 403),
        ("support", 403),
        ("finance", 200),
        ("second_finance", 200),
    ],
)
def test_who_may_answer_disputes(people, name, who, expected):
    """The review step (nothing sent): who gets it, and who is refused before anything runs."""
    dispute = make_dispute()
    data = {"step": "review", "action": "save", "product_description": "A blue mug"}
    response = people[who].post(_url(name, dispute), data)
    assert response.status_code == expected
    dispute.refresh_from_db()
    assert dispute.status == "needs_response" and dispute.evidence == {}


def test_support_sees_a_dispute_without_the_answer_form(people):
    dispute = make_dispute()
    page = people["support"].get(_url("backoffice:dispute_detail", dispute)).content.decode()
    assert "Answer the dispute" not in page


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("backoffice:disputes", {"q": "9" * 30}, 200),
        ("backoffice:disputes", {"q": "#" + "9" * 30}, 200),
        ("backoffice:payments", {"q": "9" * 30}, 200),
        ("backoffice:audit", {"payment": "0"}, 400),
        ("backoffice:audit", {"payment": "1.5"}, 400),
        ("backoffice:audit", {"payment": "-3"}, 400),
        ("backoffice:audit", {"payment": "9" * 30}, 400),
    ],
)
def test_numbers_no_row_can_have_are_an_answer_not_a_500(finance: Client, url, params, status):
    make_dispute()
    response = finance.get(reverse(url), params)
    assert response.status_code == status
    if status == 200:
        assert len(response.context["table"].page.object_list) == 0
