"""Disputes as Stripe's test mode makes them: the test cards whose charges are disputed, the
dispute object, answering (evidence, submit, accept), the issuer's decision, refunds refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import stripe

FIXTURES = Path(__file__).with_name("stripe_fixtures.json")
CHARGEBACK_EVENTS = ["charge.dispute.created", "charge.dispute.funds_withdrawn"]
PAID_EVENTS = ["payment_intent.created", "charge.succeeded", "payment_intent.succeeded"]


def pay(sandbox, payment_method="pm_card_createDispute", amount=1234, currency="eur"):
    status, pi, _ = sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": amount,
            "currency": currency,
            "confirm": "true",
            "payment_method": payment_method,
        },
    )
    assert status == 200, pi
    return pi


def disputed(sandbox, payment_method="pm_card_createDispute", **extra):
    """(PaymentIntent, its one dispute)."""
    pi = pay(sandbox, payment_method, **extra)
    [dp] = sandbox.disputes(pi["id"])
    return pi, dp


def events(sandbox, prefix=""):
    _, listing, _ = sandbox.api("GET", "/v1/events", {"limit": 100})
    return [e for e in reversed(listing["data"]) if e["type"].startswith(prefix)]


def event_types(sandbox, prefix=""):
    return [e["type"] for e in events(sandbox, prefix)]


def update(sandbox, dp_id, params, **kwargs):
    return sandbox.api("POST", f"/v1/disputes/{dp_id}", params, **kwargs)


# --- the test cards --------------------------------------------------------------------------
NOT_RECEIVED = "product_not_received"
CARDS = [
    ("4000000000000259", "pm_card_createDispute", "fraudulent", "chargeback"),
    ("4000000000002685", "pm_card_createDisputeProductNotReceived", NOT_RECEIVED, "chargeback"),
    ("4000000000001976", "pm_card_createDisputeInquiry", "fraudulent", "inquiry"),
]


@pytest.mark.parametrize(("number", "token", "reason", "case_type"), CARDS)
def test_each_dispute_card_pays_then_is_disputed(stripe_sandbox, number, token, reason, case_type):
    pi, dp = disputed(stripe_sandbox, token)

    inquiry = case_type == "inquiry"
    assert pi["status"] == "succeeded"
    assert (dp["reason"], dp["payment_method_details"]["card"]["case_type"]) == (reason, case_type)
    assert dp["status"] == ("warning_needs_response" if inquiry else "needs_response")
    assert dp["is_charge_refundable"] is inquiry
    assert (dp["amount"], dp["currency"]) == (1234, "eur")
    assert (dp["charge"], dp["payment_intent"]) == (pi["latest_charge"], pi["id"])
    assert len(dp["balance_transactions"]) == (0 if inquiry else 1)
    assert event_types(stripe_sandbox) == PAID_EVENTS + (
        ["charge.dispute.created"] if inquiry else CHARGEBACK_EVENTS
    )
    _, charge, _ = stripe_sandbox.api("GET", f"/v1/charges/{pi['latest_charge']}")
    assert charge["disputed"] is True


@pytest.mark.parametrize(("number", "token", "reason", "case_type"), CARDS)
def test_the_cards_work_from_the_stripe_js_card_form(
    stripe_sandbox, number, token, reason, case_type
):
    # Stripe.js's path: a PaymentMethod from the raw number, confirmed with the publishable key.
    _, pi, _ = stripe_sandbox.api(
        "POST", "/v1/payment_intents", {"amount": 5000, "currency": "usd"}
    )

    status, body = stripe_sandbox.confirm_payment_intent(pi["id"], card={"number": number})

    assert (status, body["status"]) == (200, "succeeded")
    [dp] = stripe_sandbox.disputes(pi["id"])
    assert (dp["reason"], dp["payment_method_details"]["card"]["case_type"]) == (reason, case_type)
    assert dp["payment_method_details"]["card"]["brand"] == "visa"


def test_an_ordinary_card_is_not_disputed(stripe_sandbox):
    pi = pay(stripe_sandbox, "pm_card_visa")

    assert stripe_sandbox.disputes(pi["id"]) == []
    _, charge, _ = stripe_sandbox.api("GET", f"/v1/charges/{pi['latest_charge']}")
    assert charge["disputed"] is False


def test_dispute_events_carry_the_dispute_and_reach_webhooks(stripe_sandbox, receiver):
    stripe_sandbox.add_webhook_endpoint(receiver.url, enabled_events=["charge.dispute.*"])

    _, dp = disputed(stripe_sandbox)
    stripe_sandbox.wait_for_deliveries()

    received = [json.loads(body) for body, _ in receiver.received]
    assert [e["type"] for e in received] == CHARGEBACK_EVENTS
    assert all(e["data"]["object"]["id"] == dp["id"] for e in received)
    assert received[0]["data"]["object"]["object"] == "dispute"


# --- the object --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def published() -> dict:
    return json.loads(FIXTURES.read_text())["resources"]["dispute"]


def test_the_dispute_carries_every_field_of_stripes_example(stripe_sandbox, published):
    _, dp = disputed(stripe_sandbox)

    assert set(published) - set(dp) == set()
    for field in ("evidence", "evidence_details"):
        assert set(published[field]) - set(dp[field]) == set(), field
    card = dp["payment_method_details"]["card"]
    assert set(published["payment_method_details"]["card"]) - set(card) == set()
    assert dp["id"].startswith("dp_")
    assert dp["livemode"] is False
    assert dp["metadata"] == {}
    assert dp["enhanced_eligibility_types"] == []
    text = [k for k, v in published["evidence"].items() if v is None]
    assert all(dp["evidence"][k] is None for k in text)
    assert dp["evidence"]["enhanced_evidence"] == {}


def test_evidence_is_due_in_seven_days(stripe_sandbox):
    before = int(time.time())
    _, dp = disputed(stripe_sandbox)

    details = dp["evidence_details"]
    assert before + 7 * 86_400 <= details["due_by"] <= int(time.time()) + 7 * 86_400
    assert (details["has_evidence"], details["past_due"], details["submission_count"]) == (
        False,
        False,
        0,
    )
    assert details["enhanced_eligibility"] == {}


@pytest.mark.parametrize(
    ("currency", "amount", "fee"), [("eur", 1234, 1500), ("jpy", 1000, 15), ("usd", 50, 1500)]
)
def test_a_chargeback_withdraws_the_amount_and_the_dispute_fee(
    stripe_sandbox, currency, amount, fee
):
    _, dp = disputed(stripe_sandbox, amount=amount, currency=currency)

    [txn] = dp["balance_transactions"]
    assert txn["object"] == "balance_transaction"
    assert txn["id"].startswith("txn_")
    assert (txn["amount"], txn["fee"], txn["net"]) == (-amount, fee, -(amount + fee))
    assert txn["currency"] == currency
    assert (txn["type"], txn["reporting_category"]) == ("adjustment", "dispute")
    assert txn["source"] == dp["id"]
    assert txn["fee_details"][0]["type"] == "stripe_fee"


def test_the_sdk_reads_and_answers_disputes(stripe_sandbox):
    """The installed SDK's own paths and types, end to end."""
    pi, dp = disputed(stripe_sandbox)
    client = stripe.StripeClient(
        stripe_sandbox.secret_key, base_addresses={"api": stripe_sandbox.base_url}
    )

    listed = client.v1.disputes.list({"payment_intent": pi["id"]})
    got = client.v1.disputes.retrieve(dp["id"], {"expand": ["charge"]})
    staged = client.v1.disputes.update(
        dp["id"], {"evidence": {"product_description": "A mug"}, "submit": False}
    )
    closed = client.v1.disputes.close(dp["id"])

    assert [d.id for d in listed.data] == [dp["id"]]
    assert isinstance(got, stripe.Dispute)
    assert got.charge.id == pi["latest_charge"]
    assert got.evidence_details.due_by == dp["evidence_details"]["due_by"]
    assert staged.evidence.product_description == "A mug"
    assert staged.status == "needs_response"
    assert closed.status == "lost"


