"""Contract tests: payments.stripe_client against the offline Stripe stand-in, over real HTTP.

Every flow the services use, each seed test card to the state Stripe documents, idempotent
retries, each injected fault mapped to its project exception, and signed webhook deliveries.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from payments import stripe_client
from payments.stripe_client import (
    AuthenticationFailed,
    CardDeclined,
    IdempotencyConflict,
    InvalidRequest,
    PaymentProviderError,
    ProviderUnavailable,
    RateLimited,
    WebhookSignatureInvalid,
)
from stripe_sandbox.webhooks import sign

METADATA = {"order_id": "41", "payment_id": "7"}


def create_pi(
    amount: str = "12.34",
    *,
    currency: str = "EUR",
    key: str = "payment-7-pi-1",
    customer_id: str | None = None,
    types: tuple[str, ...] = ("card",),
):
    return stripe_client.payment_intent_create(
        amount=Decimal(amount),
        currency=currency,
        customer_id=customer_id,
        payment_method_types=list(types),
        metadata=METADATA,
        idempotency_key=key,
        description="Order 41",
    )


def paid_pi(stripe_sandbox, card: str = "4242424242424242", key: str = "payment-7-pi-1"):
    pi = create_pi(key=key)
    status, body = stripe_sandbox.confirm_payment_intent(pi.id, card={"number": card})
    assert status in (200, 402), body
    return stripe_client.payment_intent_retrieve(pi.id)


@pytest.fixture
def no_retries(settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 0.5


# --- customers ------------------------------------------------------------------------------------
def test_it_creates_a_customer_linked_to_the_user(stripe_sandbox):
    customer = stripe_client.customer_create(
        user_id=5, email="ada@example.com", name="Ada", idempotency_key="customer-user-5"
    )

    assert customer.id.startswith("cus_")
    assert (customer.email, customer.name) == ("ada@example.com", "Ada")
    assert customer.metadata["user_id"] == "5"
    [request] = stripe_sandbox.requests_log(method="POST", path="/v1/customers")
    assert request["idempotency_key"] == "customer-user-5"
    assert request["key_type"] == "secret"
    assert request["params"]["metadata"] == {"user_id": "5"}


def test_a_retried_customer_create_returns_the_first_customer(stripe_sandbox):
    first = stripe_client.customer_create(
        user_id=5, email="ada@example.com", name="Ada", idempotency_key="customer-user-5"
    )
    again = stripe_client.customer_create(
        user_id=5, email="ada@example.com", name="Ada", idempotency_key="customer-user-5"
    )

    assert again.id == first.id
    assert [r["replayed"] for r in stripe_sandbox.requests_log(method="POST")] == [False, True]
    _, listing, _ = stripe_sandbox.api("GET", "/v1/customers")
    assert [c["id"] for c in listing["data"]] == [first.id]


# --- PaymentIntents -------------------------------------------------------------------------------
def test_it_creates_a_payment_intent_in_minor_units_with_metadata(stripe_sandbox):
    pi = create_pi("12.34")

    assert pi.id.startswith("pi_")
    assert (pi.amount, pi.currency, pi.status) == (1234, "eur", "requires_payment_method")
    assert pi.client_secret.startswith(f"{pi.id}_secret_")
    assert pi.metadata.to_dict() == METADATA
    assert pi.payment_method_types == ["card"]
    [request] = stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    assert request["params"]["amount"] == "1234"
    assert request["params"]["allowed_payment_method_types"] == ["card"]
    assert request["idempotency_key"] == "payment-7-pi-1"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("1000", "JPY", 1000), ("99.99", "EUR", 9999), ("12.340", "KWD", 12340)],
)
def test_amounts_cross_in_the_currencys_minor_units(stripe_sandbox, amount, currency, minor):
    pi = create_pi(amount, currency=currency)

    assert (pi.amount, pi.currency) == (minor, currency.lower())


def test_it_refuses_an_amount_below_stripes_minimum(stripe_sandbox):
    with pytest.raises(InvalidRequest) as excinfo:
        create_pi("0.10")

    assert excinfo.value.code == "amount_too_small"
    assert excinfo.value.param == "amount"


def test_it_creates_a_payment_intent_for_a_customer(stripe_sandbox):
    customer = stripe_client.customer_create(
        user_id=5, email="ada@example.com", name="Ada", idempotency_key="customer-user-5"
    )

    pi = create_pi(customer_id=customer.id)

    assert pi.customer == customer.id


def test_4242_succeeds_with_the_charge_expanded(stripe_sandbox):
    pi = paid_pi(stripe_sandbox, "4242424242424242")

    assert (pi.status, pi.amount_received) == ("succeeded", 1234)
    charge = pi.latest_charge
    assert charge.id.startswith("ch_")
    assert (charge.status, charge.paid, charge.amount) == ("succeeded", True, 1234)
    card = charge.payment_method_details.card
    assert (card.brand, card.last4) == ("visa", "4242")
    assert charge.metadata.to_dict() == METADATA


@pytest.mark.parametrize(
    ("number", "decline_code", "message"),
    [
        ("4000000000000002", "generic_decline", "Your card was declined."),
        ("4000000000009995", "insufficient_funds", "Your card has insufficient funds."),
    ],
)
def test_declined_cards_leave_the_payment_awaiting_a_new_method(
    stripe_sandbox, number, decline_code, message
):
    pi = paid_pi(stripe_sandbox, number)

    assert pi.status == "requires_payment_method"
    error = pi.last_payment_error
    assert (error.type, error.code, error.decline_code) == (
        "card_error",
        "card_declined",
        decline_code,
    )
    assert error.message == message
    assert pi.latest_charge.status == "failed"
    assert pi.latest_charge.outcome.reason == decline_code


def test_3155_requires_action_until_3ds_is_completed(stripe_sandbox):
    pi = paid_pi(stripe_sandbox, "4000002500003155")
    assert pi.status == "requires_action"
    assert pi.next_action.type == "use_stripe_sdk"
    assert pi.latest_charge is None

    stripe_sandbox.complete_3ds(pi.id)

    pi = stripe_client.payment_intent_retrieve(pi.id)
    assert pi.status == "succeeded"
    assert pi.latest_charge.payment_method_details.card.three_d_secure.result == "authenticated"


def test_3155_with_failed_3ds_can_be_paid_with_another_card(stripe_sandbox):
    pi = paid_pi(stripe_sandbox, "4000002500003155")

    stripe_sandbox.fail_3ds(pi.id)

    pi = stripe_client.payment_intent_retrieve(pi.id)
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.code == "payment_intent_authentication_failure"
    status, body = stripe_sandbox.confirm_payment_intent(pi.id, "pm_card_visa")
    assert (status, body["status"]) == (200, "succeeded")


def test_it_cancels_an_open_payment_intent_once(stripe_sandbox):
    pi = create_pi()

    canceled = stripe_client.payment_intent_cancel(
        pi.id, idempotency_key="payment-7-pi-1-cancel", cancellation_reason="abandoned"
    )

    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "abandoned")
    with pytest.raises(InvalidRequest) as excinfo:
        stripe_client.payment_intent_cancel(pi.id, idempotency_key="payment-7-pi-1-cancel-2")
    assert excinfo.value.code == "payment_intent_unexpected_state"


def test_a_succeeded_payment_cannot_be_canceled(stripe_sandbox):
    pi = paid_pi(stripe_sandbox)

    with pytest.raises(InvalidRequest, match="status of succeeded"):
        stripe_client.payment_intent_cancel(pi.id, idempotency_key="payment-7-pi-1-cancel")


def test_retrieving_an_unknown_payment_intent_is_an_invalid_request(stripe_sandbox):
    with pytest.raises(InvalidRequest) as excinfo:
        stripe_client.payment_intent_retrieve("pi_doesnotexist")

    assert (excinfo.value.code, excinfo.value.param) == ("resource_missing", "intent")
    assert excinfo.value.http_status == 404


def test_bank_transfer_waits_for_the_funds_then_succeeds(stripe_sandbox):
    customer = stripe_client.customer_create(
        user_id=5, email="ada@example.com", name="Ada", idempotency_key="customer-user-5"
    )
    pi = stripe_client.payment_intent_create(
        amount=Decimal("12.34"),
        currency="EUR",
        customer_id=customer.id,
        payment_method_types=["customer_balance"],
        metadata=METADATA,
        idempotency_key="payment-7-pi-1",
        bank_transfer=("eu_bank_transfer", "NL"),
    )
    assert pi.payment_method_types == ["customer_balance"]
    status, body, _ = stripe_sandbox.api(
        "POST",
        f"/v1/payment_intents/{pi.id}/confirm",
        {"payment_method_data": {"type": "customer_balance"}},
    )
    assert (status, body["status"]) == (200, "requires_action")
    instructions = body["next_action"]["display_bank_transfer_instructions"]
    assert instructions["financial_addresses"][0]["iban"]["country"] == "NL"

    stripe_sandbox.fund_cash_balance(customer.id, 1234, "eur", instructions["reference"])

    assert stripe_client.payment_intent_retrieve(pi.id).status == "succeeded"
    types = [e.type for e in stripe_client.event_list(created_gte=0)]
    assert "payment_intent.requires_action" in types
    assert "payment_intent.succeeded" in types


def test_allowed_types_that_cannot_work_are_dropped_as_stripe_does(stripe_sandbox):
    pi = create_pi(types=("card", "customer_balance"))  # no customer: no bank transfer

    assert pi.payment_method_types == ["card"]
    assert pi.allowed_payment_method_types == ["card", "customer_balance"]


def test_it_lists_payment_intents_across_pages(stripe_sandbox):
    since = int(time.time())
    created = {create_pi(key=f"payment-{n}-pi-1").id for n in range(105)}

    listed = [pi.id for pi in stripe_client.payment_intent_list(created_gte=since)]

    assert set(listed) == created and len(listed) == 105
    pages = stripe_sandbox.requests_log(method="GET", path="/v1/payment_intents")
    assert len(pages) == 2
    assert pages[1]["params"]["starting_after"] == listed[99]


# --- idempotency and faults -----------------------------------------------------------------------
def test_a_retry_with_the_same_key_returns_the_same_payment_intent(stripe_sandbox):
    first = create_pi(key="payment-7-pi-1")
    again = create_pi(key="payment-7-pi-1")

    assert again.id == first.id
    _, listing, _ = stripe_sandbox.api("GET", "/v1/payment_intents")
    assert [pi["id"] for pi in listing["data"]] == [first.id]


def test_the_same_key_with_other_parameters_is_refused(stripe_sandbox):
    create_pi("12.34", key="payment-7-pi-1")

    with pytest.raises(IdempotencyConflict) as excinfo:
        create_pi("99.00", key="payment-7-pi-1")

    assert isinstance(excinfo.value, InvalidRequest)
    assert excinfo.value.http_status == 400


def test_a_500_is_provider_unavailable(stripe_sandbox, no_retries):
    stripe_sandbox.inject_fault("POST", "/v1/payment_intents", "500")

    with pytest.raises(ProviderUnavailable) as excinfo:
        create_pi()

    assert excinfo.value.user_message.startswith("The payment provider is unavailable")
    assert excinfo.value.http_status == 500


def test_a_single_500_is_retried_with_the_same_idempotency_key(stripe_sandbox, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 1
    stripe_sandbox.inject_fault("POST", "/v1/payment_intents", "500")

    pi = create_pi(key="payment-7-pi-1")

    attempts = stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    assert [a["status"] for a in attempts] == [500, 200]
    assert {a["idempotency_key"] for a in attempts} == {"payment-7-pi-1"}
    assert pi.status == "requires_payment_method"


def test_a_429_is_rate_limited(stripe_sandbox, no_retries):
    stripe_sandbox.inject_fault("GET", "/v1/payment_intents/*", "429")
    pi_id = create_pi().id

    with pytest.raises(RateLimited) as excinfo:
        stripe_client.payment_intent_retrieve(pi_id)

    assert excinfo.value.code == "rate_limit"
    assert "busy" in excinfo.value.user_message


def test_a_hang_past_the_timeout_is_provider_unavailable_and_the_retry_is_safe(
    stripe_sandbox, no_retries
):
    stripe_sandbox.inject_fault("POST", "/v1/payment_intents", "hang", seconds=1.0)

    with pytest.raises(ProviderUnavailable):
        create_pi(key="payment-7-pi-1")
    time.sleep(1.0)  # the slow request still lands, as it can with Stripe
    retried = create_pi(key="payment-7-pi-1")

    _, listing, _ = stripe_sandbox.api("GET", "/v1/payment_intents")
    assert [pi["id"] for pi in listing["data"]] == [retried.id]


def test_a_wrong_secret_key_is_authentication_failed(stripe_sandbox, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"

    with pytest.raises(AuthenticationFailed) as excinfo:
        create_pi()

    assert excinfo.value.http_status == 401
    assert "sk_test_wrong" not in excinfo.value.user_message


def test_a_missing_secret_key_is_authentication_failed(stripe_sandbox, settings):
    settings.STRIPE_SECRET_KEY = ""

    with pytest.raises(AuthenticationFailed):
        create_pi()


def test_the_client_follows_settings_changes(stripe_sandbox, settings, no_retries):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # discard port: nothing listens

    with pytest.raises(ProviderUnavailable):
        create_pi()

    settings.STRIPE_API_BASE = stripe_sandbox.base_url
    assert create_pi().status == "requires_payment_method"


def test_every_project_exception_is_a_payment_provider_error():
    for exc in (
        CardDeclined,
        InvalidRequest,
        IdempotencyConflict,
        AuthenticationFailed,
        RateLimited,
        ProviderUnavailable,
        WebhookSignatureInvalid,
    ):
        assert issubclass(exc, PaymentProviderError)
    assert CardDeclined("x", decline_code="insufficient_funds").decline_code == "insufficient_funds"


def test_writes_without_an_idempotency_key_are_refused(stripe_sandbox):
    with pytest.raises(ValueError, match="idempotency key"):
        create_pi(key="")
    assert stripe_sandbox.requests_log() == []


# --- refunds --------------------------------------------------------------------------------------
def refund(pi_id: str, amount: str | None, key: str, reason="requested_by_customer"):
    return stripe_client.refund_create(
        payment_intent_id=pi_id,
        amount=None if amount is None else Decimal(amount),
        currency="EUR",
        reason=reason,
        metadata={"refund_id": key},
        idempotency_key=key,
    )


def test_a_partial_refund_then_the_rest(stripe_sandbox):
    pi = paid_pi(stripe_sandbox)

    first = refund(pi.id, "2.34", "refund-1")
    rest = refund(pi.id, None, "refund-2")

    assert (first.amount, first.status, first.reason) == (234, "succeeded", "requested_by_customer")
    assert first.id.startswith("re_") and first.charge == pi.latest_charge.id
    assert rest.amount == 1000
    listed = stripe_client.refund_list(payment_intent_id=pi.id)
    assert [r.id for r in listed] == [rest.id, first.id]
    charge = stripe_client.payment_intent_retrieve(pi.id).latest_charge
    assert (charge.amount_refunded, charge.refunded) == (1234, True)


def test_a_refund_above_what_remains_is_refused(stripe_sandbox):
    pi = paid_pi(stripe_sandbox)
    refund(pi.id, "10.00", "refund-1")

    with pytest.raises(InvalidRequest) as excinfo:
        refund(pi.id, "5.00", "refund-2")

    assert (excinfo.value.code, excinfo.value.param) == ("amount_too_large", "amount")
    assert "unrefunded amount on charge (2.34 eur)" in str(excinfo.value)
    assert len(stripe_client.refund_list(payment_intent_id=pi.id)) == 1


def test_a_fully_refunded_payment_cannot_be_refunded_again(stripe_sandbox):
    pi = paid_pi(stripe_sandbox)
    refund(pi.id, None, "refund-1")

    with pytest.raises(InvalidRequest) as excinfo:
        refund(pi.id, None, "refund-2")

    assert excinfo.value.code == "charge_already_refunded"


@pytest.mark.parametrize("card", ["4000000000000002", "4000002500003155"])
def test_an_unpaid_payment_cannot_be_refunded(stripe_sandbox, card):
    pi = paid_pi(stripe_sandbox, card)

    with pytest.raises(InvalidRequest) as excinfo:
        refund(pi.id, None, "refund-1")

    assert excinfo.value.code == "charge_not_refundable"


def test_a_refund_reason_outside_stripes_list_is_refused(stripe_sandbox):
    pi = paid_pi(stripe_sandbox)

    with pytest.raises(InvalidRequest) as excinfo:
        refund(pi.id, None, "refund-1", reason="other")

    assert excinfo.value.param == "reason"


def test_a_retried_refund_is_not_refunded_twice(stripe_sandbox):
    pi = paid_pi(stripe_sandbox)

    first = refund(pi.id, "2.00", "refund-1")
    again = refund(pi.id, "2.00", "refund-1")

    assert again.id == first.id
    assert len(stripe_client.refund_list(payment_intent_id=pi.id)) == 1


def test_a_5126_refund_fails_later(stripe_sandbox):
    pi = paid_pi(stripe_sandbox, "4000000000005126")
    created = refund(pi.id, None, "refund-1")
    assert created.status == "succeeded"

    stripe_sandbox.settle_refunds()

    [settled] = stripe_client.refund_list(payment_intent_id=pi.id)
    assert (settled.status, settled.failure_reason) == ("failed", "expired_or_canceled_card")
    assert stripe_client.payment_intent_retrieve(pi.id).latest_charge.amount_refunded == 0
    types = [
        e.type for e in stripe_client.event_list(created_gte=0, types=["charge.refund.updated"])
    ]
    assert types == ["charge.refund.updated"]


# --- events ---------------------------------------------------------------------------------------
def test_events_are_listed_since_a_time_and_by_type(stripe_sandbox):
    since = int(time.time())
    pi = paid_pi(stripe_sandbox)
    refund(pi.id, None, "refund-1")

    every = [e.type for e in stripe_client.event_list(created_gte=since)]
    succeeded = list(
        stripe_client.event_list(created_gte=since, types=["payment_intent.succeeded"])
    )

    assert {
        "payment_intent.created",
        "payment_intent.succeeded",
        "charge.succeeded",
        "charge.refunded",
        "refund.created",
    } <= set(every)
    [event] = succeeded
    assert event.id.startswith("evt_")
    assert event.data.object.id == pi.id
    assert list(stripe_client.event_list(created_gte=since + 3600)) == []


# --- webhooks -------------------------------------------------------------------------------------
class Receiver:
    """A tiny webhook endpoint: records each POST; answers 500 to the first `failures` of them."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.failures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, self.headers["Stripe-Signature"]))
                failing = len(receiver.received) <= receiver.failures
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/payments/webhook/stripe/"

    def events(self) -> list[dict]:
        return [json.loads(body) for body, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def test_signed_webhooks_reach_the_endpoint_and_verify(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url)

    pi = paid_pi(stripe_sandbox)
    stripe_sandbox.wait_for_deliveries()

    events = [stripe_client.webhook_event_verify(body, sig) for body, sig in receiver.received]
    assert {e["type"] for e in events} >= {"payment_intent.succeeded", "charge.succeeded"}
    [succeeded] = [e for e in events if e["type"] == "payment_intent.succeeded"]
    assert succeeded["data"]["object"]["id"] == pi.id
    assert succeeded["data"]["object"]["metadata"]["payment_id"] == "7"


def test_failed_deliveries_are_retried(stripe_sandbox, receiver):
    receiver.failures = 2
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["payment_intent.created"])

    create_pi()
    [delivery] = stripe_sandbox.wait_for_deliveries()

    assert delivery["status"] == "succeeded"
    assert [h["status"] for h in delivery["history"]] == [500, 500, 200]
    bodies = {body for body, _ in receiver.received}
    assert len(bodies) == 1  # the same event each time, re-signed per attempt
    _, event, _ = stripe_sandbox.api("GET", f"/v1/events/{delivery['event']}")
    assert event["pending_webhooks"] == 0


