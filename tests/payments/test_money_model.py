"""A model-based test of the money invariants (hypothesis's stateful testing).

Random interleavings, over the real app (API, back-office, webhooks, commands) and the Stripe
stand-in over HTTP, of: checkouts with each test card; refunds through the API (with and without
an Idempotency-Key, retried) and the back-office form (resubmitted); refunds made directly at
Stripe (its Dashboard); faults (500, 429, a hang past the timeout, an answer lost after Stripe
acted) on the call an action makes; webhook deliveries duplicated and shuffled; customers'
status polls; refresh, reconcile and the sweep; on PostgreSQL, two refund requests at once.

After settling (faults gone, time past every in-flight window, the sweep and reconcile run,
every event delivered again in a shuffled order) it asserts what the product promises:

- the app's refunds are Stripe's refunds (ids, amounts, statuses), and nothing waits any more;
- what Stripe refunded never exceeds what was paid, and the books hold exactly the refunds;
- no request was answered 2xx for a refund Stripe did not make, and no refund was made twice
  for one request (each refund of ours is at Stripe at most once; a retry never adds one);
- no payment's status is behind Stripe's; and no answer was a 500.

CI runs a bounded number of examples; `--hypothesis-profile=money-long` runs many more.
"""

from __future__ import annotations

import random
import re
import threading
import time
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import stripe
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from payments.models import Dispute, Payment, Refund, StripeWebhookEvent
from shop.models import CustomUser, Order
from tests import factories
from tests.audit.helpers import audit_trail_empty
from tests.payments.webhook_helpers import SECRET, deliver
from tests.stripe_truth import assert_books_match_stripe

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

TIMEOUT = 0.3  # the Stripe client's timeout here; a hang outlasts it
HANG = 0.5
CARDS = {
    "visa": "4242424242424242",
    "declined": "4000000000000002",
    "insufficient": "4000000000009995",
    "3ds-ok": "4000002500003155",
    "3ds-fail": "4000002500003155",
    "refund-fails-later": "4000000000005126",
    "disputed": "4000000000000259",  # paid, then charged back (no refund possible after)
}
# The app's own calls, each an action's "the Stripe call it makes".
FAULT_CALLS = {
    "create_pi": ("POST", "/v1/payment_intents"),
    "retrieve_pi": ("GET", "/v1/payment_intents/pi_*"),
    "create_refund": ("POST", "/v1/refunds"),
    "list_refunds": ("GET", "/v1/refunds"),
}
faults = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(sorted(FAULT_CALLS)),
        st.sampled_from(["500", "429", "hang", "lost", "failed"]),
        st.integers(1, 2),
    ),
)
amounts = st.sampled_from(["1.00", "10.00", "33.33", None])  # None: all that remains


