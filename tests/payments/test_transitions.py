"""The pure state machines of payments.services.transitions, exhaustively and by property."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.services import transitions as t

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)
OURS = [
    t.PENDING,
    t.PROCESSING,
    t.SUCCEEDED,
    t.FAILED,
    t.CANCELLED,
    t.PARTIALLY_REFUNDED,
    t.REFUNDED,
]
FACTS = [t.PENDING, t.PROCESSING, t.SUCCEEDED, t.FAILED, t.CANCELLED]
WHEN = {"older": T0 - timedelta(seconds=1), "same second": T0, "newer": T0 + timedelta(seconds=1)}
STAGE = {t.PENDING: 0, t.PROCESSING: 1, t.FAILED: 2}


def facts(status: str, intent_id: str = "pi_1", code: str = "") -> t.IntentFacts:
    return t.IntentFacts(intent_id, status, code, code and f"{code}!", None, None)


def expected(old: str, new: str, when: str) -> str:
    """The rule, stated plainly, to hold the implementation to."""
    if old in (t.SUCCEEDED, t.PARTIALLY_REFUNDED, t.REFUNDED, t.CANCELLED) or new == old:
        return old  # final (or no news)
    if new == t.PENDING and old == t.PROCESSING:
        return old  # Stripe does not go back from processing to waiting
    if new in (t.SUCCEEDED, t.CANCELLED):
        return new  # final at Stripe: always applies
    if when == "newer" or (when == "same second" and STAGE[new] > STAGE[old]):
        return new
    return old


@pytest.mark.parametrize(("old", "new", "when"), list(itertools.product(OURS, FACTS, WHEN)))
def test_every_status_against_every_fact_at_every_time(old, new, when):
    state = t.PaymentState("pi_1", old, T0, "old_code", "old message")
    after = t.payment_after(state, facts(new, code="new_code"), WHEN[when])
    assert after.status == expected(old, new, when)
    if after.status == t.FAILED and after.status != old:
        assert after.failure_code == "new_code"
    if after.status in (t.PENDING, t.PROCESSING, t.SUCCEEDED) and after.status != old:
        assert (after.failure_code, after.failure_message) == ("", "")
    # The recorded time never goes back.
    assert after.synced_at >= T0


def test_a_first_observation_always_applies():
    after = t.payment_after(t.PaymentState("pi_1", t.PENDING, None), facts(t.FAILED), T0)
    assert (after.status, after.synced_at) == (t.FAILED, T0)


def test_a_later_decline_replaces_the_reason_of_an_earlier_one():
    state = t.PaymentState("pi_1", t.FAILED, T0, "card_declined", "declined")
    after = t.payment_after(state, facts(t.FAILED, code="expired_card"), T0 + timedelta(seconds=5))
    assert after.failure_code == "expired_card"
    stale = t.payment_after(after, facts(t.FAILED, code="old"), T0)
    assert stale.failure_code == "expired_card"


def test_a_cancelled_attempt_keeps_the_reason_it_ended_on():
    state = t.PaymentState("pi_1", t.FAILED, T0, "insufficient_funds", "no money")
    after = t.payment_after(state, facts(t.CANCELLED), T0 + timedelta(seconds=5))
    assert (after.status, after.failure_code) == (t.CANCELLED, "insufficient_funds")


def test_facts_about_another_payment_intent_are_refused():
    with pytest.raises(t.WrongPaymentIntent):
        t.payment_after(t.PaymentState("pi_1", t.PENDING, T0), facts(t.CANCELLED, "pi_2"), T0)


@given(st.lists(st.tuples(st.sampled_from(FACTS), st.integers(0, 5)), max_size=12))
def test_once_final_a_payment_stays_final_whatever_arrives_after(observations):
    state = t.PaymentState("pi_1", t.PENDING, None)
    final_seen = None
    for status, second in observations:
        state = t.payment_after(state, facts(status), T0 + timedelta(seconds=second))
        if final_seen is None and state.status in t.FINAL_AT_STRIPE:
            final_seen = state.status
        if final_seen is not None:
            assert state.status == final_seen


@given(st.permutations([t.PENDING, t.PROCESSING, t.SUCCEEDED]))
def test_delivered_in_any_order_a_paid_payment_ends_paid(order):
    state = t.PaymentState("pi_1", t.PENDING, None)
    for second, status in enumerate(order):
        state = t.payment_after(state, facts(status), T0 + timedelta(seconds=second))
    assert state.status == t.SUCCEEDED


def test_intent_facts_reads_stripes_statuses():
    assert t.intent_facts({"id": "pi", "status": "requires_action"}).status == t.PENDING
    assert t.intent_facts({"id": "pi", "status": "requires_payment_method"}).status == t.PENDING
    declined = {
        "id": "pi",
        "status": "requires_payment_method",
        "last_payment_error": {
            "code": "card_declined",
            "decline_code": "lost_card",
            "message": "x",
        },
        "latest_charge": "ch_1",
    }
    read = t.intent_facts(declined)
    assert (read.status, read.failure_code, read.charge_id) == (t.FAILED, "lost_card", "ch_1")
    assert t.intent_facts({"id": "pi", "status": "canceled"}).status == t.CANCELLED


@pytest.mark.parametrize(
    ("refunded", "status"),
    [("0", t.SUCCEEDED), ("0.01", t.PARTIALLY_REFUNDED), ("10", t.REFUNDED)],
)
def test_a_paid_payments_status_follows_its_refunds(refunded, status):
    for paid in t.PAID:
        assert t.payment_status_with_refunds(paid, Decimal("10"), Decimal(refunded)) == status
    assert t.payment_status_with_refunds(t.PENDING, Decimal("10"), Decimal(refunded)) == t.PENDING


REFUND_STATUSES = ["pending", "requires_action", "succeeded", "failed", "canceled"]
RANK = {"pending": 0, "requires_action": 1, "succeeded": 2, "failed": 3, "canceled": 3}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(REFUND_STATUSES, REFUND_STATUSES)))
def test_a_heard_refund_only_moves_forward(old, new):
    after = t.refund_after(old, new, heard_before=True)
    assert after == (new if RANK[new] >= RANK[old] else old)


@pytest.mark.parametrize("old", REFUND_STATUSES)
def test_stripes_first_word_about_a_refund_wins(old):
    assert t.refund_after(old, "succeeded", heard_before=False) == "succeeded"
    assert t.refund_after(old, "mystery", heard_before=False) == "pending"


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)


@given(amounts, st.lists(amounts, max_size=4), st.lists(amounts, max_size=4))
def test_unanswered_refunds_never_push_the_books_past_the_payment(total, known, unanswered):
    known_sum = sum(known, Decimal("0"))
    if known_sum > total:
        return  # Stripe never lets its own refunds exceed the charge
    rows = [t.Unanswered(i, a) for i, a in enumerate(unanswered)]
    impossible = set(t.refunds_without_room(total, known_sum, rows))
    kept = [r for r in rows if r.refund_id not in impossible]
    assert known_sum + sum((r.amount for r in kept), Decimal("0")) <= total
    # Only what cannot fit goes: each refused one would not fit beside those kept before it.
    room = total - known_sum
    for r in rows:
        if r.refund_id in impossible:
            assert r.amount > room
        else:
            room -= r.amount


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=6))
def test_what_remains_of_a_bank_transfer_only_goes_down_in_any_order(reports):
    remaining = None
    for seen in reports:
        remaining = t.amount_remaining_after(t.PENDING, remaining, seen)
    assert remaining == min(reports)
    assert t.amount_remaining_after(t.SUCCEEDED, remaining, 5) is None
    assert t.amount_remaining_after(t.PENDING, remaining, None) == remaining
