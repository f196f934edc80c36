"""The stand-in refuses exactly what the SDK's typed parameters (Stripe's spec) say Stripe would:
requests derived from the types, valid and invalid, for every endpoint the app calls."""

from __future__ import annotations

from typing import Any, Literal, get_args, get_origin

import pytest

from stripe_sandbox import contract

# The endpoints the app calls, each with a request that Stripe runs (the baseline).
ENDPOINTS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("POST", "/v1/customers", "/v1/customers", {"email": "a@example.com"}),
    ("GET", "/v1/customers", "/v1/customers", {}),
    (
        "POST",
        "/v1/payment_intents",
        "/v1/payment_intents",
        {"amount": "1000", "currency": "eur", "allowed_payment_method_types": ["card"]},
    ),
    ("GET", "/v1/payment_intents", "/v1/payment_intents", {}),
    ("POST", "/v1/refunds", "/v1/refunds", {"payment_intent": "PAID"}),
    ("GET", "/v1/refunds", "/v1/refunds", {}),
    ("GET", "/v1/events", "/v1/events", {}),
    ("GET", "/v1/disputes", "/v1/disputes", {"payment_intent": "PAID"}),
    ("GET", "/v1/disputes/{id}", "/v1/disputes/DISPUTE", {}),
    ("POST", "/v1/disputes/{id}", "/v1/disputes/DISPUTE", {"metadata": {"case": "1"}}),
    ("POST", "/v1/disputes/{id}/close", "/v1/disputes/DISPUTE/close", {}),
]
# Every dispute route the stand-in serves has a baseline here (and so its derived cases).
assert {(m, r) for m, r, _, _ in ENDPOINTS} >= {
    key for key in contract.ENDPOINTS if key[1].startswith("/v1/disputes")
}


def literal_fields(cls: type, path: tuple[str, ...] = (), depth: int = 3):
    """(path, allowed values) of every enum field, through the nested objects the app sends."""
    annotations, _ = contract.fields(cls)
    for key, t in annotations.items():
        for option in contract.alternatives(t):
            if get_origin(option) is Literal and "" not in get_args(option):
                yield (*path, key), get_args(option)
            elif contract.is_typed_dict(option) and depth > 1 and _wanted(path, key):
                yield from literal_fields(option, (*path, key), depth - 1)


def _wanted(path: tuple[str, ...], key: str) -> bool:
    # Of payment_method_options' many methods, those the app uses.
    return not path or path[-1] != "payment_method_options" or key in ("card", "customer_balance")


def sample(t: Any) -> Any:
    """A value of a simple type that the contract takes (None for anything else)."""
    t = contract.alternatives(t)[0]
    if get_origin(t) is Literal:
        values = [v for v in get_args(t) if v != ""]
        return values[0] if values else None
    return {str: "x", int: "1", bool: "true"}.get(t)


def required_nested(cls: type, path: tuple[str, ...] = (), depth: int = 4):
    """(path of a nested object, one of its required keys, a sibling to send with it), through
    what the app sends. A form cannot carry an empty object, so another field goes along."""
    annotations, _ = contract.fields(cls)
    for key, t in annotations.items():
        for option in contract.alternatives(t):
            if contract.is_typed_dict(option) and depth > 1 and _wanted(path, key):
                inner, required = contract.fields(option)
                for missing in sorted(required):
                    others = {k: sample(inner[k]) for k in required if k != missing}
                    if any(v is None for v in others.values()):
                        continue  # another required field this test cannot fill simply
                    if not others:  # a form cannot send an empty object: add an optional one
                        optional = {k: sample(v) for k, v in inner.items() if k not in required}
                        optional = {k: v for k, v in optional.items() if v is not None}
                        if not optional:
                            continue
                        others = {min(optional): optional[min(optional)]}
                    yield (*path, key), missing, others
                yield from required_nested(option, (*path, key), depth - 1)


def nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for key in reversed(path):
        value = {key: value}
    return value


def merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(out.get(key), dict) else value
    return out


def name(path: tuple[str, ...]) -> str:
    return path[0] + "".join(f"[{p}]" for p in path[1:])


