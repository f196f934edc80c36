"""What a webhook costs the database: a regression guard on statements, not on time.

With a worker, a delivery is one upsert on PostgreSQL (a new event and a copy alike); applying
reads the payload once and writes only the columns that changed. Transactional tests, so that
the counts are the statements a server runs (no test savepoints around each atomic block).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from payments import services
from payments.models import Payment, StripeWebhookEvent
from tests import factories
from tests.payments.webhook_helpers import SECRET, charge, deliver, event, intent

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

POSTGRES = connection.vendor == "postgresql"


@pytest.fixture
def with_a_worker(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """What was run, without the transactions' BEGIN and COMMIT (SQLite's are logged)."""
    return [q["sql"] for q in queries if q["sql"] not in ("BEGIN IMMEDIATE", "BEGIN", "COMMIT")]


def _delivered(client, evt) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as queries:
        response = deliver(client, evt)
    assert response.status_code == 200, response.content
    return len(_statements(queries)), response.json()


def test_a_new_event_and_a_duplicate_cost_one_statement_each(client, with_a_worker):
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_count")
    evt = event("payment_intent.succeeded", intent("pi_count", "succeeded"))

    new, answer = _delivered(client, evt)
    duplicate, again = _delivered(client, evt)

    # PostgreSQL: INSERT ... ON CONFLICT DO UPDATE (the delivery count) RETURNING. SQLite (the
    # demo): get_or_create, then the count.
    assert (new, duplicate) == ((1, 1) if POSTGRES else (2, 2))
    assert answer["outcome"] == again["outcome"] == "pending"
    row = StripeWebhookEvent.objects.get()
    assert (row.stripe_event_id, row.delivery_count, row.status) == (evt["id"], 2, "pending")
    assert row.data == evt
    payment.refresh_from_db()
    assert payment.status == "pending"  # only stored: the worker applies it


def test_a_copy_of_an_applied_event_costs_one_statement(client, with_a_worker):
    factories.payment(status="pending", stripe_payment_intent_id="pi_copy")
    evt = event("payment_intent.succeeded", intent("pi_copy", "succeeded"))
    deliver(client, evt)
    assert services.webhook_events_apply_due() == 1

    statements, answer = _delivered(client, evt)

    assert statements == (1 if POSTGRES else 2)
    assert answer["outcome"] == "processed"
    assert StripeWebhookEvent.objects.get().delivery_count == 2


def test_a_client_secret_is_taken_out_before_the_body_is_stored(client, with_a_worker):
    factories.payment(status="pending", stripe_payment_intent_id="pi_secret")
    evt = event(
        "payment_intent.succeeded", intent("pi_secret", "succeeded", client_secret="pi_s_x")
    )
    deliver(client, evt)
    stored = StripeWebhookEvent.objects.get().data
    assert stored["data"]["object"]["client_secret"] is None
    assert "pi_s_x" not in json.dumps(stored)


def test_applying_reads_the_payload_once_and_writes_only_what_changed(client, with_a_worker):
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_apply")
    amount, charge_before = payment.amount, payment.stripe_charge_id
    deliver(client, event("payment_intent.succeeded", intent("pi_apply", "succeeded")))

    with CaptureQueriesContext(connection) as queries:
        assert services.webhook_events_apply_due() == 1

    sql = _statements(queries)
    event_table = StripeWebhookEvent._meta.db_table
    payment_table = Payment._meta.db_table
    reads_of_payload = [s for s in sql if s.startswith("SELECT") and f'"{event_table}"."data"' in s]
    assert len(reads_of_payload) == 1
    updates = [s for s in sql if s.startswith("UPDATE")]
    assert not any('"data"' in s.split(" WHERE ")[0] for s in updates)  # never rewritten
    payment_updates = [s for s in updates if s.startswith(f'UPDATE "{payment_table}"')]
    assert len(payment_updates) == 1
    written = payment_updates[0].split(" WHERE ")[0]
    assert '"status"' in written and '"updated_at"' in written
    assert '"amount"' not in written and '"amount_refunded"' not in written
    # Claim (select, move the due time), then: the event, the payment's ids, the event's lock,
    # the order's and the payment's locks, the order (now paid), the payment, the event; then
    # an empty claim. No savepoint.
    assert len(sql) == 11, "\n".join(sql)
    assert not any("SAVEPOINT" in s for s in sql)

    payment.refresh_from_db()
    assert (payment.status, payment.amount, payment.stripe_charge_id) == (
        "succeeded",
        amount,
        charge_before,
    )
    assert payment.order.status == "paid"
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.attempts, row.payment_id, row.next_attempt_at) == (
        "processed",
        1,
        payment.pk,
        None,
    )


def _payment_updates(queries: CaptureQueriesContext) -> list[str]:
    """The SET part of each UPDATE of a payment row."""
    table = Payment._meta.db_table
    return [
        s.split(" WHERE ")[0] for s in _statements(queries) if s.startswith(f'UPDATE "{table}"')
    ]


def test_a_refunded_charge_writes_its_payment_once_and_a_copy_of_it_not_at_all(
    client, stripe_sandbox, with_a_worker
):
    paid = factories.paid_payment(stripe_sandbox, factories.user("alice"), total="99.99")
    status, _, _ = stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": paid.stripe_payment_intent_id, "amount": 2500}
    )
    assert status == 200
    # Refunded in Stripe's Dashboard; the event also brings the card we had not recorded.
    card = {"card": {"brand": "amex", "last4": "0005"}}
    refunded = charge(paid, amount_refunded=2500, payment_method_details=card)
    deliver(client, event("charge.refunded", refunded))

    with CaptureQueriesContext(connection) as queries:
        assert services.webhook_events_apply_due() == 1

    (written,) = _payment_updates(queries)  # the charge's facts and the totals together
    for column in ("amount_refunded", "status", "card_brand", "card_last4", "updated_at"):
        assert f'"{column}"' in written
    paid.refresh_from_db()
    assert (paid.status, paid.amount_refunded, paid.card_brand, paid.card_last4) == (
        "partially_refunded",
        Decimal("25.00"),
        "amex",
        "0005",
    )
    updated_at = paid.updated_at

    # Another event with the same facts (Stripe sends one per refund update): nothing to write.
    deliver(client, event("charge.refunded", refunded))
    with CaptureQueriesContext(connection) as queries:
        assert services.webhook_events_apply_due() == 1
    assert _payment_updates(queries) == []
    paid.refresh_from_db()
    assert (paid.amount_refunded, paid.updated_at) == (Decimal("25.00"), updated_at)
    assert list(StripeWebhookEvent.objects.values_list("status", flat=True)) == [
        "processed",
        "processed",
    ]
