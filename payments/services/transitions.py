"""The state machines of a payment attempt and of a refund: facts in, new state out, no I/O.

Everything that decides a status lives here, so that webhooks, the API's status checks, "refresh
from Stripe", reconcile and the sweep, which all hand their facts to these functions, always
reach the same state from the same facts, and state never moves backwards.

A payment is one PaymentIntent (one checkout attempt). Its status follows Stripe's PaymentIntent:
`succeeded` and `cancelled` are final at Stripe and always apply; between the states Stripe can
leave (pending, processing, failed) the newer observation wins. Stripe stamps events in whole
seconds, so two observations from the same second are ordered by how far along one confirmation
they are (pending, then processing, then failed): a card declined in the second it was created,
or a bank transfer processing and failing within a second, ends failed, not pending.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

PENDING, PROCESSING, SUCCEEDED, FAILED, CANCELLED = (
    "pending",
    "processing",
    "succeeded",
    "failed",
    "cancelled",
)
PARTIALLY_REFUNDED, REFUNDED = "partially_refunded", "refunded"
PAID = (SUCCEEDED, PARTIALLY_REFUNDED, REFUNDED)

# Status changes a PaymentIntent may cause. Refund statuses are reached only through refunds.
_ALLOWED: dict[str, set[str]] = {
    PENDING: {PROCESSING, SUCCEEDED, FAILED, CANCELLED},
    # A declined payment may be tried again: with a card needing 3-D Secure (pending), a debit
    # (processing), or straight to success.
    FAILED: {PENDING, PROCESSING, SUCCEEDED, CANCELLED},
    PROCESSING: {SUCCEEDED, FAILED, CANCELLED},
}
# Stripe never leaves these states, so news of them can never be stale.
FINAL_AT_STRIPE = (SUCCEEDED, CANCELLED)
# How far along one confirmation a state is: the order of two facts from the same second.
_STAGE = {PENDING: 0, PROCESSING: 1, FAILED: 2}


class WrongPaymentIntent(ValueError):
    """Facts about another PaymentIntent than the payment's own: never applied."""


@dataclass(frozen=True)
class IntentFacts:
    """What a PaymentIntent (from a webhook, a fetch or a list) says, in our terms."""

    intent_id: str
    status: str  # one of PENDING, PROCESSING, SUCCEEDED, FAILED, CANCELLED
    failure_code: str
    failure_message: str
    charge_id: str | None  # `latest_charge` when given as an id
    charge: Mapping[str, Any] | None  # `latest_charge` when expanded
    # A bank transfer waiting for money: what remains to be paid, in minor units.
    amount_remaining: int | None = None


def intent_facts(intent: Mapping[str, Any]) -> IntentFacts:
    """Read a PaymentIntent (a plain dict, as Stripe sends it)."""
    stripe_status = intent["status"]
    error = intent.get("last_payment_error") or {}
    if stripe_status == "succeeded":
        status = SUCCEEDED
    elif stripe_status == "processing":
        status = PROCESSING
    elif stripe_status == "canceled":
        status = CANCELLED
    elif stripe_status == "requires_payment_method" and error:
        status = FAILED
    else:  # requires_payment_method (fresh), requires_confirmation, requires_action, ...
        status = PENDING
    charge = intent.get("latest_charge")
    instructions = (intent.get("next_action") or {}).get("display_bank_transfer_instructions")
    remaining = instructions.get("amount_remaining") if isinstance(instructions, Mapping) else None
    return IntentFacts(
        intent_id=str(intent["id"]),
        status=status,
        failure_code=str(error.get("decline_code") or error.get("code") or ""),
        failure_message=str(error.get("message") or ""),
        charge_id=charge if isinstance(charge, str) else None,
        charge=charge if isinstance(charge, Mapping) else None,
        amount_remaining=remaining if isinstance(remaining, int) else None,
    )


@dataclass(frozen=True)
class PaymentState:
    """The parts of a payment the PaymentIntent decides."""

    intent_id: str
    status: str
    synced_at: datetime | None  # when the facts the status reflects were true at Stripe
    failure_code: str = ""
    failure_message: str = ""


def payment_after(state: PaymentState, facts: IntentFacts, observed_at: datetime) -> PaymentState:
    """The payment's state once `facts`, true at Stripe at `observed_at`, are taken into account.

    Raises WrongPaymentIntent for another PaymentIntent's facts.
    """
    if facts.intent_id != state.intent_id:
        raise WrongPaymentIntent(
            f"facts about {facts.intent_id} offered to the payment of {state.intent_id}"
        )
    old, new = state.status, facts.status
    if state.synced_at is None or observed_at > state.synced_at:
        newer = True
    elif observed_at == state.synced_at:  # the same second: the later stage is the later fact
        newer = _STAGE.get(new, 3) > _STAGE.get(old, 3)
    else:
        newer = False
    moves = new != old and new in _ALLOWED.get(old, set()) and (newer or new in FINAL_AT_STRIPE)
    status = new if moves else old
    synced_at = observed_at if newer else state.synced_at
    failure_code, failure_message = state.failure_code, state.failure_message
    if status == FAILED and (moves or (newer and new == FAILED)):
        # The failure of the latest try (a later decline replaces an earlier one's reason).
        failure_code, failure_message = facts.failure_code, facts.failure_message
    elif moves and status != CANCELLED:
        # Paid, or being tried again: an earlier decline is history (the webhook timeline),
        # not the payment's state. A cancelled attempt keeps the reason it ended on.
        failure_code = failure_message = ""
    return PaymentState(state.intent_id, status, synced_at, failure_code, failure_message)


