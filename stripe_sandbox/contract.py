"""Every /v1 request checked against the installed SDK's typed parameters (`stripe.params`),
which Stripe generates from its API spec: the stand-in refuses what Stripe would refuse before
running anything, with Stripe's codes.

- a key the endpoint does not take, at any depth: 400 `parameter_unknown`;
- a required key missing, at any depth (`payment_method_options[customer_balance][bank_transfer]
  [type]`): 400 `parameter_missing`;
- a value outside an enum (`reason`, payment method type names, `funding_type`): 400, with the
  values it may take (the SDK types enums open, `Literal[...] | str`, for values Stripe adds
  later; the server refuses values it does not know);
- a non-integer where an integer goes: 400 `parameter_invalid_integer`; a boolean that is not
  `true`/`false`, a hash or an array where a string goes: 400.

Only at the API version the SDK pins: a request at another is left to the handlers, which know
what changed between versions.

String lengths and amounts are Stripe's rules beyond the types (stripe_sandbox.params,
stripe_sandbox.rules); the handlers check those.
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin

import stripe
from stripe import params as sdk_params
from stripe._request_options import RequestOptions

from .errors import StripeError, invalid

# What Stripe.js sends with the publishable key beyond the server SDK's types: the key itself,
# the PaymentIntent's client secret, and its own flag.
STRIPE_JS_PARAMS = {"key", "client_secret", "use_stripe_sdk"}
_REQUEST_OPTIONS = set(RequestOptions.__annotations__)
PINNED_VERSION: str = stripe.api_version

# (method, route) -> the SDK's params class for it.
ENDPOINTS: dict[tuple[str, str], str] = {
    ("POST", "/v1/customers"): "CustomerCreateParams",
    ("GET", "/v1/customers"): "CustomerListParams",
    ("GET", "/v1/customers/{id}"): "CustomerRetrieveParams",
    ("POST", "/v1/customers/{id}"): "CustomerModifyParams",
    ("POST", "/v1/payment_methods"): "PaymentMethodCreateParams",
    ("GET", "/v1/payment_methods/{id}"): "PaymentMethodRetrieveParams",
    ("POST", "/v1/payment_intents"): "PaymentIntentCreateParams",
    ("GET", "/v1/payment_intents"): "PaymentIntentListParams",
    ("GET", "/v1/payment_intents/{id}"): "PaymentIntentRetrieveParams",
    ("POST", "/v1/payment_intents/{id}"): "PaymentIntentModifyParams",
    ("POST", "/v1/payment_intents/{id}/confirm"): "PaymentIntentConfirmParams",
    ("POST", "/v1/payment_intents/{id}/cancel"): "PaymentIntentCancelParams",
    ("GET", "/v1/charges"): "ChargeListParams",
    ("GET", "/v1/charges/{id}"): "ChargeRetrieveParams",
    ("POST", "/v1/refunds"): "RefundCreateParams",
    ("GET", "/v1/refunds"): "RefundListParams",
    ("GET", "/v1/refunds/{id}"): "RefundRetrieveParams",
    ("POST", "/v1/refunds/{id}"): "RefundModifyParams",
    (
        "POST",
        "/v1/test_helpers/customers/{id}/fund_cash_balance",
    ): "test_helpers.CustomerFundCashBalanceParams",
    ("GET", "/v1/disputes"): "DisputeListParams",
    ("GET", "/v1/disputes/{id}"): "DisputeRetrieveParams",
    ("POST", "/v1/disputes/{id}"): "DisputeModifyParams",
    ("POST", "/v1/disputes/{id}/close"): "DisputeCloseParams",
    ("GET", "/v1/events"): "EventListParams",
    ("GET", "/v1/events/{id}"): "EventRetrieveParams",
}


def params_class(method: str, route: str) -> type:
    found: Any = sdk_params
    for part in ENDPOINTS[(method, route)].split("."):
        found = getattr(found, part)
    return found


# Removed by the pinned version: Stripe answers these with errors of their own (the handler's).
REMOVED = {("POST", "/v1/payment_intents"): {"payment_method_types"}}


def check(
    method: str,
    route: str,
    params: dict[str, Any],
    *,
    publishable: bool = False,
    api_version: str | None = None,
) -> None:
    """Raise Stripe's 400 for a request the SDK's types say Stripe would refuse. The types are
    those of the API version the SDK pins: a request at another version is left to the handlers,
    which know what changed between versions."""
    name = ENDPOINTS.get((method, route))
    if name is None or (api_version and api_version != PINNED_VERSION):
        return
    skip = REMOVED.get((method, route), set()) | (STRIPE_JS_PARAMS if publishable else set())
    _check_object(
        {k: v for k, v in params.items() if k not in skip}, params_class(method, route), ""
    )


# --- reading the SDK's types ----------------------------------------------------------------------
@functools.cache
def fields(cls: type) -> tuple[dict[str, Any], frozenset[str]]:
    """A TypedDict's fields (resolved types) and its required keys, without request options."""
    module = sys.modules[cls.__module__].__dict__
    annotations = {
        key: _resolve(value, module)
        for key, value in cls.__annotations__.items()
        if key not in _REQUEST_OPTIONS
    }
    required = frozenset(getattr(cls, "__required_keys__", set()) - _REQUEST_OPTIONS)
    return annotations, required