class MoneyMachine(RuleBasedStateMachine):
    payments = Bundle("payments")

    def __init__(self) -> None:
        super().__init__()
        ctx = CONTEXT
        self.sandbox = ctx["sandbox"]
        self.postgres = connection.vendor == "postgresql"
        self.sandbox.reset()
        cache.clear()  # throttle counts and dashboard figures start from nothing in each example
        audit_trail_empty()  # its entries hold on to the payments (and the trail is append-only)
        Refund.objects.all().delete()
        Dispute.objects.all().delete()
        StripeWebhookEvent.objects.all().delete()
        Order.objects.update(current_payment=None)
        Payment.objects.all().delete()
        Order.objects.all().delete()
        CustomUser.objects.update(stripe_customer_id="")
        self.customer = ctx["customer"]
        self.shopper = ctx["shopper"]
        self.finance = ctx["finance_api"]
        self.finance_b = ctx["finance_b_api"]
        self.browser = ctx["browser"]
        self.hooks = Client()
        self.rng = random.Random(0)
        self.last_hang = 0.0
        self.delivered: list[dict[str, Any]] = []
        self.seen_events: set[str] = set()
        # (refund id or None, status code) of every refund request answered; retried pairs.
        self.answers: list[tuple[int | None, int]] = []
        self.retries: list[tuple[tuple[int | None, int], tuple[int | None, int]]] = []
        self.last_api_request: tuple[APIClient, dict[str, Any], dict[str, str]] | None = None
        self.last_form: tuple[int, dict[str, str]] | None = None
        self.server_errors: list[str] = []
        # Refunds the app ever said were not made (failed with no Stripe id): money it freed.
        self.declared_not_made: set[str] = set()

    # --- helpers --------------------------------------------------------------------------------
    def fault(self, fault: tuple[str, str, int] | None) -> None:
        self.sandbox.clear_faults()
        if fault is None:
            return
        call, kind, count = fault
        method, path = FAULT_CALLS[call]
        self.sandbox.inject_fault(method, path, kind, count=count, seconds=HANG)
        if kind == "hang":
            self.last_hang = time.monotonic()

    def after(self, label: str, status: int) -> None:
        self.sandbox.clear_faults()
        if status >= 500 and status not in (502, 503):
            self.server_errors.append(f"{label}: {status}")

    def api_refund(self, client: APIClient, body: dict[str, Any], headers: dict[str, str]):
        response = client.post(
            "/api/payments/refunds/create_refund/", body, format="json", **headers
        )
        self.after("api refund", response.status_code)
        data = response.json()
        refund_id = data.get("id") if response.status_code < 300 else _refund_id_in(data)
        answer = (refund_id, response.status_code)
        self.answers.append(answer)
        return answer

    # --- rules ----------------------------------------------------------------------------------
    @initialize(target=payments)
    def first_checkout(self):
        return self._checkout("visa", None)

    @rule(target=payments, card=st.sampled_from(sorted(CARDS)), fault=faults)
    def checkout(self, card, fault):
        return self._checkout(card, fault)

    def _checkout(self, card: str, fault) -> int | None:
        order = factories.order(self.customer, total="100.00")
        self.fault(fault)
        response = self.shopper.post(
            "/api/payments/payments/create_payment_intent/", {"order_id": order.pk}, format="json"
        )
        self.after("checkout", response.status_code)
        if response.status_code != 200:
            return None
        body = response.json()
        pi = body["payment_intent_id"]
        # What Stripe.js does in the customer's browser (no fault: the app is not involved).
        pm_status, pm, _ = self.sandbox.api(
            "POST",
            "/v1/payment_methods",
            {
                "type": "card",
                "card": {
                    "number": CARDS[card],
                    "exp_month": "12",
                    "exp_year": "2035",
                    "cvc": "123",
                },
            },
            key=self.sandbox.publishable_key,
        )
        assert pm_status == 200, pm
        self.sandbox.api(
            "POST",
            f"/v1/payment_intents/{pi}/confirm",
            {"payment_method": pm["id"], "client_secret": body["client_secret"]},
            key=self.sandbox.publishable_key,
        )
        if card == "3ds-ok":
            self.sandbox.complete_3ds(pi)
        elif card == "3ds-fail":
            self.sandbox.fail_3ds(pi)
        # Then the checkout page asks the app how it went, as ours does after Stripe.js.
        confirm = self.shopper.get(f"/api/payments/payments/{body['payment_id']}/confirm/")
        self.after("confirm", confirm.status_code)
        return body["payment_id"]

    @rule(
        payment=payments,
        amount=amounts,
        key=st.one_of(st.none(), st.sampled_from(["k1", "k2", "k3"])),
        other_person=st.booleans(),
        fault=faults,
    )
    def refund_through_the_api(self, payment, amount, key, other_person, fault):
        if payment is None:
            return
        client = self.finance_b if other_person else self.finance
        body: dict[str, Any] = {"payment_id": payment}
        if amount is not None:
            body["amount"] = amount
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        self.fault(fault)
        self.api_refund(client, body, headers)
        self.last_api_request = (client, body, headers)

    # No preconditions on what earlier answers left behind: hypothesis must be able to replay
    # the choice of rule even when an answer differs (a stand-in timer, a throttle window).
    @rule(fault=faults)
    def retry_the_last_api_refund(self, fault):
        if self.last_api_request is None:
            return
        first = self.answers[-1]
        self.fault(fault)
        again = self.api_refund(*self.last_api_request)
        self.retries.append((first, again))

    @rule(
        payment=payments,
        amount=amounts,
        key=st.one_of(st.none(), st.just("retry-key")),
        kind=st.sampled_from(["500", "lost", "hang", "failed"]),
        retry_fault=faults,
    )
    def stripe_does_not_answer_and_the_request_is_retried(
        self, payment, amount, key, kind, retry_fault
    ):
        """The README invites it: a 503 says retrying the same request is safe."""
        if payment is None:
            return
        body: dict[str, Any] = {"payment_id": payment}
        if amount is not None:
            body["amount"] = amount
        headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
        self.fault(("create_refund", kind, 2))  # every attempt of the request
        first = self.api_refund(self.finance, body, headers)
        self.fault(retry_fault)
        again = self.api_refund(self.finance, body, headers)
        self.retries.append((first, again))
        self.last_api_request = (self.finance, body, headers)

    @rule(payment=payments, amount=st.sampled_from(["1.00", "10.00", "25.00"]), fault=faults)
    def refund_through_the_form(self, payment, amount, fault):
        if payment is None:
            return
        url = reverse("backoffice:payment_refund", args=[payment])
        data = {"step": "review", "amount": amount, "reason": "requested_by_customer"}
        review = self.browser.post(url, data)
        self.after("form review", review.status_code)
        match = re.search(r'name="token" value="([^"]+)"', review.content.decode())
        if review.status_code != 200 or not match:
            return
        confirm = {**data, "step": "confirm", "token": match.group(1), "description": ""}
        self.fault(fault)
        response = self.browser.post(url, confirm)
        self.after("form confirm", response.status_code)
        self.last_form = (payment, confirm)

    @rule()
    def resubmit_the_last_form(self):
        if self.last_form is None:
            return
        payment, confirm = self.last_form
        count = Refund.objects.filter(created_by__isnull=False).count()
        response = self.browser.post(reverse("backoffice:payment_refund", args=[payment]), confirm)
        self.after("form resubmit", response.status_code)
        # The same confirmation twice is one refund.
        assert Refund.objects.filter(created_by__isnull=False).count() == count

    @rule(payment=payments, amount=st.sampled_from([100, 1000, None]))
    def refund_in_stripes_dashboard(self, payment, amount):
        if payment is None:
            return
        pi = Payment.objects.get(pk=payment).stripe_payment_intent_id
        params: dict[str, Any] = {"payment_intent": pi}
        if amount is not None:
            params["amount"] = amount
        self.sandbox.clear_faults()
        self.sandbox.api("POST", "/v1/refunds", params)  # Stripe may refuse: that is fine

    # A seed, not a drawn Random: how many events there are to shuffle depends on the stand-in's
    # timers, and hypothesis must draw the same data when it replays an example.
    @rule(seed=st.integers(0, 2**32 - 1), duplicate=st.booleans())
    def deliver_webhooks(self, seed, duplicate):
        new = [e for e in self._events() if e["id"] not in self.seen_events]
        batch = new + (self.delivered[-3:] if duplicate else [])
        random.Random(seed).shuffle(batch)
        for evt in batch:
            response = deliver(self.hooks, evt)
            # 500 is the webhook's "retry later" (a fault on the Stripe call it makes).
            assert response.status_code in (200, 500), response.content
            self.seen_events.add(evt["id"])
        self.delivered.extend(new)

    @rule(payment=payments, fault=faults)
    def customer_polls_status(self, payment, fault):
        if payment is None:
            return
        self.fault(fault)
        response = self.shopper.get(f"/api/payments/payments/{payment}/status/")
        self.after("status poll", response.status_code)

    @rule(payment=payments, fault=faults)
    def refresh_from_stripe(self, payment, fault):
        if payment is None:
            return
        self.fault(fault)
        response = self.browser.post(reverse("backoffice:payment_refresh", args=[payment]))
        self.after("refresh", response.status_code)

    @rule(fault=faults)
    def reconcile(self, fault):
        self.fault(fault)
        with suppress(CommandError):  # a payment Stripe failed for is reported, the rest done
            call_command("reconcile_payments", stdout=StringIO(), stderr=StringIO())
        self.sandbox.clear_faults()

    @rule(fault=faults)
    def sweep(self, fault):
        self.fault(fault)
        with suppress(CommandError):  # some still wait: the next sweep settles them
            call_command("settle_refunds", stdout=StringIO(), stderr=StringIO())
        self.sandbox.clear_faults()

    @rule()
    def time_passes(self):
        self._past_every_window()

    @precondition(lambda self: self.postgres)
    @rule(payment=payments, amount=st.sampled_from(["5.00", "20.00"]))
    def two_refunds_at_once(self, payment, amount):
        if payment is None:
            return
        barrier = threading.Barrier(2)
        results: list[tuple[int | None, int]] = []

        def one(client: APIClient) -> None:
            barrier.wait()
            try:
                results.append(
                    self.api_refund(client, {"payment_id": payment, "amount": amount}, {})
                )
            finally:
                connection.close()

        threads = [threading.Thread(target=one, args=(c,)) for c in (self.finance, self.finance)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(results) == 2

    # --- checks ---------------------------------------------------------------------------------
    @invariant()
    def the_books_hold_exactly_the_refunds_that_hold_money(self):
        for p in Payment.objects.all():
            held = sum(
                (r.amount for r in p.refunds.filter(status__in=Refund.COUNTED_STATUSES)),
                Decimal("0"),
            )
            # Never past the payment; exactly what is held, unless a refund Stripe has not answered
            # finds no room beside those Stripe reported (then it waits to be settled, unfreed).
            assert p.amount_refunded <= p.amount, p
            if held <= p.amount:
                assert p.amount_refunded == held, p
        freed = Refund.objects.filter(status=Refund.Status.FAILED, stripe_refund_id=None)
        self.declared_not_made.update(str(pk) for pk in freed.values_list("pk", flat=True))

    @invariant()
    def no_refund_is_asked_for_once_the_app_knows_of_a_chargeback(self):
        for dispute in Dispute.objects.exclude(status__startswith="warning_"):
            late = Refund.objects.filter(
                payment_id=dispute.payment_id,
                created_by__isnull=False,
                created_at__gt=dispute.created_at,
            )
            assert not late.exists(), (dispute, list(late))

    def teardown(self) -> None:
        try:
            self._settle()
            self._check_against_stripe()
        finally:
            self.sandbox.clear_faults()

    def _past_every_window(self) -> None:
        # A hung request still runs at Stripe once its hang is over: wait for that first.
        wait = self.last_hang + HANG + 0.2 - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        Refund.objects.filter(Refund.UNANSWERED).update(sent_at=timezone.now() - timedelta(hours=1))

    def _settle(self) -> None:
        self.sandbox.clear_faults()
        self._past_every_window()
        self.sandbox.settle_refunds()  # Stripe's later refund changes (card 5126), now
        # A day passes: Stripe forgets its idempotency keys (a 500 it stored under one no longer
        # answers a resend).
        self.sandbox.expire_idempotency_keys()
        for _ in range(3):
            if not Refund.objects.filter(Refund.UNANSWERED).exists():
                break
            with suppress(CommandError):
                call_command("settle_refunds", stdout=StringIO(), stderr=StringIO())
            self._past_every_window()
        self.sandbox.settle_refunds()  # and those of refunds the sweep just made
        call_command("reconcile_payments", stdout=StringIO(), stderr=StringIO())
        everything = self._events()
        self.rng.shuffle(everything)
        for evt in everything:
            assert deliver(self.hooks, evt).status_code == 200, evt["type"]

    def _events(self) -> list[dict[str, Any]]:
        found, after = [], None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if after:
                params["starting_after"] = after
            status, body, _ = self.sandbox.api("GET", "/v1/events", params)
            assert status == 200, body
            found.extend(body["data"])
            if not body["has_more"]:
                return list(reversed(found))
            after = body["data"][-1]["id"]

    def _check_against_stripe(self) -> None:
        assert not self.server_errors, self.server_errors
        assert not Refund.objects.filter(Refund.UNANSWERED).exists()
        made_for = assert_books_match_stripe(self.sandbox)
        # Each refund of ours is at Stripe at most once; a refund not made is never said made.
        assert all(n == 1 for n in made_for.values()), made_for
        for refund_id, status in self.answers:
            if 200 <= status < 300:
                assert str(refund_id) in made_for, (refund_id, status)
            if status == 502 and refund_id is not None:  # "not made: nothing was refunded"
                assert str(refund_id) not in made_for, (refund_id, status)
        # Money was freed only for refunds Stripe never made.
        assert not self.declared_not_made & set(made_for), self.declared_not_made & set(made_for)
        for (first_id, first_status), (again_id, again_status) in self.retries:
            if first_status == 503 and 200 <= again_status < 300:
                assert again_id == first_id, "a retry after a 503 made a second refund"


def _refund_id_in(error_body: dict[str, Any]) -> int | None:
    found = re.search(r"[Rr]efund #(\d+)", error_body.get("error", {}).get("message", ""))
    return int(found.group(1)) if found else None


CONTEXT: dict[str, Any] = {}


def test_money_stays_right_under_every_fault_and_retry(stripe_sandbox, settings, monkeypatch):
    settings.STRIPE_TIMEOUT_SECONDS = TIMEOUT
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth-token": "1000/minute", "payment-status": "100000/minute"},
    }
    # DRF's throttle reads its rates once, at import: the settings above do not reach it.
    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    )
    # The SDK's retry back-off, shortened so that a run takes seconds, not minutes.
    monkeypatch.setattr(stripe._http_client.HTTPClient, "INITIAL_DELAY", 0.02)
    monkeypatch.setattr(stripe._http_client.HTTPClient, "MAX_DELAY", 0.05)
    customer = factories.user("shopper")
    finance_user = factories.user("fiona", group="Finance")
    browser = Client()
    browser.force_login(finance_user)
    CONTEXT.update(
        sandbox=stripe_sandbox,
        customer=customer,
        shopper=factories.api_client(customer),
        finance_api=factories.api_client(finance_user),
        finance_b_api=factories.api_client(factories.user("gus", group="Finance")),
        browser=browser,
    )
    run_state_machine_as_test(MoneyMachine, settings=settings_for_run())


def settings_for_run() -> hypothesis_settings:
    """A bounded run by default (CI); `--hypothesis-profile=money-long` (tests/conftest.py) for
    many more examples and longer interleavings."""
    if hypothesis_settings.get_current_profile_name() == "money-long":
        base = hypothesis_settings.default
    else:
        base = hypothesis_settings(max_examples=25, stateful_step_count=20)
    return hypothesis_settings(
        base,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
