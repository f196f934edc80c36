"""refund_create and refunds_apply: cases the API and the form do not reach directly."""

from decimal import Decimal

import pytest

from payments import services
from payments.models import Refund
from tests import factories

pytestmark = pytest.mark.django_db


def test_stripes_word_wins_for_a_refund_that_never_heard_its_answer():
    """We marked it failed after an ambiguous error; Stripe had in fact made it."""
    paid = factories.payment(stripe_charge_id="ch_1")
    local = factories.refund(
        paid, amount="40.00", status=Refund.Status.FAILED, stripe_refund_id=None
    )
    made = {
        "id": "re_made",
        "object": "refund",
        "amount": 4000,
        "status": "succeeded",
        "metadata": {"refund_id": str(local.pk)},
    }
    services.refunds_apply(paid, [made])
    local.refresh_from_db()
    assert (local.stripe_refund_id, local.status) == ("re_made", "succeeded")
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded) == ("partially_refunded", Decimal("40.00"))


def test_a_refund_reviewed_before_another_landed_is_refused():
    paid = factories.payment(amount_refunded=Decimal("0"))
    paid.amount_refunded = Decimal("10.00")
    paid.save()
    with pytest.raises(services.RefundStale, match="changed since this refund was reviewed"):
        services.refund_create(
            payment_id=paid.pk,
            amount=Decimal("10.00"),
            reason="duplicate",
            created_by=None,
            expected_amount_refunded=Decimal("0"),
        )
    assert not Refund.objects.exists()


def test_idempotency_keys_carry_the_deployments_prefix(settings):
    assert services.idempotency_key("refund", 7) == "refund-7"
    settings.STRIPE_IDEMPOTENCY_PREFIX = "staging"
    assert services.idempotency_key("order", 3, "pi", 1) == "staging-order-3-pi-1"
