"""Fault injection: the next N matching calls answer 500, 429, or hang."""

from __future__ import annotations

import time


def test_the_next_n_matching_calls_fail_then_calls_succeed(stripe_sandbox):
    stripe_sandbox.inject_fault("POST", "/v1/customers", "500", count=2)

    statuses = [stripe_sandbox.api("POST", "/v1/customers", {})[0] for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert [e["fault"] for e in stripe_sandbox.requests_log()] == ["500", "500", None]


def test_a_fault_matches_its_method_and_path_pattern_only(stripe_sandbox):
    stripe_sandbox.inject_fault("GET", "/v1/customers/*", "500")

    created = stripe_sandbox.api("POST", "/v1/customers", {})
    listed = stripe_sandbox.api("GET", "/v1/customers")
    retrieved = stripe_sandbox.api("GET", f"/v1/customers/{created[1]['id']}")

    assert (created[0], listed[0], retrieved[0]) == (200, 200, 500)
    assert retrieved[1]["error"]["type"] == "api_error"


def test_a_429_carries_stripes_rate_limit_error(stripe_sandbox):
    stripe_sandbox.inject_fault("*", "*", "429")

    status, body, _ = stripe_sandbox.api("GET", "/v1/events")

    assert status == 429
    assert (body["error"]["type"], body["error"]["code"]) == ("invalid_request_error", "rate_limit")


def test_a_faulted_write_is_not_executed_and_its_key_stays_free(stripe_sandbox):
    stripe_sandbox.inject_fault("POST", "/v1/customers", "500")

    stripe_sandbox.api("POST", "/v1/customers", {}, idempotency_key="k1")
    status, _, headers = stripe_sandbox.api("POST", "/v1/customers", {}, idempotency_key="k1")

    assert status == 200 and "Idempotent-Replayed" not in headers
    assert len(stripe_sandbox.api("GET", "/v1/customers")[1]["data"]) == 1


def test_a_hang_delays_the_answer_and_then_runs_the_request(stripe_sandbox):
    stripe_sandbox.inject_fault("POST", "/v1/customers", "hang", seconds=0.4)

    started = time.monotonic()
    status, _, _ = stripe_sandbox.api("POST", "/v1/customers", {})

    assert time.monotonic() - started >= 0.4
    assert status == 200
    assert stripe_sandbox.requests_log()[0]["fault"] == "hang"


def test_reset_clears_faults(stripe_sandbox):
    stripe_sandbox.inject_fault("*", "*", "500", count=10)

    stripe_sandbox.reset()

    assert stripe_sandbox.api("GET", "/v1/customers")[0] == 200