def cases():
    for method, route, url, base in ENDPOINTS:
        cls = contract.params_class(method, route)
        yield pytest.param(
            method,
            url,
            base,
            {"nonsense_param": "1"},
            "nonsense_param",
            "parameter_unknown",
            id=f"{method} {route} unknown key",
        )
        for path, allowed in literal_fields(cls):
            if path[0] == "expand":
                continue
            label = f"{method} {route} {name(path)}"
            yield pytest.param(
                method,
                url,
                base,
                nest(path, "not_a_real_value"),
                name(path),
                "enum",
                id=f"{label} invalid",
            )
            # Every value the type allows passes the contract (the handler may still say no).
            for value in allowed[:3]:
                yield pytest.param(
                    method, url, base, nest(path, value), name(path), None, id=f"{label}={value}"
                )
        for path, missing, sibling in required_nested(cls):
            yield pytest.param(
                method,
                url,
                base,
                nest(path, sibling),
                name((*path, missing)),
                "parameter_missing",
                id=f"{method} {route} {name(path)} without {missing}",
            )
            yield pytest.param(
                method, url, base, nest((*path, "nonsense"), "1"), name((*path, "nonsense")),
                "parameter_unknown", id=f"{method} {route} {name(path)}[nonsense]",
            )  # fmt: skip


@pytest.fixture
def paid_intent(stripe_sandbox) -> str:
    _, pi, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {"amount": "1000", "currency": "eur", "confirm": "true", "payment_method": "pm_card_visa"},
    )
    return pi["id"]


@pytest.fixture
def dispute(stripe_sandbox) -> str:
    """A dispute waiting for an answer (test card 0259's chargeback)."""
    _, pi, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": "1000",
            "currency": "eur",
            "confirm": "true",
            "payment_method": "pm_card_createDispute",
        },
    )
    return stripe_sandbox.disputes(pi["id"])[0]["id"]


def filled(url: str, base: dict[str, Any], paid: str, dispute: str) -> tuple[str, dict[str, Any]]:
    """The baseline with the placeholders replaced: PAID (a paid PaymentIntent), DISPUTE."""
    return url.replace("DISPUTE", dispute), {
        k: (paid if v == "PAID" else v) for k, v in base.items()
    }


def test_the_baseline_requests_run(stripe_sandbox, paid_intent, dispute):
    for method, _, url, base in ENDPOINTS:
        if url.endswith("/close"):
            continue  # accepting is final; it runs alone below
        url, params = filled(url, base, paid_intent, dispute)
        status, body, _ = stripe_sandbox.api(method, url, params)
        assert status == 200, (method, url, body)
    status, body, _ = stripe_sandbox.api("POST", f"/v1/disputes/{dispute}/close")
    assert status == 200, body


@pytest.mark.parametrize(("method", "url", "base", "change", "param", "refusal"), list(cases()))
def test_the_stand_in_refuses_exactly_what_the_types_forbid(
    stripe_sandbox, paid_intent, dispute, method, url, base, change, param, refusal
):
    url, base = filled(url, base, paid_intent, dispute)
    params = merged(base, change)
    status, body, _ = stripe_sandbox.api(method, url, params)
    error = body.get("error", {}) if isinstance(body, dict) else {}
    contract_refusal = status == 400 and (
        error.get("code") in ("parameter_unknown", "parameter_missing")
        or "must be one of" in error.get("message", "")
    )
    if refusal is None:
        assert not (contract_refusal and error.get("param") == param), body
    else:
        assert status == 400, body
        assert error.get("param") == param, body
        if refusal == "enum":
            assert "must be one of" in error["message"]
        else:
            assert error.get("code") == refusal


def test_the_app_s_bank_transfer_options_are_what_stripe_takes(stripe_sandbox):
    # The nested shape the app sends for a bank transfer, and the same without its required type.
    options = {
        "customer_balance": {
            "funding_type": "bank_transfer",
            "bank_transfer": {"eu_bank_transfer": {"country": "NL"}},
        }
    }
    status, body, _ = stripe_sandbox.api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": "1000",
            "currency": "eur",
            "allowed_payment_method_types": ["customer_balance"],
            "payment_method_options": options,
        },
    )
    assert status == 400
    assert (body["error"]["code"], body["error"]["param"]) == (
        "parameter_missing",
        "payment_method_options[customer_balance][bank_transfer][type]",
    )