def amount_remaining_after(status: str, recorded: int | None, seen: int | None) -> int | None:
    """What remains to be paid of a bank transfer (minor units): money only arrives, so the
    smallest amount Stripe reported wins, in whatever order the reports come; nothing remains
    once the payment is final."""
    if status in (*PAID, CANCELLED):
        return None
    if recorded is None or seen is None:
        return seen if recorded is None else recorded
    return min(recorded, seen)


def payment_status_with_refunds(status: str, amount: Decimal, refunded: Decimal) -> str:
    """A paid payment's status follows what is refunded of it (pending refunds count, as at
    Stripe: a charge is `refunded` once refunds for its whole amount exist)."""
    if status not in PAID:
        return status
    if refunded >= amount:
        return REFUNDED
    return PARTIALLY_REFUNDED if refunded > 0 else SUCCEEDED


# --- Refunds ------------------------------------------------------------------------------------

REFUND_PENDING, REFUND_REQUIRES_ACTION, REFUND_SUCCEEDED, REFUND_FAILED, REFUND_CANCELED = (
    "pending",
    "requires_action",
    "succeeded",
    "failed",
    "canceled",
)
# Refunds in these states hold part of the payment; failed or canceled ones give it back.
REFUND_HOLDING = (REFUND_PENDING, REFUND_REQUIRES_ACTION, REFUND_SUCCEEDED)
# Stripe moves a refund pending -> (requires_action) -> succeeded -> failed (a bank can return
# it after success), or to canceled; failed and canceled are final.
_REFUND_RANK = {
    REFUND_PENDING: 0,
    REFUND_REQUIRES_ACTION: 1,
    REFUND_SUCCEEDED: 2,
    REFUND_FAILED: 3,
    REFUND_CANCELED: 3,
}


# Four eyes: a refund at or above the approval threshold starts awaiting a second person and
# is never sent until approved (then pending, as any refund Stripe has not answered) or
# rejected (final: nothing was sent, its amount is free again). Stripe never hears of either
# state, so Stripe's news never moves a refund out of them.
REFUND_AWAITING_APPROVAL, REFUND_REJECTED = "awaiting_approval", "rejected"
_REFUND_DECISIONS = {REFUND_AWAITING_APPROVAL: (REFUND_PENDING, REFUND_REJECTED)}


def refund_may_be_decided(status: str, decision: str) -> bool:
    """Whether a second person's decision (pending: approved, or rejected) may move a refund
    in `status`: only one awaiting approval, only once."""
    return decision in _REFUND_DECISIONS.get(status, ())


def refund_needs_approval(amount: Decimal, threshold: Decimal | None) -> bool:
    """A refund at or above its currency's threshold waits for a second person (None: no
    threshold for the currency)."""
    return threshold is not None and amount >= threshold


def refund_status_from_stripe(stripe_status: str) -> str:
    return stripe_status if stripe_status in _REFUND_RANK else REFUND_PENDING


def refund_after(status: str, stripe_status: str, *, heard_before: bool) -> str:
    """A refund's status once Stripe says `stripe_status` about it.

    Forward only: a late "pending" never undoes "succeeded" or "failed". A refund that had never
    heard from Stripe takes Stripe's word whatever was assumed meanwhile: Stripe made it.
    """
    new = refund_status_from_stripe(stripe_status)
    if not heard_before or _REFUND_RANK[new] >= _REFUND_RANK[status]:
        return new
    return status


@dataclass(frozen=True)
class Unanswered:
    """A refund of ours that Stripe has not (yet) confirmed: no Stripe id."""

    refund_id: int
    amount: Decimal


def refunds_without_room(
    amount: Decimal, known_at_stripe: Decimal, unanswered: Sequence[Unanswered]
) -> list[int]:
    """The unanswered refunds that the refunds Stripe reported leave no room for, oldest kept
    first.

    Stripe never lets a charge's refunds exceed it, so one of these was either never made, or
    was made and one of the refunds we count has since failed at Stripe without our hearing yet
    (a refund can fail after succeeding). Which it is, only Stripe can say: such a refund is not
    freed (an unknown outcome holds the money). It stays waiting to be settled, and only its
    count in the books waits until it fits, so that the books never pass the payment.

    Refunds awaiting approval are not unanswered (nothing was sent): callers leave them out, and
    fit them, the same way, into the room that Stripe's and the unanswered refunds leave.
    """
    room = amount - known_at_stripe
    without = []
    for refund in unanswered:
        if refund.amount <= room:
            room -= refund.amount
        else:
            without.append(refund.refund_id)
    return without


# --- Disputes ---------------------------------------------------------------------------------
# How far along a dispute is. Stripe stamps events in whole seconds: of two observations from the
# same second, the one further along wins. A decided dispute never opens again.
_DISPUTE_STAGE = {
    "warning_needs_response": 0,
    "warning_under_review": 1,
    "needs_response": 2,
    "under_review": 3,
    "appeal_needs_response": 4,
    "appeal_under_review": 5,
}
DISPUTE_FINAL = ("warning_closed", "won", "lost", "prevented")


def dispute_status_after(
    status: str | None,
    synced_at: datetime | None,
    seen: str,
    observed_at: datetime,
) -> str:
    """The dispute's status once `seen` (observed at `observed_at`) is taken into account."""
    if status is None:
        return seen
    if status in DISPUTE_FINAL:
        return status
    if seen in DISPUTE_FINAL:
        return seen
    if synced_at is not None and observed_at < synced_at:
        return status  # older news
    if synced_at is not None and observed_at == synced_at:
        stage = _DISPUTE_STAGE.get(seen, -1)
        return seen if stage >= _DISPUTE_STAGE.get(status, -1) else status
    return seen