# --- listing and retrieving ------------------------------------------------------------------
def test_disputes_are_listed_by_charge_and_payment_intent_newest_first(stripe_sandbox):
    first_pi, first = disputed(stripe_sandbox)
    second_pi, second = disputed(stripe_sandbox, "pm_card_createDisputeInquiry")
    pay(stripe_sandbox, "pm_card_visa")

    assert {d["id"] for d in stripe_sandbox.disputes()} == {first["id"], second["id"]}
    assert [d["id"] for d in stripe_sandbox.disputes(second_pi["id"])] == [second["id"]]
    by_charge = stripe_sandbox.disputes(charge_id=first_pi["latest_charge"])
    assert [d["id"] for d in by_charge] == [first["id"]]
    _, page, _ = stripe_sandbox.api("GET", "/v1/disputes", {"limit": 1})
    assert (len(page["data"]), page["has_more"], page["url"]) == (1, True, "/v1/disputes")
    _, rest, _ = stripe_sandbox.api(
        "GET", "/v1/disputes", {"limit": 1, "starting_after": page["data"][0]["id"]}
    )
    assert {page["data"][0]["id"], rest["data"][0]["id"]} == {first["id"], second["id"]}
    _, none, _ = stripe_sandbox.api("GET", "/v1/disputes", {"created": {"lt": first["created"]}})
    assert none["data"] == []


