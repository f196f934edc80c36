"""Our books held against what the Stripe stand-in holds: for tests that end by asking
"do the app and Stripe agree?" (the model-based money test, the worker storm)."""

from __future__ import annotations

from payments import money
from payments.models import Payment
from payments.services import transitions


def assert_books_match_stripe(sandbox) -> dict[str, int]:
    """Every payment's refunds are Stripe's (ids, amounts, statuses), what Stripe refunded never
    exceeds what was paid, and no payment's status is behind its PaymentIntent's. Returns how
    many Stripe refunds each refund of ours (by its metadata id) has."""
    made_for: dict[str, int] = {}
    for p in Payment.objects.all():
        pi = sandbox.api("GET", f"/v1/payment_intents/{p.stripe_payment_intent_id}")[1]
        at_stripe = sandbox.api("GET", "/v1/refunds", {"payment_intent": pi["id"], "limit": 100})[
            1
        ]["data"]
        for r in at_stripe:
            ours = r["metadata"].get("refund_id")
            if ours:
                made_for[ours] = made_for.get(ours, 0) + 1
        theirs = sorted(
            (r["id"], money.from_minor_units(r["amount"], p.currency), r["status"])
            for r in at_stripe
        )
        mine = sorted(
            p.refunds.exclude(stripe_refund_id=None).values_list(
                "stripe_refund_id", "amount", "status"
            )
        )
        assert mine == theirs, (p, mine, theirs)
        counted = sum(r["amount"] for r in at_stripe if r["status"] in ("pending", "succeeded"))
        assert counted <= pi["amount"]
        # Not behind Stripe: the same facts, seen now, give the status the payment has.
        expected = transitions.intent_facts(pi).status
        if expected == transitions.SUCCEEDED:
            expected = transitions.payment_status_with_refunds(
                expected, p.amount, p.amount_refunded
            )
        assert p.status == expected, (p, pi["status"])
    return made_for
