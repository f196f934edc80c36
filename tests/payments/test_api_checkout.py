"""The checkout JSON API, end to end through the Stripe stand-in over HTTP."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from payments.models import Payment
from shop.models import CustomUser, Order
from tests import factories

pytestmark = pytest.mark.django_db

CREATE = "/api/payments/payments/create_payment_intent/"


@pytest.fixture
def alice() -> CustomUser:
    return factories.user("alice")


@pytest.fixture
def api(alice) -> APIClient:
    return factories.api_client(alice)


def pay(stripe_sandbox, api, order, card: str | None = None, pm: str = "pm_card_visa"):
    created = api.post(CREATE, {"order_id": order.pk, "payment_method": "card"}, format="json")
    assert created.status_code == 200, created.json()
    body = created.json()
    stripe_sandbox.confirm_payment_intent(
        body["payment_intent_id"], pm, card={"number": card} if card else None
    )
    return body


def test_it_creates_a_payment_intent_exactly_as_the_readme_documents(stripe_sandbox, api, alice):
    order = factories.order(alice, total="99.99")
    response = api.post(CREATE, {"order_id": order.pk, "payment_method": "card"}, format="json")
    assert response.status_code == 200
    body = response.json()
    payment = Payment.objects.get()
    assert body == {
        "payment_id": payment.pk,
        "client_secret": body["client_secret"],
        "payment_intent_id": payment.stripe_payment_intent_id,
        "amount": "99.99",
        "currency": "EUR",
        "status": "pending",
    }
    assert body["client_secret"].startswith(f"{payment.stripe_payment_intent_id}_secret_")
    # What Stripe was asked: the order's amount in cents, with an idempotency key from our rows.
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    assert call["params"]["amount"] == "9999"
    assert call["params"]["currency"] == "eur"
    assert call["params"]["metadata"] == {"order_id": str(order.pk), "user_id": str(alice.pk)}
    assert call["idempotency_key"] == f"order-{order.pk}-pi-1"
    alice.refresh_from_db()
    assert payment.stripe_customer_id == alice.stripe_customer_id != ""


@pytest.mark.parametrize(
    ("total", "currency", "minor", "shown"),
    [("1000", "JPY", "1000", "1000"), ("12.340", "KWD", "12340", "12.340")],
)
def test_amounts_come_from_the_order_in_the_currency_minor_units(
    stripe_sandbox, api, alice, total, currency, minor, shown
):
    order = factories.order(alice, total=total, currency=currency)
    body = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    assert (body["amount"], body["currency"]) == (shown, currency)
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    assert call["params"]["amount"] == minor


def test_the_client_cannot_choose_the_amount(stripe_sandbox, api, alice):
    order = factories.order(alice, total="99.99")
    response = api.post(CREATE, {"order_id": order.pk, "amount": "0.01"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"amount": ["Unknown field."]}
    assert not Payment.objects.exists()


def test_asking_twice_returns_the_same_payment_intent(stripe_sandbox, api, alice):
    order = factories.order(alice)
    first = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    second = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    assert first == second
    assert Payment.objects.count() == 1
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")) == 1
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/customers")) == 1


def test_the_stripe_customer_is_created_once_and_reused(stripe_sandbox, api, alice):
    api.post(CREATE, {"order_id": factories.order(alice).pk}, format="json")
    api.post(CREATE, {"order_id": factories.order(alice).pk}, format="json")
    customers = {p.stripe_customer_id for p in Payment.objects.all()}
    assert len(customers) == 1
    assert len(stripe_sandbox.requests_log(method="POST", path="/v1/customers")) == 1


def test_another_users_order_is_not_found(stripe_sandbox, api):
    bobs = factories.order(factories.user("bob"))
    response = api.post(CREATE, {"order_id": bobs.pk}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not stripe_sandbox.requests_log(method="POST")


def test_a_paid_order_is_a_conflict(stripe_sandbox, api, alice):
    order = factories.order(alice)
    pay(stripe_sandbox, api, order)
    response = api.post(CREATE, {"order_id": order.pk}, format="json")
    assert response.status_code == 409
    assert "already paid" in response.json()["error"]["message"]


def test_a_cancelled_payment_intent_is_replaced_by_a_fresh_one(stripe_sandbox, api, alice):
    order = factories.order(alice)
    first = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    stripe_sandbox.api("POST", f"/v1/payment_intents/{first['payment_intent_id']}/cancel")
    second = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    assert second["payment_intent_id"] != first["payment_intent_id"]
    # Each attempt is its own payment: the cancelled one keeps its PaymentIntent and its state.
    assert second["payment_id"] != first["payment_id"]
    assert second["status"] == "pending"
    old, new = (
        Payment.objects.get(pk=first["payment_id"]),
        Payment.objects.get(pk=second["payment_id"]),
    )
    assert (old.stripe_payment_intent_id, old.status, old.intent_attempt) == (
        first["payment_intent_id"],
        "cancelled",
        1,
    )
    assert (new.stripe_payment_intent_id, new.intent_attempt) == (second["payment_intent_id"], 2)
    order.refresh_from_db()
    assert order.current_payment_id == new.pk
    keys = [
        c["idempotency_key"]
        for c in stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    ]
    assert keys == [f"order-{order.pk}-pi-1", f"order-{order.pk}-pi-2"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payment_method": "card"}, "order_id"),
        ({"order_id": "abc"}, "order_id"),
        ({"order_id": 1.5}, "order_id"),
        ({"order_id": 1, "payment_method": "cash"}, "payment_method"),
        ({"order_id": 1, "coupon": "FREE"}, "coupon"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(stripe_sandbox, api, body, field):
    response = api.post(CREATE, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"]


def test_malformed_json_is_a_400(api):
    response = api.post(CREATE, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "Malformed JSON" in response.json()["error"]["message"]


@pytest.mark.parametrize("header", [None, "Token not-a-real-token"])
def test_a_missing_or_bad_token_is_a_401(header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.post(CREATE, {"order_id": 1}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401


def test_stripe_down_is_a_503_and_nothing_is_written(stripe_sandbox, api, alice, settings):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    order = factories.order(alice)
    stripe_sandbox.inject_fault("POST", "/v1/payment_intents", kind="500", count=1)
    response = api.post(CREATE, {"order_id": order.pk}, format="json")
    assert response.status_code == 503
    assert "unavailable" in response.json()["error"]["message"]
    assert not Payment.objects.exists()
    # The retry is safe and succeeds.
    retry = api.post(CREATE, {"order_id": order.pk}, format="json")
    assert retry.status_code == 200
    assert Payment.objects.count() == 1


def test_a_timeout_is_a_503_and_the_retry_gets_the_same_payment_intent(
    stripe_sandbox, api, alice, settings
):
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.STRIPE_TIMEOUT_SECONDS = 0.5
    order = factories.order(alice)
    stripe_sandbox.inject_fault("POST", "/v1/payment_intents", kind="hang", count=1)
    assert api.post(CREATE, {"order_id": order.pk}, format="json").status_code == 503
    # Retried while Stripe still runs the first: in progress (Stripe's 409), try again shortly.
    busy = api.post(CREATE, {"order_id": order.pk}, format="json")
    assert busy.status_code == 503
    assert "already being processed" in busy.json()["error"]["message"]
    deadline = time.monotonic() + 5
    while not stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    retry = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    pis = stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"]
    assert [pi["id"] for pi in pis] == [retry["payment_intent_id"]]


@pytest.mark.parametrize(
    ("card", "status", "failure_code"),
    [
        ("4242424242424242", "succeeded", ""),
        ("4000000000000002", "failed", "generic_decline"),
        ("4000000000009995", "failed", "insufficient_funds"),
        ("4000002500003155", "pending", ""),
    ],
)
def test_each_seed_test_card_reaches_its_status(
    stripe_sandbox, api, alice, card, status, failure_code
):
    order = factories.order(alice)
    body = pay(stripe_sandbox, api, order, card=card)
    confirmed = api.get(f"/api/payments/payments/{body['payment_id']}/confirm/").json()
    assert confirmed["status"] == status
    assert confirmed["failure_code"] == failure_code
    order.refresh_from_db()
    assert order.status == ("paid" if status == "succeeded" else "pending")
    if status == "succeeded":
        assert (confirmed["card_brand"], confirmed["card_last4"]) == ("visa", "4242")


def test_three_d_secure_completes_or_fails(stripe_sandbox, api, alice, settings):
    settings.PAYMENTS_STATUS_FRESH_SECONDS = 0  # each poll finds the last word stale
    done = pay(stripe_sandbox, api, factories.order(alice), card="4000002500003155")
    stripe_sandbox.complete_3ds(done["payment_intent_id"])
    url = f"/api/payments/payments/{done['payment_id']}/status/"
    assert api.get(url).json()["status"] == "succeeded"

    failed = pay(stripe_sandbox, api, factories.order(alice), card="4000002500003155")
    stripe_sandbox.fail_3ds(failed["payment_intent_id"])
    url = f"/api/payments/payments/{failed['payment_id']}/status/"
    assert api.get(url).json() == {
        "payment_id": failed["payment_id"],
        "payment_intent_id": failed["payment_intent_id"],
        "status": "failed",
    }


def test_a_declined_payment_can_be_paid_with_another_card(stripe_sandbox, api, alice, settings):
    settings.PAYMENTS_STATUS_FRESH_SECONDS = 0  # each poll finds the last word stale
    order = factories.order(alice)
    body = pay(stripe_sandbox, api, order, card="4000000000000002")
    assert api.get(f"/api/payments/payments/{body['payment_id']}/status/").json()["status"] == (
        "failed"
    )
    again = api.post(CREATE, {"order_id": order.pk}, format="json").json()
    assert again["payment_intent_id"] == body["payment_intent_id"]
    stripe_sandbox.confirm_payment_intent(again["payment_intent_id"], "pm_card_visa")
    assert api.get(f"/api/payments/payments/{body['payment_id']}/status/").json()["status"] == (
        "succeeded"
    )


def test_a_customer_sees_only_their_own_payments(stripe_sandbox, api, alice):
    mine = factories.payment(factories.order(alice))
    theirs = factories.payment(factories.order(factories.user("bob")))
    listed = api.get("/api/payments/payments/").json()
    assert [p["id"] for p in listed["results"]] == [mine.pk]
    assert api.get(f"/api/payments/payments/{theirs.pk}/").status_code == 404
    assert api.get(f"/api/payments/payments/{theirs.pk}/confirm/").status_code == 404
    assert api.get(f"/api/payments/payments/{theirs.pk}/status/").status_code == 404


def test_the_list_filters_by_status_and_date(api, alice):
    ok = factories.payment(factories.order(alice), status="succeeded")
    factories.payment(factories.order(alice), status="failed")
    listed = api.get("/api/payments/payments/", {"status": "succeeded"}).json()
    assert [p["id"] for p in listed["results"]] == [ok.pk]
    assert api.get("/api/payments/payments/", {"status": "bogus"}).status_code == 400
    future = api.get("/api/payments/payments/", {"created_after": "2999-01-01T00:00:00Z"})
    assert future.json()["results"] == []
    # Found by fuzzing: offsets PostgreSQL refuses are a 400, not a database error.
    odd = api.get("/api/payments/payments/", {"created_before": "2642-03-04T08:46:57+18:59"})
    assert odd.status_code == 200
    assert (
        api.get(
            "/api/payments/payments/", {"created_before": "0001-01-01T00:00:00+05:00"}
        ).status_code
        == 400
    )


def test_payment_detail_shows_exact_amounts(api, alice):
    p = factories.payment(
        factories.order(alice, total="12.340", currency="KWD"),
        status="partially_refunded",
        amount_refunded=Decimal("2.000"),
    )
    body = api.get(f"/api/payments/payments/{p.pk}/").json()
    assert (body["amount"], body["amount_refunded"], body["amount_refundable"]) == (
        "12.340",
        "2.000",
        "10.340",
    )


def test_anonymous_callers_see_nothing():
    client = APIClient()
    assert client.get("/api/payments/payments/").status_code == 401
    assert client.get("/api/payments/refunds/").status_code == 401


def test_config_gives_the_publishable_key(stripe_sandbox, api):
    body = api.get("/api/payments/payments/config/").json()
    assert body == {
        "publishable_key": "pk_test_sandbox",
        "default_currency": "EUR",
        "stripe_js_url": stripe_sandbox.js_url,
    }


def test_a_token_is_issued_for_a_username_and_password(alice):
    client = APIClient()
    response = client.post(
        "/api/auth/token/", {"username": "alice", "password": "pw-for-tests"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=alice).key
    bad = client.post("/api/auth/token/", {"username": "alice", "password": "x"}, format="json")
    assert bad.status_code == 400
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "stripe_types"), [("wallet", ["card"]), ("bank_transfer", ["customer_balance"])]
)
def test_each_payment_method_is_asked_of_stripe(stripe_sandbox, api, alice, method, stripe_types):
    order = factories.order(alice)
    response = api.post(CREATE, {"order_id": order.pk, "payment_method": method}, format="json")
    assert response.status_code == 200, response.json()
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    assert call["params"]["allowed_payment_method_types"] == stripe_types
    assert Payment.objects.get().payment_method == method


@pytest.mark.parametrize(
    ("account", "currency", "total", "options"),
    [
        (
            "NL",
            "EUR",
            "80.00",
            {"type": "eu_bank_transfer", "eu_bank_transfer": {"country": "NL"}},
        ),
        ("GB", "GBP", "80.00", {"type": "gb_bank_transfer"}),
        ("JP", "JPY", "8000", {"type": "jp_bank_transfer"}),
    ],
)
def test_a_bank_transfer_tells_stripe_which_transfer(
    stripe_sandbox, api, alice, account, currency, total, options
):
    stripe_sandbox.set_account_country(account)  # bank transfers in the account's currency
    order = factories.order(alice, total=total, currency=currency)
    response = api.post(
        CREATE, {"order_id": order.pk, "payment_method": "bank_transfer"}, format="json"
    )
    assert response.status_code == 200, response.json()
    (call,) = stripe_sandbox.requests_log(method="POST", path="/v1/payment_intents")
    assert call["params"]["payment_method_options"] == {
        "customer_balance": {"funding_type": "bank_transfer", "bank_transfer": options}
    }


def test_a_bank_transfer_in_a_currency_without_one_is_a_conflict(stripe_sandbox, api, alice):
    order = factories.order(alice, total="12.340", currency="KWD")
    response = api.post(
        CREATE, {"order_id": order.pk, "payment_method": "bank_transfer"}, format="json"
    )
    assert response.status_code == 409
    assert "Bank transfers are not available in KWD" in response.json()["error"]["message"]
    assert not stripe_sandbox.requests_log(method="POST")


def test_a_bank_transfer_is_pending_until_all_the_money_has_arrived(
    stripe_sandbox, api, alice, client, settings
):
    from tests.payments.webhook_helpers import SECRET, deliver, sandbox_events

    settings.STRIPE_WEBHOOK_SECRETS = [SECRET]
    order = factories.order(alice, total="80.00")
    body = api.post(
        CREATE, {"order_id": order.pk, "payment_method": "bank_transfer"}, format="json"
    ).json()
    pi = body["payment_intent_id"]
    # The browser confirms (Stripe.js's confirmCustomerBalancePayment) and shows the instructions.
    status, confirmed, _ = stripe_sandbox.api(
        "POST",
        f"/v1/payment_intents/{pi}/confirm",
        {
            "payment_method_data": {"type": "customer_balance"},
            "client_secret": body["client_secret"],
        },
        key=stripe_sandbox.publishable_key,
    )
    assert (status, confirmed["status"]) == (200, "requires_action")
    reference = confirmed["next_action"]["display_bank_transfer_instructions"]["reference"]
    customer = Payment.objects.get().stripe_customer_id
    url = f"/api/payments/payments/{body['payment_id']}/"

    def hear() -> None:
        for event in sandbox_events(stripe_sandbox, "payment_intent.requires_action") + (
            sandbox_events(stripe_sandbox, "payment_intent.partially_funded")
            + sandbox_events(stripe_sandbox, "payment_intent.succeeded")
        ):
            assert deliver(client, event).status_code == 200

    hear()
    assert (api.get(url).json()["status"], api.get(url).json()["amount_remaining"]) == (
        "pending",
        "80.00",
    )
    stripe_sandbox.fund_cash_balance(customer, 3000, "eur", reference)  # EUR 30 arrives
    hear()
    assert (api.get(url).json()["status"], api.get(url).json()["amount_remaining"]) == (
        "pending",
        "50.00",
    )
    stripe_sandbox.fund_cash_balance(customer, 5000, "eur", reference)  # the rest
    hear()
    paid = api.get(url).json()
    assert (paid["status"], paid["amount_remaining"]) == ("succeeded", None)
    order.refresh_from_db()
    assert order.status == "paid"


def test_switching_the_method_of_an_open_checkout_is_a_conflict(stripe_sandbox, api, alice):
    order = factories.order(alice)
    api.post(CREATE, {"order_id": order.pk, "payment_method": "card"}, format="json")
    response = api.post(
        CREATE, {"order_id": order.pk, "payment_method": "bank_transfer"}, format="json"
    )
    assert response.status_code == 409
    assert "card checkout is already open" in response.json()["error"]["message"]


def test_an_order_in_a_currency_stripe_cannot_charge_is_a_conflict(stripe_sandbox, api, alice):
    order = factories.order(alice, currency="XYZ")
    response = api.post(CREATE, {"order_id": order.pk}, format="json")
    assert response.status_code == 409
    assert "cannot be charged" in response.json()["error"]["message"]
    assert not stripe_sandbox.requests_log(method="POST")


def test_not_found_has_the_documented_error_shape(api):
    error = api.get("/api/payments/payments/999999/").json()["error"]
    assert (error["status"], error["code"]) == (404, "not_found")


def test_password_guessing_on_the_token_endpoint_is_throttled(alice, settings):
    client = APIClient()
    # A different username each time: the per-account lockout (test_login_lockout) stays out.
    answers = [
        client.post("/api/auth/token/", {"username": f"user{i}", "password": "guess"}).status_code
        for i in range(11)
    ]
    assert answers == [400] * 10 + [429]
    error = client.post("/api/auth/token/", {"username": "alice", "password": "x"}).json()["error"]
    assert (error["status"], error["code"]) == (429, "throttled")


def test_status_polling_is_throttled_per_client(stripe_sandbox, api, alice, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import ScopedRateThrottle

    original = ScopedRateThrottle.THROTTLE_RATES  # read once at import by DRF
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth-token": "10/minute", "payment-status": "3/minute"},
    }
    ScopedRateThrottle.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
    try:
        body = api.post(CREATE, {"order_id": factories.order(alice).pk}, format="json").json()
        url = f"/api/payments/payments/{body['payment_id']}/status/"
        assert [api.get(url).status_code for _ in range(4)] == [200, 200, 200, 429]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = original


def test_status_polls_read_our_records_until_the_last_word_is_stale(
    stripe_sandbox, api, alice, settings
):
    body = pay(stripe_sandbox, api, factories.order(alice))  # paid at Stripe, no webhook yet
    url = f"/api/payments/payments/{body['payment_id']}/status/"
    stripe_sandbox.clear_requests_log()
    assert [api.get(url).json()["status"] for _ in range(3)] == ["pending"] * 3
    assert stripe_sandbox.requests_log(method="GET") == []  # no Stripe call for a fresh record
    settings.PAYMENTS_STATUS_FRESH_SECONDS = 0  # a few seconds later
    assert api.get(url).json()["status"] == "succeeded"
    assert len(stripe_sandbox.requests_log(method="GET")) == 2  # the PaymentIntent, its refunds
    assert api.get(url).json()["status"] == "succeeded"  # final: from our records
    assert len(stripe_sandbox.requests_log(method="GET")) == 2


def test_confirm_asks_stripe_right_after_the_customer_confirmed(stripe_sandbox, api, alice):
    body = pay(stripe_sandbox, api, factories.order(alice))
    confirmed = api.get(f"/api/payments/payments/{body['payment_id']}/confirm/").json()
    assert confirmed["status"] == "succeeded"


def test_a_name_longer_than_stripe_takes_is_cut_to_fit(stripe_sandbox):
    long_named = factories.user("longname", first_name="A" * 150, last_name="B" * 150)
    order = factories.order(long_named)
    response = factories.api_client(long_named).post(CREATE, {"order_id": order.pk}, format="json")
    assert response.status_code == 200, response.json()
    (customer,) = stripe_sandbox.api("GET", "/v1/customers")[1]["data"]
    assert customer["name"] == ("A" * 150 + " " + "B" * 150)[:256]


def test_the_stand_in_refuses_a_name_longer_than_stripes_limit(stripe_sandbox):
    status, body, _ = stripe_sandbox.api("POST", "/v1/customers", {"name": "x" * 257})
    assert status == 400
    assert (body["error"]["param"], "at most 256 characters" in body["error"]["message"]) == (
        "name",
        True,
    )


def test_a_bank_transfer_stripe_does_not_offer_this_account_is_refused_and_cancelled(
    stripe_sandbox, api, alice
):
    stripe_sandbox.set_account_country("US")  # a US account takes bank transfers in USD only
    order = factories.order(alice, total="80.00", currency="EUR")
    response = api.post(
        CREATE, {"order_id": order.pk, "payment_method": "bank_transfer"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        f"Paying by bank transfer is not available for order #{order.pk} (EUR); pay it by card."
    )
    assert stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"] == []  # none made
    card = api.post(CREATE, {"order_id": order.pk, "payment_method": "card"}, format="json")
    assert card.status_code == 200, card.json()


def test_a_payment_intent_stripe_made_without_the_type_asked_for_is_cancelled(
    stripe_sandbox, api, alice, monkeypatch
):
    from payments import stripe_client

    real_create = stripe_client.payment_intent_create

    def keeps_only_cards(**kwargs):
        # Stripe kept the allowed types that can work here and silently dropped the rest.
        return real_create(**{**kwargs, "payment_method_types": ["card"], "bank_transfer": None})

    monkeypatch.setattr(stripe_client, "payment_intent_create", keeps_only_cards)
    order = factories.order(alice, total="80.00", currency="EUR")
    response = api.post(
        CREATE, {"order_id": order.pk, "payment_method": "bank_transfer"}, format="json"
    )
    assert response.status_code == 409
    assert "Paying by bank transfer is not available" in response.json()["error"]["message"]
    (pi,) = stripe_sandbox.api("GET", "/v1/payment_intents")[1]["data"]
    assert pi["status"] == "canceled"  # it can never be paid by card instead
    assert Payment.objects.get().status == "cancelled"