def test_paused_deliveries_wait_for_resume(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["payment_intent.created"])
    stripe_sandbox.pause_webhooks()

    create_pi()
    time.sleep(0.3)
    assert receiver.received == []
    stripe_sandbox.resume_webhooks()

    stripe_sandbox.wait_for_deliveries()
    assert [e["type"] for e in receiver.events()] == ["payment_intent.created"]


@pytest.fixture
def delivered(stripe_sandbox, receiver) -> tuple[bytes, str]:
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["payment_intent.created"])
    create_pi()
    stripe_sandbox.wait_for_deliveries()
    [(body, signature)] = receiver.received
    return body, signature


def test_a_tampered_body_is_rejected(delivered):
    body, signature = delivered
    tampered = body.replace(b'"amount": 1234', b'"amount": 1')
    assert tampered != body

    with pytest.raises(WebhookSignatureInvalid):
        stripe_client.webhook_event_verify(tampered, signature)


def test_a_signature_from_another_secret_is_rejected(delivered, settings):
    body, signature = delivered
    settings.STRIPE_WEBHOOK_SECRETS = ["whsec_someone_else"]

    with pytest.raises(WebhookSignatureInvalid):
        stripe_client.webhook_event_verify(body, signature)


def test_an_expired_signature_is_rejected(delivered, stripe_sandbox):
    body, _ = delivered
    old = sign(body.decode(), stripe_sandbox.webhook_secret, timestamp=int(time.time()) - 301)

    with pytest.raises(WebhookSignatureInvalid, match="tolerance"):
        stripe_client.webhook_event_verify(body, old)


def test_a_garbled_header_is_rejected(delivered):
    body, _ = delivered

    with pytest.raises(WebhookSignatureInvalid):
        stripe_client.webhook_event_verify(body, "garbage")


def test_no_configured_secret_rejects_everything(delivered, settings):
    settings.STRIPE_WEBHOOK_SECRETS = []

    with pytest.raises(WebhookSignatureInvalid):
        stripe_client.webhook_event_verify(*delivered)


def test_during_a_rotation_both_secrets_verify(stripe_sandbox, receiver, settings):
    old, new = stripe_sandbox.webhook_secret, "whsec_rotated_new_secret"
    settings.STRIPE_WEBHOOK_SECRETS = [new, old]
    stripe_sandbox.add_webhook_endpoint(
        receiver.url, old, enabled_events=["payment_intent.created"]
    )
    stripe_sandbox.add_webhook_endpoint(
        receiver.url, new, enabled_events=["payment_intent.created"]
    )

    create_pi()
    stripe_sandbox.wait_for_deliveries()

    assert len(receiver.received) == 2
    for body, signature in receiver.received:
        assert (
            stripe_client.webhook_event_verify(body, signature)["type"] == "payment_intent.created"
        )