def test_retrieving_expands_the_charge_and_refuses_unknown_ids(stripe_sandbox):
    pi, dp = disputed(stripe_sandbox)

    _, got, _ = stripe_sandbox.api(
        "GET", f"/v1/disputes/{dp['id']}", {"expand": ["charge", "payment_intent"]}
    )
    status, missing, _ = stripe_sandbox.api("GET", "/v1/disputes/dp_nope")

    assert got["charge"]["id"] == pi["latest_charge"]
    assert got["payment_intent"]["id"] == pi["id"]
    assert "refunds" not in got["charge"]
    assert status == 404
    assert missing["error"]["code"] == "resource_missing"
    assert missing["error"]["message"] == "No such dispute: 'dp_nope'"


def test_disputes_need_the_secret_key(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    for method, path in [
        ("GET", "/v1/disputes"),
        ("GET", f"/v1/disputes/{dp['id']}"),
        ("POST", f"/v1/disputes/{dp['id']}"),
        ("POST", f"/v1/disputes/{dp['id']}/close"),
    ]:
        status, body, _ = stripe_sandbox.api(method, path, key=stripe_sandbox.publishable_key)
        assert status == 401, (method, path, body)
    assert stripe_sandbox.dispute(dp["id"])["status"] == "needs_response"


# --- answering ---------------------------------------------------------------------------------
def test_staged_evidence_is_merged_and_submitted_later(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    status, staged, _ = update(
        stripe_sandbox,
        dp["id"],
        {"evidence": {"customer_name": "Ann", "product_description": "A mug"}, "submit": False},
    )
    _, restaged, _ = update(
        stripe_sandbox,
        dp["id"],
        {"evidence": {"product_description": "", "shipping_carrier": "DHL"}, "submit": False},
    )
    _, submitted, _ = update(stripe_sandbox, dp["id"], {"submit": True, "metadata": {"case": "7"}})

    assert status == 200
    assert (staged["status"], staged["evidence_details"]["has_evidence"]) == (
        "needs_response",
        True,
    )
    assert staged["evidence_details"]["submission_count"] == 0
    evidence = restaged["evidence"]
    assert (evidence["customer_name"], evidence["shipping_carrier"]) == ("Ann", "DHL")
    assert evidence["product_description"] is None  # "" unsets, as at Stripe
    assert submitted["status"] == "under_review"
    assert submitted["evidence_details"]["submission_count"] == 1
    assert submitted["evidence_details"]["submission_method"] == "manual"
    assert submitted["evidence"]["customer_name"] == "Ann"
    assert submitted["metadata"] == {"case": "7"}
    updates = events(stripe_sandbox, "charge.dispute.updated")
    assert [e["data"]["previous_attributes"] for e in updates] == [
        {
            "evidence": {"customer_name": None, "product_description": None},
            "evidence_details": {"has_evidence": False},
        },
        {"evidence": {"product_description": "A mug", "shipping_carrier": None}},
        {
            "metadata": {"case": None},
            "evidence_details": {"submission_count": 0, "submission_method": "not_submitted"},
            "status": "needs_response",
        },
    ]
    assert updates[-1]["data"]["object"]["status"] == "under_review"


def test_evidence_without_submit_is_submitted_as_stripe_defaults(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    _, tagged, _ = update(stripe_sandbox, dp["id"], {"metadata": {"order": "1"}})
    _, answered, _ = update(stripe_sandbox, dp["id"], {"evidence": {"customer_name": "Ann"}})

    assert tagged["status"] == "needs_response"
    assert answered["status"] == "under_review"


def test_an_inquiry_goes_to_warning_under_review(stripe_sandbox):
    _, dp = disputed(stripe_sandbox, "pm_card_createDisputeInquiry")

    _, submitted, _ = update(
        stripe_sandbox, dp["id"], {"evidence": {"uncategorized_text": "We shipped it"}}
    )

    assert submitted["status"] == "warning_under_review"
    assert submitted["evidence_details"]["submission_count"] == 1


@pytest.mark.parametrize(
    ("evidence", "param", "code"),
    [
        ({"receipt": "file_123"}, "evidence[receipt]", "resource_missing"),
        ({"customer_name": "x" * 5001}, "evidence[customer_name]", None),
        ({"uncategorized_text": "x" * 20_001}, "evidence[uncategorized_text]", None),
        ({"nonsense": "x"}, "evidence[nonsense]", "parameter_unknown"),
    ],
)
def test_bad_evidence_is_refused_and_nothing_changes(stripe_sandbox, evidence, param, code):
    _, dp = disputed(stripe_sandbox)

    status, body, _ = update(stripe_sandbox, dp["id"], {"evidence": evidence})

    assert status == 400
    assert (body["error"]["param"], body["error"].get("code")) == (param, code)
    assert stripe_sandbox.dispute(dp["id"]) == dp
    assert event_types(stripe_sandbox, "charge.dispute.updated") == []


def test_long_text_evidence_fits_stripes_limit(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    status, body, _ = update(
        stripe_sandbox, dp["id"], {"evidence": {"uncategorized_text": "x" * 20_000}}
    )

    assert status == 200, body


@pytest.mark.parametrize("status_", ["under_review", "lost"])
def test_a_dispute_no_longer_waiting_for_an_answer_cannot_be_updated(stripe_sandbox, status_):
    _, dp = disputed(stripe_sandbox)
    if status_ == "under_review":
        update(stripe_sandbox, dp["id"], {"evidence": {"customer_name": "Ann"}, "submit": True})
    else:
        stripe_sandbox.api("POST", f"/v1/disputes/{dp['id']}/close")
    before = stripe_sandbox.dispute(dp["id"])

    status, body, _ = update(
        stripe_sandbox, dp["id"], {"evidence": {"customer_name": "Bob"}, "submit": True}
    )

    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert f"(status {status_})" in body["error"]["message"]
    assert stripe_sandbox.dispute(dp["id"]) == before


# --- accepting ---------------------------------------------------------------------------------
def test_closing_a_chargeback_loses_it_and_is_final(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    status, closed, _ = stripe_sandbox.api("POST", f"/v1/disputes/{dp['id']}/close")
    again, body, _ = stripe_sandbox.api("POST", f"/v1/disputes/{dp['id']}/close")

    assert (status, closed["status"]) == (200, "lost")
    assert len(closed["balance_transactions"]) == 1  # the money stays withdrawn
    assert again == 400
    assert body["error"]["message"] == "This dispute is already closed (status lost)."
    assert event_types(stripe_sandbox, "charge.dispute") == [
        *CHARGEBACK_EVENTS,
        "charge.dispute.closed",
    ]


def test_closing_an_inquiry_closes_it_with_nothing_withdrawn(stripe_sandbox):
    _, dp = disputed(stripe_sandbox, "pm_card_createDisputeInquiry")

    _, closed, _ = stripe_sandbox.api("POST", f"/v1/disputes/{dp['id']}/close")

    assert closed["status"] == "warning_closed"
    assert closed["balance_transactions"] == []
    assert closed["is_charge_refundable"] is True
    assert event_types(stripe_sandbox, "charge.dispute") == [
        "charge.dispute.created",
        "charge.dispute.closed",
    ]


def test_a_submitted_dispute_cannot_be_accepted(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)
    update(stripe_sandbox, dp["id"], {"evidence": {"customer_name": "Ann"}})

    status, body, _ = stripe_sandbox.api("POST", f"/v1/disputes/{dp['id']}/close")

    assert status == 400
    assert "(status under_review)" in body["error"]["message"]


# --- the issuer's decision ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "outcome"), [("winning_evidence", "won"), ("losing_evidence", "lost")]
)
def test_stripes_test_evidence_decides_the_dispute_shortly_after(stripe_sandbox, text, outcome):
    _, dp = disputed(stripe_sandbox)

    _, submitted, _ = update(stripe_sandbox, dp["id"], {"evidence": {"uncategorized_text": text}})
    deadline = time.monotonic() + 5
    while stripe_sandbox.dispute(dp["id"])["status"] == "under_review":
        assert time.monotonic() < deadline, "the dispute was never decided"
        time.sleep(0.05)
    decided = stripe_sandbox.dispute(dp["id"])

    assert submitted["status"] == "under_review"
    assert decided["status"] == outcome
    won = outcome == "won"
    assert len(decided["balance_transactions"]) == (2 if won else 1)
    assert event_types(stripe_sandbox, "charge.dispute") == [
        *CHARGEBACK_EVENTS,
        "charge.dispute.updated",
        "charge.dispute.closed",
        *(["charge.dispute.funds_reinstated"] if won else []),
    ]  # fmt: skip


def test_test_evidence_only_decides_once_submitted(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    update(
        stripe_sandbox,
        dp["id"],
        {"evidence": {"uncategorized_text": "winning_evidence"}, "submit": False},
    )
    stripe_sandbox.run_scheduled()

    assert stripe_sandbox.dispute(dp["id"])["status"] == "needs_response"


def test_decide_won_reinstates_the_withdrawn_funds(stripe_sandbox):
    _, dp = disputed(stripe_sandbox, amount=2000)

    decided = stripe_sandbox.dispute_decide(dp["id"], "won")

    assert decided["status"] == "won"
    _, reinstatement = decided["balance_transactions"]
    assert (reinstatement["amount"], reinstatement["fee"], reinstatement["net"]) == (
        2000,
        -1500,
        3500,
    )
    assert sum(t["net"] for t in decided["balance_transactions"]) == 0
    assert (reinstatement["type"], reinstatement["reporting_category"]) == (
        "adjustment",
        "dispute",
    )
    closed, reinstated = events(stripe_sandbox, "charge.dispute")[-2:]
    assert (closed["type"], reinstated["type"]) == (
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    )
    assert reinstated["data"]["object"]["status"] == "won"
    assert stripe_sandbox.dispute(dp["id"]) == decided


def test_decide_lost_keeps_the_funds_withdrawn(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)
    update(stripe_sandbox, dp["id"], {"evidence": {"customer_name": "Ann"}})

    decided = stripe_sandbox.dispute_decide(dp["id"], "lost")

    assert decided["status"] == "lost"
    assert len(decided["balance_transactions"]) == 1
    assert event_types(stripe_sandbox, "charge.dispute")[-1] == "charge.dispute.closed"
    assert "charge.dispute.funds_reinstated" not in event_types(stripe_sandbox)


def test_an_inquiry_won_is_closed_and_one_lost_withdraws_the_funds(stripe_sandbox):
    _, won = disputed(stripe_sandbox, "pm_card_createDisputeInquiry")
    _, lost = disputed(stripe_sandbox, "pm_card_createDisputeInquiry")

    won = stripe_sandbox.dispute_decide(won["id"], "won")
    lost = stripe_sandbox.dispute_decide(lost["id"], "lost")

    assert (won["status"], won["balance_transactions"], won["is_charge_refundable"]) == (
        "warning_closed",
        [],
        True,
    )
    assert (lost["status"], lost["is_charge_refundable"]) == ("lost", False)
    assert lost["balance_transactions"][0]["amount"] == -1234
    assert event_types(stripe_sandbox, "charge.dispute")[-2:] == [
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
    ]


def test_decide_refuses_closed_disputes_and_unknown_outcomes(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)
    stripe_sandbox.dispute_decide(dp["id"], "lost")

    with pytest.raises(AssertionError, match="already closed"):
        stripe_sandbox.dispute_decide(dp["id"], "won")
    with pytest.raises(AssertionError, match="outcome must be won or lost"):
        stripe_sandbox.dispute_decide(dp["id"], "maybe")
    with pytest.raises(AssertionError, match="No such dispute"):
        stripe_sandbox.dispute_decide("dp_nope", "won")


def test_decide_takes_a_form_body_too(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    status, body, _ = stripe_sandbox._http(
        "POST",
        f"/_sandbox/disputes/{dp['id']}/decide",
        b"outcome=won",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert (status, body["status"]) == (200, "won")


# --- refunds -----------------------------------------------------------------------------------
@pytest.mark.parametrize("by", ["payment_intent", "charge"])
def test_a_charged_back_payment_cannot_be_refunded(stripe_sandbox, by):
    pi, _ = disputed(stripe_sandbox)
    target = pi["id"] if by == "payment_intent" else pi["latest_charge"]

    status, body, _ = stripe_sandbox.api("POST", "/v1/refunds", {by: target, "amount": 100})

    assert status == 400
    error = body["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "charge_disputed")
    assert error["message"] == (
        f"Charge {pi['latest_charge']} has been charged back; cannot issue a refund."
    )
    _, refunds, _ = stripe_sandbox.api("GET", "/v1/refunds", {"payment_intent": pi["id"]})
    assert refunds["data"] == []
    _, charge, _ = stripe_sandbox.api("GET", f"/v1/charges/{pi['latest_charge']}")
    assert (charge["amount_refunded"], charge["refunded"]) == (0, False)
    assert not [t for t in event_types(stripe_sandbox) if "refund" in t]


def test_decided_chargebacks_stay_unrefundable(stripe_sandbox):
    pi, dp = disputed(stripe_sandbox)
    stripe_sandbox.dispute_decide(dp["id"], "won")

    status, body, _ = stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"]})

    assert (status, body["error"]["code"]) == (400, "charge_disputed")


@pytest.mark.parametrize("closed", [False, True])
def test_an_inquiry_s_charge_can_still_be_refunded(stripe_sandbox, closed):
    pi, dp = disputed(stripe_sandbox, "pm_card_createDisputeInquiry")
    if closed:
        stripe_sandbox.api("POST", f"/v1/disputes/{dp['id']}/close")

    status, refund, _ = stripe_sandbox.api("POST", "/v1/refunds", {"payment_intent": pi["id"]})

    assert (status, refund["status"], refund["amount"]) == (200, "succeeded", 1234)


# --- idempotency -------------------------------------------------------------------------------
def test_dispute_updates_replay_with_their_idempotency_key(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)
    params = {"evidence": {"customer_name": "Ann"}, "submit": True}

    first, body, _ = update(stripe_sandbox, dp["id"], params, idempotency_key="answer-1")
    again, replay, headers = update(stripe_sandbox, dp["id"], params, idempotency_key="answer-1")
    other, error, _ = update(
        stripe_sandbox,
        dp["id"],
        {"evidence": {"customer_name": "Bob"}, "submit": True},
        idempotency_key="answer-1",
    )

    assert (first, again) == (200, 200)
    assert replay == body
    assert headers["Idempotent-Replayed"] == "true"
    assert other == 400
    assert error["error"]["type"] == "idempotency_error"
    assert event_types(stripe_sandbox, "charge.dispute.updated") == ["charge.dispute.updated"]
    assert stripe_sandbox.dispute(dp["id"])["evidence_details"]["submission_count"] == 1


def test_closing_replays_with_its_idempotency_key(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)
    path = f"/v1/disputes/{dp['id']}/close"

    first, body, _ = stripe_sandbox.api("POST", path, idempotency_key="accept-1")
    again, replay, headers = stripe_sandbox.api("POST", path, idempotency_key="accept-1")
    fresh, refused, _ = stripe_sandbox.api("POST", path, idempotency_key="accept-2")

    assert (first, again, replay) == (200, 200, body)
    assert headers["Idempotent-Replayed"] == "true"
    assert (fresh, refused["error"]["type"]) == (400, "invalid_request_error")
    assert event_types(stripe_sandbox, "charge.dispute.closed") == ["charge.dispute.closed"]


def test_a_refused_update_does_not_use_up_its_key(stripe_sandbox):
    _, dp = disputed(stripe_sandbox)

    bad, _, _ = update(
        stripe_sandbox, dp["id"], {"evidence": {"receipt": "file_1"}}, idempotency_key="k"
    )
    good, body, headers = update(
        stripe_sandbox, dp["id"], {"evidence": {"customer_name": "Ann"}}, idempotency_key="k"
    )

    assert (bad, good) == (400, 200)
    assert body["status"] == "under_review"
    assert "Idempotent-Replayed" not in headers