def _resolve(t: Any, module: dict[str, Any]) -> Any:
    if isinstance(t, str):
        return _resolve(eval(t, module), module)  # noqa: S307 (the SDK's own annotations)
    if isinstance(t, ForwardRef):
        return _resolve(eval(t.__forward_arg__, module), module)  # noqa: S307
    origin = get_origin(t)
    if origin is None or origin is Literal:
        return t
    args = tuple(_resolve(a, module) for a in get_args(t))
    if origin in (typing.NotRequired, typing.Required):
        return args[0]
    if origin in (Union, types.UnionType):
        return Union[args]  # noqa: UP007 (rebuilt from resolved parts)
    return _Generic(origin, args)


class _Generic:
    """A resolved List[X] / Dict[K, V] / UntypedStripeObject[V]."""

    def __init__(self, origin: Any, args: tuple[Any, ...]) -> None:
        self.origin, self.args = origin, args


def is_typed_dict(t: Any) -> bool:
    return isinstance(t, type) and hasattr(t, "__required_keys__")


def alternatives(t: Any) -> tuple[Any, ...]:
    """A type's alternatives. The SDK types enums open (`Literal["a", "b"] | str`) so that it
    keeps working when Stripe adds a value; Stripe's server still refuses what it does not know,
    so the `str` of an enum is dropped here."""
    options = get_args(t) if get_origin(t) in (Union, types.UnionType) else (t,)
    enum = any(get_origin(o) is Literal and any(v != "" for v in get_args(o)) for o in options)
    return tuple(o for o in options if o is not str) if enum else options


# --- checking ----------------------------------------------------------------------------------
def _rank(option: Any) -> int:
    if get_origin(option) is Literal:
        return 2 if any(v != "" for v in get_args(option)) else 0
    return 1


def _name(path: str, key: str) -> str:
    return f"{path}[{key}]" if path else key


def _check_object(value: dict[str, Any], cls: type, path: str) -> None:
    annotations, required = fields(cls)
    for key, item in value.items():
        name = _name(path, key)
        if key not in annotations:
            raise invalid(
                f"Received unknown parameter: {name}", param=name, code="parameter_unknown"
            )
        _check_value(item, annotations[key], name)
    for key in sorted(required - set(value)):
        name = _name(path, key)
        raise invalid(f"Missing required param: {name}.", param=name, code="parameter_missing")


def _check_value(value: Any, t: Any, path: str) -> None:
    options = alternatives(t)
    if len(options) == 1:
        t = options[0]
    else:
        refusals: list[tuple[int, StripeError]] = []
        for option in options:
            try:
                _check_value(value, option, path)
                return
            except StripeError as exc:
                refusals.append((_rank(option), exc))
        # The most telling refusal: an enum's list of values, else what the value's own shape
        # breaks, never "must be ''" (the empty string that unsets a field).
        raise max(refusals, key=lambda r: r[0])[1]
    if get_origin(t) is Literal:
        allowed = get_args(t)
        if value not in allowed:
            shown = ", ".join(repr(a) if a == "" else str(a) for a in allowed)
            raise invalid(f"Invalid {path}: must be one of {shown}", param=path)
        return
    if t is int:
        if not (isinstance(value, str) and value.lstrip("-").isdigit()):
            raise invalid(f"Invalid integer: {value}", param=path, code="parameter_invalid_integer")
        return
    if t is bool:
        if value not in ("true", "false"):
            raise invalid(f"Invalid boolean: {value}", param=path)
        return
    if t is str:
        if not isinstance(value, str):
            raise invalid(f"Invalid string: {value!r}", param=path)
        return
    if is_typed_dict(t):
        if not isinstance(value, dict):
            raise invalid(f"Invalid object: {path}", param=path)
        _check_object(value, t, path)
        return
    if isinstance(t, _Generic):
        if t.origin is list:
            if not isinstance(value, list):
                raise invalid("Invalid array", param=path)
            for n, item in enumerate(value):
                _check_value(item, t.args[0], f"{path}[{n}]")
            return
        if t.origin is dict or getattr(t.origin, "__name__", "") == "UntypedStripeObject":
            if not isinstance(value, dict):
                raise invalid("Invalid hash", param=path)
            for key, item in value.items():
                _check_value(item, t.args[-1], _name(path, key))
            return
    # Anything else (a type this checker does not know) is left to the handler.
