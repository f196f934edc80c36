"""The 'Awaiting approval' page and the guarded approve and reject, in the back-office."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from payments import services
from payments.models import Payment, Refund
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": Decimal("500.00")}


@pytest.fixture
def alice():
    return factories.user("alice", group="Finance")


@pytest.fixture
def bob():
    return factories.user("bob", group="Finance")


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def paid(stripe_sandbox) -> Payment:
    return factories.paid_payment(stripe_sandbox, total="800.00")


@pytest.fixture
def awaiting(paid, alice) -> Refund:
    return services.refund_create(
        payment_id=paid.pk,
        amount=Decimal("600.00"),
        reason="requested_by_customer",
        description="Broken on arrival",
        created_by=alice,
    )


def _token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no one-time token in the confirmation"
    return match.group(1)


def approve_url(refund: Refund) -> str:
    return reverse("backoffice:refund_approve", args=[refund.pk])


def reject_url(refund: Refund) -> str:
    return reverse("backoffice:refund_reject", args=[refund.pk])


# --- Who may see and do what, on every new route --------------------------------------------------

ROUTES = ["refund_approvals", "refund_approve", "refund_reject"]


def _url(name: str, refund: Refund) -> str:
    return reverse(f"backoffice:{name}", args=[] if name == "refund_approvals" else [refund.pk])


@pytest.mark.parametrize("name", ROUTES)
def test_anonymous_is_sent_to_login(client, awaiting, name):
    url = _url(name, awaiting)
    responses = [client.get(url)]
    if name != "refund_approvals":
        responses.append(client.post(url, {"token": "x"}))
    for response in responses:
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('login')}?next={url}"


@pytest.mark.parametrize("name", ROUTES)
@pytest.mark.parametrize("group", [None, "Support"])
def test_customers_and_support_are_forbidden(awaiting, name, group):
    client = logged_in(factories.user(group=group))
    url = _url(name, awaiting)
    assert client.get(url).status_code == 403
    if name != "refund_approvals":
        assert client.post(url, {"token": "x"}).status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval"


@pytest.mark.parametrize("name", ["refund_approve", "refund_reject"])
def test_the_requester_may_not_decide_their_own(stripe_sandbox, awaiting, alice, name):
    client = logged_in(alice)
    url = _url(name, awaiting)
    assert client.get(url).status_code == 403
    # Even with a token reviewed by someone else.
    bobs_review = logged_in(factories.user(group="Finance")).get(url)
    response = client.post(url, {"token": _token(bobs_review.content.decode())})
    assert response.status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval"
    assert stripe_sandbox.requests_log(method="POST", path="/v1/refunds") == []


@pytest.mark.parametrize("name", ROUTES)
def test_a_second_finance_user_may(awaiting, bob, name):
    assert logged_in(bob).get(_url(name, awaiting)).status_code == 200


def test_the_requester_sees_their_own_awaiting_refund_without_buttons(awaiting, alice):
    html = logged_in(alice).get(reverse("backoffice:refund_approvals")).content.decode()
    assert "EUR 600.00" in html
    assert "Yours: a second person decides" in html
    assert approve_url(awaiting) not in html
    detail = logged_in(alice).get(reverse("backoffice:payment_detail", args=[awaiting.payment_id]))
    assert "Awaiting approval" in detail.content.decode()
    assert approve_url(awaiting) not in detail.content.decode()


# --- The list, the dashboard, the nav -------------------------------------------------------------


def test_the_page_lists_what_awaits_with_links_to_review(awaiting, bob):
    html = logged_in(bob).get(reverse("backoffice:refund_approvals")).content.decode()
    for text in ("EUR 600.00", "alice@example.com", "Broken on arrival", "Requested by customer"):
        assert text in html
    assert approve_url(awaiting) in html and reject_url(awaiting) in html


def test_the_dashboard_counts_refunds_awaiting_approval(awaiting, bob):
    html = logged_in(bob).get(reverse("backoffice:dashboard")).content.decode()
    assert re.search(r'data-testid="awaiting-approval">1<', html)
    assert reverse("backoffice:refund_approvals") in html


def test_only_approvers_get_the_nav_link(awaiting, bob):
    link = f'href="{reverse("backoffice:refund_approvals")}"'
    assert link in logged_in(bob).get(reverse("backoffice:payments")).content.decode()
    support = logged_in(factories.user(group="Support"))
    assert link not in support.get(reverse("backoffice:payments")).content.decode()


def test_the_refund_form_says_a_large_refund_awaits_approval(stripe_sandbox, paid, alice):
    client = logged_in(alice)
    url = reverse("backoffice:payment_refund", args=[paid.pk])
    review = client.post(url, {"step": "review", "amount": "600", "reason": "duplicate"})
    response = client.post(
        url,
        {
            "step": "confirm",
            "amount": "600.00",
            "reason": "duplicate",
            "token": _token(review.content.decode()),
        },
        follow=True,
    )
    refund = Refund.objects.get()
    assert refund.status == "awaiting_approval"
    assert f"Refund #{refund.pk} of EUR 600.00 awaits approval by a second person" in (
        response.content.decode()
    )
    assert stripe_sandbox.requests_log(method="POST", path="/v1/refunds") == []


# --- Approve and reject: review, then a confirmation with a one-time token ------------------------


def test_the_review_states_exactly_what_will_happen(awaiting, bob):
    html = logged_in(bob).get(approve_url(awaiting)).content.decode()
    assert (
        f"Approve refund #{awaiting.pk} of EUR 600.00 to Visa ending 4242, "
        "requested by alice@example.com"
    ) in html
    assert not Refund.objects.exclude(status="awaiting_approval").exists()


def test_approving_sends_once_even_when_confirmed_twice(stripe_sandbox, awaiting, bob):
    client = logged_in(bob)
    token = _token(client.get(approve_url(awaiting)).content.decode())
    first = client.post(approve_url(awaiting), {"token": token})
    assert first.status_code == 302
    assert first["Location"] == reverse("backoffice:payment_detail", args=[awaiting.payment_id])
    second = client.post(approve_url(awaiting), {"token": token})
    assert second.status_code == 302
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.approved_by) == ("succeeded", bob)
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert call["idempotency_key"] == f"refund-{awaiting.pk}"
    page = client.get(first["Location"]).content.decode()
    assert f"Refund #{awaiting.pk} of EUR 600.00 approved: succeeded." in page


def test_a_second_approver_is_told_it_was_decided(stripe_sandbox, awaiting, bob):
    carol = logged_in(factories.user("carol", group="Finance"))
    carols_token = _token(carol.get(approve_url(awaiting)).content.decode())
    bobs = logged_in(bob)
    bobs.post(
        approve_url(awaiting), {"token": _token(bobs.get(approve_url(awaiting)).content.decode())}
    )
    response = carol.post(approve_url(awaiting), {"token": carols_token})
    assert response.status_code == 409
    assert "no longer awaits approval" in response.content.decode()
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/refunds")) == 1


def test_a_token_for_the_other_decision_or_refund_does_nothing(stripe_sandbox, awaiting, bob):
    client = logged_in(bob)
    reject_token = _token(client.get(reject_url(awaiting)).content.decode())
    for token in (reject_token, "forged"):
        response = client.post(approve_url(awaiting), {"token": token})
        assert response.status_code == 400
        assert "Review it again" in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval"


def test_an_approval_reviewed_before_the_payment_changed_is_stale(
    stripe_sandbox, paid, awaiting, bob
):
    client = logged_in(bob)
    token = _token(client.get(approve_url(awaiting)).content.decode())
    services.refund_create(
        payment_id=paid.pk,
        amount=Decimal("200.00"),
        reason="duplicate",
        created_by=factories.user(group="Finance"),
    )
    stripe_sandbox.clear_requests_log()
    response = client.post(approve_url(awaiting), {"token": token})
    assert response.status_code == 409
    assert "changed since refund" in response.content.decode()
    awaiting.refresh_from_db()
    assert awaiting.status == "awaiting_approval"
    assert stripe_sandbox.requests_log(method="POST", path="/v1/refunds") == []


def test_rejecting_frees_the_amount(stripe_sandbox, paid, awaiting, bob):
    client = logged_in(bob)
    html = client.get(reject_url(awaiting)).content.decode()
    assert f"Reject refund #{awaiting.pk} of EUR 600.00" in html
    response = client.post(reject_url(awaiting), {"token": _token(html), "note": "Not agreed"})
    assert response.status_code == 302
    awaiting.refresh_from_db()
    assert (awaiting.status, awaiting.rejected_by, awaiting.failure_reason) == (
        "rejected",
        bob,
        "Not agreed",
    )
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("0")
    assert stripe_sandbox.requests_log(method="POST", path="/v1/refunds") == []
    page = client.get(response["Location"]).content.decode()
    assert "rejected: nothing sent" in page
    assert "Rejected by bob@example.com" in page


def test_a_rejected_refund_cannot_be_reviewed_again(awaiting, bob):
    services.refund_reject(refund_id=awaiting.pk, rejecter=bob)
    response = logged_in(factories.user(group="Finance")).get(approve_url(awaiting))
    assert response.status_code == 409
    assert 'name="token"' not in response.content.decode()


def test_the_review_says_a_refund_at_the_threshold_waits_for_approval(settings, client):
    from decimal import Decimal as D

    from django.urls import reverse

    settings.PAYMENTS_REFUND_APPROVAL_THRESHOLD = {"EUR": D("500")}
    payment = factories.payment(
        factories.order(total="800.00"), card_brand="visa", card_last4="4242"
    )
    client.force_login(factories.user("rhea", group="Finance"))
    url = reverse("backoffice:payment_refund", args=[payment.pk])
    big = client.post(url, {"step": "review", "amount": "600", "reason": "duplicate"})
    page = big.content.decode()
    assert "waits for a second person&#x27;s approval, and nothing goes to Stripe" in page
    assert "Yes, ask for approval of EUR 600.00" in page
    small = client.post(url, {"step": "review", "amount": "100", "reason": "duplicate"})
    assert "Yes, refund EUR 100.00" in small.content.decode()
    assert "approval" not in small.content.decode().split('data-testid="confirm-summary"')[1][:200]
