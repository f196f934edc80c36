"""Limits that hold for a deployment, not a process: throttles counted in Redis across two app
servers, the client told apart behind the documented proxies (never by a header it sends
itself), and a hung Stripe answered with the API's JSON 503 by gunicorn's own workers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from tests import factories

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def call(
    url: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], float]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (our own test server)
        url,
        data=data,
        method="POST" if data is not None else "GET",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    return status, json.loads(raw or b"{}"), time.monotonic() - started


def guess(server: str, n: int, forwarded_for: str | None = None) -> int:
    """A wrong password for a fresh username (so the login lockout stays out of it)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    status, _, _ = call(
        f"{server}/api/auth/token/", {"username": f"nobody{n}", "password": "wrong"}, headers
    )
    return status


def test_the_token_throttle_holds_across_two_servers_and_rotated_forwarded_for(
    stripe_sandbox, machine_redis, stack_factory
):
    stack = stack_factory(machine_redis)
    servers = [stack.app_server("web-a"), stack.app_server("web-b")]
    # 10 a minute means 10 a minute for the deployment, whatever server or header is used.
    answers = [guess(servers[n % 2], n, forwarded_for=f"198.51.100.{n}") for n in range(14)]
    assert answers[:10] == [400] * 10
    assert answers[10:] == [429] * 4


def test_behind_one_proxy_each_client_has_its_own_budget(
    stripe_sandbox, machine_redis, stack_factory
):
    stack = stack_factory(machine_redis)
    server = stack.app_server(NUM_PROXIES="1", THROTTLE_AUTH_TOKEN="3/minute")
    # The proxy appends the address it saw; whatever the client put before it is ignored.
    first = [guess(server, n, forwarded_for=f"6.6.6.{n}, 203.0.113.1") for n in range(5)]
    other = [guess(server, 100 + n, forwarded_for="203.0.113.2") for n in range(3)]
    assert first == [400, 400, 400, 429, 429]
    assert other == [400, 400, 400]


def test_a_hung_stripe_answers_json_503_within_the_configured_time(
    stripe_sandbox, machine_redis, stack_factory
):
    paid = factories.paid_payment(stripe_sandbox, total="40.00")
    finance = factories.user("fiona", group="Finance")
    token = Token.objects.create(user=finance).key
    stack = stack_factory(machine_redis)
    server = stack.app_server(STRIPE_TIMEOUT_SECONDS="1", STRIPE_MAX_NETWORK_RETRIES="1")
    stripe_sandbox.inject_fault("POST", "/v1/refunds", "hang", count=5, seconds=8)
    status, body, seconds = call(
        f"{server}/api/payments/refunds/create_refund/",
        {"payment_id": paid.pk, "amount": "5.00"},
        {"Authorization": f"Token {token}"},
    )
    assert status == 503
    assert body["error"]["code"] == "payment_provider_unavailable"
    assert "Do not refund again" in body["error"]["message"]
    assert seconds < 1 * 2 + 0.5 + 2  # the client's worst case (2 x 1 s + back-off), and slack
    assert "WORKER TIMEOUT" not in stack.procs[0].output()
