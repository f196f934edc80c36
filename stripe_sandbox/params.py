"""Reading Stripe's form-encoded parameters as Stripe does: unknown keys refused, types and
limits checked, metadata merged by Stripe's rules; and the context of one request."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .errors import invalid
from .rules import ZERO_DECIMAL

Obj = dict[str, Any]


@dataclass
class Ctx:
    """One API request as the handlers see it."""

    params: Obj
    key_type: str  # "secret" or "publishable"
    base_url: str
    request_id: str | None = None
    idempotency_key: str | None = None
    api_version: str | None = None


Handler = Callable[..., Obj]


# --- parameter parsing --------------------------------------------------------------------------
def check_unknown(params: Obj, allowed: set[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise invalid(
                f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )


def get_int(
    params: Obj, name: str, *, required: bool = False, minimum: int | None = None
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw):
        raise invalid(f"Invalid integer: {raw}", param=name, code="parameter_invalid_integer")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise invalid(f"This value must be greater than or equal to {minimum}.", param=name)
    return value


# Stripe's published string limits: most strings 5,000 characters; these fewer.
STRING_LIMITS = {"name": 256, "email": 512, "description": 1000}


def get_str(params: Obj, name: str, *, required: bool = False) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")
        return None
    if not isinstance(raw, str):
        raise invalid(f"Invalid string: {raw!r}", param=name)
    limit = STRING_LIMITS.get(name.rsplit("[", 1)[-1].rstrip("]"), 5000)
    if len(raw) > limit:
        raise invalid(
            f"Invalid string: {raw[:20]}...; must be at most {limit} characters", param=name
        )
    return raw


def get_bool(params: Obj, name: str) -> bool:
    raw = params.get(name)
    if raw in (None, "", "false"):
        return False
    if raw == "true":
        return True
    raise invalid(f"Invalid boolean: {raw}", param=name)


def get_enum(params: Obj, name: str, values: tuple[str, ...]) -> str | None:
    raw = get_str(params, name)
    if raw is not None and raw not in values:
        choices = ", ".join(values[:-1]) + f", or {values[-1]}"
        raise invalid(f"Invalid {name}: must be one of {choices}", param=name)
    return raw


def get_dict(params: Obj, name: str) -> Obj | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid(f"Invalid object: {name} must be a hash", param=name)
    return raw


def get_list(params: Obj, name: str) -> list[Any] | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise invalid(f"Invalid array: {name} must be an array", param=name)
    return raw


def apply_metadata(params: Obj, existing: Obj | None = None) -> Obj:
    """Stripe's metadata rules: merge; an empty value unsets a key; `metadata=` unsets all."""
    result = dict(existing or {})
    raw = params.get("metadata")
    if raw is None:
        return result
    if raw == "":
        return {}
    if not isinstance(raw, dict):
        raise invalid("Invalid hash", param="metadata")
    for key, value in raw.items():
        if not isinstance(value, str):
            raise invalid("Metadata values must be strings.", param=f"metadata[{key}]")
        if len(key) > 40:
            raise invalid("Metadata keys can have up to 40 characters.", param=f"metadata[{key}]")
        if len(value) > 500:
            raise invalid(
                "Metadata values can have up to 500 characters, but you passed in a value that "
                f"is {len(value)} characters.",
                param=f"metadata[{key}]",
            )
        if value == "":
            result.pop(key, None)
        else:
            result[key] = value
    if len(result) > 50:
        raise invalid("You can have up to 50 metadata keys.", param="metadata")
    return result


def format_amount(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return f"{amount} {currency}"
    return f"{Decimal(amount).scaleb(-2):.2f} {currency}"


def created_filter(params: Obj) -> Callable[[Obj], bool]:
    raw = params.get("created")
    if raw is None:
        return lambda obj: True
    if isinstance(raw, str):
        exact = get_int(params, "created")
        return lambda obj: obj["created"] == exact
    if not isinstance(raw, dict):
        raise invalid("Invalid created", param="created")
    check_unknown(raw, {"gt", "gte", "lt", "lte"}, "created")
    bounds = {op: get_int(raw, op) for op in raw}
    tests = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return lambda obj: all(tests[op](obj["created"], v) for op, v in bounds.items())
