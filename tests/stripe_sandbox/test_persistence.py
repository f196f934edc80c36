"""State survives a restart through the state file; command-line webhooks survive a reset."""

from __future__ import annotations

import json

from stripe_sandbox import SandboxServer
from stripe_sandbox.pytest_plugin import StripeSandbox


def run(state_file, **kwargs) -> SandboxServer:
    return SandboxServer("127.0.0.1", 0, state_file=state_file, **kwargs).start()


def test_objects_events_and_idempotency_survive_a_restart(tmp_path):
    state_file = tmp_path / "var" / "stripe_sandbox.json"
    server = run(state_file)
    sandbox = StripeSandbox(server.base_url)
    params = {
        "amount": 1234,
        "currency": "eur",
        "confirm": "true",
        "payment_method": "pm_card_visa",
    }
    _, pi, _ = sandbox.api("POST", "/v1/payment_intents", params, idempotency_key="payment-1-pi-1")
    server.shutdown()

    server = run(state_file)
    sandbox = StripeSandbox(server.base_url)
    try:
        _, again, _ = sandbox.api("GET", f"/v1/payment_intents/{pi['id']}")
        _, replayed, headers = sandbox.api(
            "POST", "/v1/payment_intents", params, idempotency_key="payment-1-pi-1"
        )
        _, events, _ = sandbox.api("GET", "/v1/events")
    finally:
        server.shutdown()

    assert again["status"] == "succeeded"
    assert replayed["id"] == pi["id"] and headers["Idempotent-Replayed"] == "true"
    assert len(events["data"]) == 3
    assert [p.name for p in state_file.parent.iterdir()] == ["stripe_sandbox.json"]  # no temp files
    assert json.loads(state_file.read_text())["version"] == 1


def test_reset_keeps_command_line_webhook_endpoints(tmp_path):
    server = run(None, webhooks=[("http://127.0.0.1:9/hook", "whsec_cli")])
    sandbox = StripeSandbox(server.base_url)
    try:
        sandbox.add_webhook_endpoint("http://127.0.0.1:9/other", "whsec_runtime")
        sandbox.reset()
        endpoints = sandbox.control("GET", "webhook_endpoints")["data"]
    finally:
        server.shutdown()

    assert [(e["url"], e["secret"], e["source"]) for e in endpoints] == [
        ("http://127.0.0.1:9/hook", "whsec_cli", "cli")
    ]


def test_the_keys_are_configurable(tmp_path):
    server = run(None, secret_key="sk_test_other", publishable_key="pk_test_other")
    try:
        default = StripeSandbox(server.base_url).api("GET", "/v1/customers")[0]
        other = StripeSandbox(server.base_url, secret_key="sk_test_other").api(
            "GET", "/v1/customers"
        )[0]
    finally:
        server.shutdown()

    assert (default, other) == (401, 200)
