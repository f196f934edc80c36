"""The event table as the worker's queue: what is due is applied once, a failure is due again
after a back-off (for ever while Stripe is busy or away, a few times otherwise), and the
scheduled jobs run once at a time across hosts."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from payments import services
from payments.models import StripeWebhookEvent
from payments.services.common import exclusive
from payments.services.webhooks import MAX_ATTEMPTS, _retry_in
from payments.stripe_client import InvalidRequest, ProviderUnavailable, RateLimited
from tests import factories
from tests.payments.webhook_helpers import SECRET, deliver, event, intent

pytestmark = pytest.mark.django_db


@pytest.fixture
def with_a_worker(settings):
    """As in production: a broker is configured, so webhooks are only stored."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]


def test_a_stored_event_is_applied_by_the_drain_once(client, with_a_worker):
    payment = factories.payment(status="pending", stripe_payment_intent_id="pi_q")
    evt = event("payment_intent.succeeded", intent("pi_q", "succeeded"))
    for _ in range(2):
        assert deliver(client, evt).json()["outcome"] == "pending"  # stored, not applied
    payment.refresh_from_db()
    assert payment.status == "pending"

    assert services.webhook_events_apply_due() == 1
    assert services.webhook_events_apply_due() == 0
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.attempts, row.delivery_count, row.next_attempt_at) == (
        "processed",
        1,
        2,
        None,
    )
    payment.refresh_from_db()
    assert payment.status == "succeeded"


def test_a_failing_event_is_due_again_after_a_back_off(
    client, stripe_sandbox, with_a_worker, settings
):
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]  # after the stand-in's fixture set its own
    paid = factories.paid_payment(stripe_sandbox, total="20.00")
    stripe_sandbox.inject_fault("GET", "/v1/refunds", "500", count=10)
    charge = {"id": "ch_q", "object": "charge", "status": "succeeded"}
    charge["payment_intent"] = paid.stripe_payment_intent_id
    deliver(client, event("charge.refunded", charge))
    assert services.webhook_events_apply_due() == 0
    row = StripeWebhookEvent.objects.get()
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.next_attempt_at > timezone.now()  # not taken again at once
    assert services.webhook_events_apply_due() == 0

    stripe_sandbox.clear_faults()
    later = row.next_attempt_at + timedelta(seconds=1)
    assert services.webhook_events_apply_due(now=later) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("processed", 2)


def test_stripe_busy_or_away_is_retried_for_ever_other_errors_a_few_times():
    for attempts in (1, 5, 50, 500):
        assert _retry_in(attempts, RateLimited("busy")) is not None
        assert _retry_in(attempts, ProviderUnavailable("away")) <= 600
    assert _retry_in(MAX_ATTEMPTS - 1, InvalidRequest("bug")) is not None
    assert _retry_in(MAX_ATTEMPTS, InvalidRequest("bug")) is None  # for a person now
    waits = {_retry_in(3, RateLimited("busy")) for _ in range(20)}
    assert len(waits) > 1 and all(4 <= w <= 8 for w in waits)  # jittered around 2^3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_scheduled_job_runs_on_one_host_at_a_time():
    holding, release, seen = threading.Event(), threading.Event(), []

    def first() -> None:
        with exclusive("payments.reconcile") as mine:
            seen.append(("first", mine))
            holding.set()
            release.wait(10)
        connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(10)

    def second() -> None:
        with exclusive("payments.reconcile") as mine:
            seen.append(("second", mine))
        connection.close()

    other = threading.Thread(target=second)
    other.start()
    other.join(10)
    release.set()
    thread.join(10)
    with exclusive("payments.reconcile") as mine:
        seen.append(("after", mine))
    assert seen == [("first", True), ("second", False), ("after", True)]
