"""The guarded refund form: review, confirmation with a one-time token, then refund_create."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from backoffice.forms import confirmation_token
from payments.models import Payment, Refund
from tests import factories
from tests.backoffice.conftest import HTMX

pytestmark = pytest.mark.django_db


def refund_url(p: Payment) -> str:
    return reverse("backoffice:payment_refund", args=[p.pk])


def detail_url(p: Payment) -> str:
    return reverse("backoffice:payment_detail", args=[p.pk])


def _token(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, "no one-time token in the confirmation"
    return match.group(1)


@pytest.fixture
def card_payment() -> Payment:
    """A payment in our books only: enough for every check made before Stripe is called."""
    return factories.payment(factories.order(total="99.99"), card_brand="visa", card_last4="4242")


def review(client: Client, p: Payment, amount: str, **extra):
    data = {"step": "review", "amount": amount, "reason": "requested_by_customer", **extra}
    return client.post(refund_url(p), data)


class TestValidation:
    @pytest.mark.parametrize(
        ("amount", "message"),
        [
            ("0", "Enter an amount greater than zero."),
            ("0.00", "Enter an amount greater than zero."),
            ("-5", "Enter an amount greater than zero."),
            ("10.001", "EUR amounts can have at most 2 decimal places"),
            ("abc", "is not a valid amount"),
            ("50,00", "is not a valid amount"),
            ("", "This field is required."),
        ],
    )
    def test_bad_amounts_are_a_400_with_the_reason(self, finance, card_payment, amount, message):
        response = review(finance, card_payment, amount)
        assert response.status_code == 400
        assert message in response.content.decode()
        assert 'aria-invalid="true"' in response.content.decode()
        assert not Refund.objects.exists()

    def test_yen_has_no_decimals(self, finance):
        p = factories.payment(factories.order(total="1000", currency="JPY"))
        response = review(finance, p, "1.5")
        assert response.status_code == 400
        assert "JPY amounts can have at most whole units" in response.content.decode()

    def test_kwd_must_end_in_zero_for_stripe(self, finance):
        p = factories.payment(factories.order(total="12.340", currency="KWD"))
        response = review(finance, p, "1.005")
        assert response.status_code == 400
        assert "multiples of 0.010" in response.content.decode()

    def test_above_what_remains_is_a_conflict(self, finance, card_payment):
        factories.refund(card_payment, amount="60.00")
        Payment.objects.filter(pk=card_payment.pk).update(
            amount_refunded="60.00", status=Payment.Status.PARTIALLY_REFUNDED
        )
        response = review(finance, card_payment, "40.00")
        assert response.status_code == 409
        assert "Only EUR 39.99 remains refundable." in response.content.decode()
        assert Refund.objects.count() == 1

    def test_above_the_payment_is_a_conflict(self, finance, card_payment):
        response = review(finance, card_payment, "100.00")
        assert response.status_code == 409

    def test_the_reason_must_be_one_of_the_four(self, finance, card_payment):
        response = review(finance, card_payment, "10.00", reason="because")
        assert response.status_code == 400
        assert not Refund.objects.exists()

    def test_a_payment_that_cannot_be_refunded_is_a_conflict(self, finance):
        p = factories.payment(status=Payment.Status.PENDING)
        token = confirmation_token(p, Decimal("1.00"), "duplicate")
        for step in ["review", "confirm"]:
            response = finance.post(
                refund_url(p),
                {"step": step, "amount": "1.00", "reason": "duplicate", "token": token},
            )
            assert response.status_code == 409
        assert not Refund.objects.exists()

    def test_confirm_without_a_token_refunds_nothing(self, finance, card_payment):
        response = finance.post(
            refund_url(card_payment),
            {"step": "confirm", "amount": "10.00", "reason": "duplicate"},
        )
        assert response.status_code == 400
        assert "This confirmation has expired" in response.content.decode()
        assert not Refund.objects.exists()

    def test_confirm_rechecks_the_amount(self, finance, card_payment):
        token = confirmation_token(card_payment, Decimal("500.00"), "duplicate")
        response = finance.post(
            refund_url(card_payment),
            {"step": "confirm", "amount": "500.00", "reason": "duplicate", "token": token},
        )
        assert response.status_code == 409
        assert not Refund.objects.exists()

    def test_a_forged_or_foreign_token_refunds_nothing(self, finance, card_payment):
        other = factories.payment(status=Payment.Status.SUCCEEDED)
        for token in ["a" * 32, confirmation_token(other, Decimal("10.00"), "duplicate")]:
            response = finance.post(
                refund_url(card_payment),
                {"step": "confirm", "amount": "10.00", "reason": "duplicate", "token": token},
            )
            assert response.status_code == 400
        assert not Refund.objects.exists()

    def test_a_confirmation_edited_after_review_refunds_nothing(self, finance, card_payment):
        token = _token(review(finance, card_payment, "10.00").content.decode())
        response = finance.post(
            refund_url(card_payment),
            {
                "step": "confirm",
                "amount": "90.00",
                "reason": "requested_by_customer",
                "token": token,
            },
        )
        assert response.status_code == 400
        assert "does not match what was reviewed" in response.content.decode()
        assert not Refund.objects.exists()


class TestConfirmation:
    def test_review_states_exactly_what_will_happen(self, finance, card_payment):
        response = review(finance, card_payment, "50", description="Broken on arrival")
        assert response.status_code == 200
        html = response.content.decode()
        assert "Refund EUR 50.00 of EUR 99.99 to Visa ending 4242" in html
        assert "Broken on arrival" in html
        assert 'name="step" value="confirm"' in html
        assert 'name="amount" value="50.00"' in html
        assert "Yes, refund EUR 50.00" in html
        _token(html)
        assert not Refund.objects.exists()  # nothing happens before the final POST

    def test_each_review_gets_a_fresh_token(self, finance, card_payment):
        first = _token(review(finance, card_payment, "50").content.decode())
        second = _token(review(finance, card_payment, "50").content.decode())
        assert first != second

    def test_htmx_review_swaps_only_the_refund_panel(self, finance, card_payment):
        response = finance.post(
            refund_url(card_payment),
            {"step": "review", "amount": "5", "reason": "duplicate"},
            **HTMX,
        )
        html = response.content.decode()
        assert html.lstrip().startswith('<section id="refund-panel"')
        assert "Refund EUR 5.00 of EUR 99.99" in html
        assert 'hx-target="#payment"' in html

    def test_htmx_validation_error_swaps_only_the_refund_panel(self, finance, card_payment):
        response = finance.post(
            refund_url(card_payment),
            {"step": "review", "amount": "0", "reason": "duplicate"},
            **HTMX,
        )
        assert response.status_code == 400
        assert response.content.decode().lstrip().startswith('<section id="refund-panel"')

    def test_change_goes_back_to_the_form_with_the_values(self, finance, card_payment):
        response = finance.post(
            refund_url(card_payment),
            {"step": "edit", "amount": "12.00", "reason": "fraudulent", "description": "x"},
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert 'value="12.00"' in html
        assert '<option value="fraudulent" selected>' in html
        assert "Review refund" in html

    def test_no_refund_to_a_card_says_where_the_money_goes(self, finance):
        p = factories.payment(payment_method=Payment.Method.BANK_TRANSFER)
        html = review(finance, p, "1").content.decode()
        assert "Refund EUR 1.00 of EUR 99.99 to the customer&#x27;s bank transfer" in html


# --- Through refund_create and the Stripe stand-in ----------------------------------------------


@pytest.fixture
def paid(stripe_sandbox) -> Payment:
    return factories.paid_payment(stripe_sandbox, factories.user("dora"), total="99.99")


def _confirm(client: Client, p: Payment, amount: str, **extra):
    html = review(client, p, amount, reason="duplicate", description="Charged twice").content
    token = _token(html.decode())
    data = {
        "step": "confirm",
        "amount": amount,
        "reason": "duplicate",
        "description": "Charged twice",
        "token": token,
    }
    return client.post(refund_url(p), data, **extra), data


def test_finance_refunds_part_of_a_payment(stripe_sandbox, finance, finance_user, paid):
    response, _ = _confirm(finance, paid, "50.00")
    assert response.status_code == 302
    assert response["Location"] == detail_url(paid)
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.description) == (
        Decimal("50.00"),
        "duplicate",
        "Charged twice",
    )
    assert refund.created_by == finance_user
    assert refund.status == Refund.Status.SUCCEEDED
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("50.00"))
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/refunds")
    assert call["params"]["amount"] == "5000"
    page = finance.get(response["Location"]).content.decode()
    assert f"Refund #{refund.pk} of EUR 50.00 succeeded." in page
    assert "EUR 49.99" in page  # what remains


def test_the_same_confirmation_posted_twice_refunds_once(stripe_sandbox, finance, paid):
    first, data = _confirm(finance, paid, "50.00")
    second = finance.post(refund_url(paid), data)
    assert (first.status_code, second.status_code) == (302, 302)
    assert Refund.objects.count() == 1
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/refunds")) == 1
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("50.00")


def test_two_tabs_cannot_refund_more_than_was_paid(stripe_sandbox, finance, paid):
    tab1 = _token(review(finance, paid, "60.00", reason="duplicate").content.decode())
    tab2 = _token(review(finance, paid, "60.00", reason="duplicate").content.decode())
    ok = finance.post(
        refund_url(paid),
        {"step": "confirm", "amount": "60.00", "reason": "duplicate", "token": tab1},
    )
    late = finance.post(
        refund_url(paid),
        {"step": "confirm", "amount": "60.00", "reason": "duplicate", "token": tab2},
    )
    assert ok.status_code == 302
    assert late.status_code == 409
    assert "changed since this refund was reviewed" in late.content.decode()
    assert Refund.objects.count() == 1
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("60.00")


def test_two_tabs_reviewing_the_same_partial_refund_refund_once(stripe_sandbox, finance, paid):
    tab1 = _token(review(finance, paid, "30.00", reason="duplicate").content.decode())
    tab2 = _token(review(finance, paid, "30.00", reason="duplicate").content.decode())
    data = {"step": "confirm", "amount": "30.00", "reason": "duplicate"}
    assert finance.post(refund_url(paid), {**data, "token": tab1}).status_code == 302
    late = finance.post(refund_url(paid), {**data, "token": tab2})
    assert late.status_code == 409
    assert "Review the refund again" in late.content.decode()
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("30.00")
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/refunds")) == 1


def test_htmx_confirmation_updates_the_payment_in_place(stripe_sandbox, finance, paid):
    response, _ = _confirm(finance, paid, "20.00", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="payment"')
    assert "Partially refunded" in html
    assert "EUR 79.99" in html  # what remains
    assert "of EUR 20.00 succeeded." in html


def test_refunding_everything_removes_the_form(stripe_sandbox, finance, paid):
    _confirm(finance, paid, "99.99")
    html = finance.get(detail_url(paid)).content.decode()
    assert "Review refund" not in html
    assert "Nothing to refund" in html


def test_stripe_not_answering_shows_the_refund_pending_and_its_amount_held(
    stripe_sandbox, finance, paid
):
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "500", count=10)
    response, _ = _confirm(finance, paid, "10.00")
    assert response.status_code == 503
    html = response.content.decode()
    refund = Refund.objects.get()
    assert f"Stripe has not confirmed refund #{refund.pk} of EUR 10.00" in html
    assert "Do not refund again" in html
    assert 'value="89.99"' in html  # the form offers only what is not held
    assert (refund.status, refund.failure_reason) == (Refund.Status.PENDING, "")
    assert "may have been made" in refund.last_send_error
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")  # held: Stripe may have made it


def test_stripe_refusing_is_shown_and_recorded_as_failed(stripe_sandbox, finance, paid):
    # Refunded in full in Stripe's Dashboard, and the webhook never came: Stripe refuses ours.
    stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id})
    response, _ = _confirm(finance, paid, "10.00")
    assert response.status_code == 502
    refund = Refund.objects.get(created_by__isnull=False)
    html = response.content.decode()
    assert f"Refund #{refund.pk} of EUR 10.00 was not made: Stripe refused it" in html
    assert "Nothing was refunded." in html
    assert refund.status == Refund.Status.FAILED


def test_a_busy_stripe_holds_the_refund_and_says_nothing_was_sent(stripe_sandbox, finance, paid):
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "429", count=10)
    response, _ = _confirm(finance, paid, "10.00")
    assert response.status_code == 503
    refund = Refund.objects.get()
    assert refund.status == Refund.Status.PENDING
    assert "nothing was sent" in refund.last_send_error
    assert "nothing was sent" in response.content.decode()
    paid.refresh_from_db()
    assert paid.amount_refunded == Decimal("10.00")  # held until it is sent and answered


def test_refresh_from_stripe(stripe_sandbox, finance, paid):
    response = finance.post(reverse("backoffice:payment_refresh", args=[paid.pk]))
    assert response.status_code == 302
    page = finance.get(detail_url(paid)).content.decode()
    assert "Refreshed from Stripe." in page


def test_refresh_when_stripe_is_down_is_a_503(stripe_sandbox, finance, paid):
    stripe_sandbox.inject_fault("*", "/v1/payment_intents*", "500", count=10)
    response = finance.post(reverse("backoffice:payment_refresh", args=[paid.pk]), **HTMX)
    assert response.status_code == 503
    assert response.content.decode().lstrip().startswith('<div id="payment"')


def test_refresh_needs_a_post(finance, card_payment):
    url = reverse("backoffice:payment_refresh", args=[card_payment.pk])
    assert finance.get(url).status_code == 405
