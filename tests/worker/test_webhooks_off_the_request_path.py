"""Stripe's webhooks stored by the app servers and applied by a Celery worker: exactly once, in
any order, whatever is killed or stopped on the way (real gunicorn, Celery, Redis, PostgreSQL)."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from payments import services
from payments.models import Payment, StripeWebhookEvent
from tests import factories
from tests.payments.webhook_helpers import signature
from tests.stripe_truth import assert_books_match_stripe

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DONE = ("processed", "ignored", "unmatched")


def post_event(server: str, evt: dict[str, Any]) -> tuple[int, float]:
    body = json.dumps(evt).encode()
    request = urllib.request.Request(  # noqa: S310 (our own test server)
        f"{server}/api/payments/webhook/stripe/",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Stripe-Signature": signature(body)},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started


def all_events(sandbox) -> list[dict[str, Any]]:
    found, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if after:
            params["starting_after"] = after
        body = sandbox.api("GET", "/v1/events", params)[1]
        found.extend(body["data"])
        if not body["has_more"]:
            return list(reversed(found))
        after = body["data"][-1]["id"]


def stripes_side(sandbox, n: int) -> list[Payment]:
    """n checkouts paid (some after a decline), some refunded in Stripe's Dashboard: the app has
    only the payments' rows; everything else it must learn from the events."""
    payments = []
    for i in range(n):
        order = factories.order(total="50.00")
        payment, _ = services.payment_intent_create(
            user=order.user, order_id=order.pk, payment_method="card"
        )
        pi = payment.stripe_payment_intent_id
        if i % 3 == 1:
            sandbox.confirm_payment_intent(pi, "pm_card_chargeDeclined")
        if i % 5 != 4:  # every fifth is left declined or open
            sandbox.confirm_payment_intent(pi, "pm_card_visa")
            if i % 2 == 0:
                sandbox.api("POST", "/v1/refunds", {"payment_intent": pi, "amount": 1000})
            if i % 4 == 0:
                sandbox.api("POST", "/v1/refunds", {"payment_intent": pi})
        payments.append(payment)
    return payments


def wait_until_applied(expected: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        rows = list(StripeWebhookEvent.objects.values_list("status", flat=True))
        if len(rows) == expected and all(status in DONE for status in rows):
            return
        if time.monotonic() > deadline:
            counts = {s: rows.count(s) for s in set(rows)}
            raise AssertionError(f"{len(rows)}/{expected} events, by status: {counts}")
        time.sleep(0.25)


def storm(servers: list[str], events: list[dict[str, Any]], clients: int = 8, on_half=None):
    """Deliver `events` from `clients` threads, round-robin across the servers."""
    answers: list[tuple[int, float]] = []
    lock = threading.Lock()
    queue = list(enumerate(events))
    half = len(events) // 2

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                n, evt = queue.pop(0)
                if n == half and on_half is not None:
                    on_half()
            answer = post_event(servers[n % len(servers)], evt)
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return answers


def test_a_shuffled_duplicated_storm_across_two_servers_with_a_killed_worker_ends_as_stripe_is(
    stripe_sandbox, machine_redis, stack_factory
):
    stack = stack_factory(machine_redis)
    servers = [stack.app_server("web-a"), stack.app_server("web-b")]
    worker = stack.worker("worker-1")
    stack.beat()
    stripes_side(stripe_sandbox, 12)
    events = all_events(stripe_sandbox)
    delivered = events * 3
    random.Random(7).shuffle(delivered)

    answers = storm(servers, delivered, on_half=worker.kill)  # the worker dies mid-storm
    assert {status for status, _ in answers} == {200}
    left = StripeWebhookEvent.objects.exclude(status__in=DONE).count()
    second = stack.worker("worker-2")
    wait_until_applied(len(events))
    # The second worker applied what the first left (queued again by beat's stale-event sweep).
    assert left > 0 and "webhook_events_drain" in second.output()

    assert_books_match_stripe(stripe_sandbox)
    assert set(StripeWebhookEvent.objects.values_list("delivery_count", flat=True)) == {3}


def test_events_arriving_while_redis_is_down_are_applied_once_it_is_back(
    stripe_sandbox, own_redis, stack_factory
):
    stack = stack_factory(own_redis.url)
    server = stack.app_server()
    stack.worker()
    stack.beat()
    stripes_side(stripe_sandbox, 4)
    events = all_events(stripe_sandbox)

    own_redis.stop()
    answers = [post_event(server, evt) for evt in events]
    assert {status for status, _ in answers} == {200}  # stored: Stripe need not retry
    assert max(seconds for _, seconds in answers) < 5
    assert StripeWebhookEvent.objects.count() == len(events)
    own_redis.start()  # back, empty: the queued work was never there, the rows are

    wait_until_applied(len(events))
    assert_books_match_stripe(stripe_sandbox)


def test_the_webhook_request_makes_no_stripe_call(stripe_sandbox, machine_redis, stack_factory):
    stack = stack_factory(machine_redis)
    server = stack.app_server()
    order = factories.order(total="30.00")
    payment, _ = services.payment_intent_create(
        user=order.user, order_id=order.pk, payment_method="card"
    )
    stripe_sandbox.confirm_payment_intent(payment.stripe_payment_intent_id)
    stripe_sandbox.api(
        "POST", "/v1/refunds", {"payment_intent": payment.stripe_payment_intent_id, "amount": 500}
    )
    events = all_events(stripe_sandbox)
    stripe_sandbox.clear_requests_log()
    assert {status for status, _ in (post_event(server, e) for e in events)} == {200}
    assert stripe_sandbox.requests_log() == []  # charge.refunded's refunds are the worker's job
    assert set(StripeWebhookEvent.objects.values_list("status", flat=True)) == {"pending"}

    stack.worker()
    wait_until_applied(len(events))
    assert stripe_sandbox.requests_log(method="GET", path="/v1/refunds")
    payment.refresh_from_db()
    assert (payment.status, str(payment.amount_refunded)) == ("partially_refunded", "5.000")
