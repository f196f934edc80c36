"""The Stripe API the stand-in speaks: routes, validation, the PaymentIntent status machine.

Handlers run under the store's lock. They raise `StripeError` for anything Stripe answers with an
error body, and emit events (which queue webhook deliveries) for every state change Stripe reports.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from . import objects
from .cards import CARDS, TOKENS, TestCard, luhn_valid
from .store import KINDS, Store

Obj = dict[str, Any]

DOCS = "https://docs.stripe.com/error-codes"
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
# Stripe's minimum charge amounts (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_AMOUNTS = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "chf": 50,
    "cad": 50,
    "aud": 50,
    "nzd": 50,
    "sgd": 50,
    "jpy": 50,
    "dkk": 250,
    "nok": 300,
    "sek": 300,
    "pln": 200,
    "czk": 1500,
    "huf": 17500,
    "hkd": 400,
    "mxn": 1000,
}
MAXIMUM_AMOUNT = 99_999_999
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)
# API versions (date part) where PaymentIntent's payment method type parameters changed:
# https://docs.stripe.com/changelog/dahlia/2026-07-29/allowed-payment-method-types-parameter
# https://docs.stripe.com/changelog/endive/2026-09-30/removes-the-payment-method-types-parameter-from-payment-intents-and-setup-intents
ALLOWED_TYPES_ADDED = "2026-07-29"
PAYMENT_METHOD_TYPES_REMOVED = "2026-09-30"
# Currencies each non-card type settles in (a subset of Stripe's lists).
METHOD_CURRENCIES = {
    "sepa_debit": {"eur"},
    "customer_balance": {"eur", "gbp", "usd", "jpy", "mxn"},
}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
MODIFIABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
# What Stripe returns for a PaymentIntent fetched with a publishable key and its client secret.
PUBLISHABLE_PI_FIELDS = {
    "id",
    "object",
    "amount",
    "amount_details",
    "automatic_payment_methods",
    "canceled_at",
    "cancellation_reason",
    "capture_method",
    "client_secret",
    "confirmation_method",
    "created",
    "currency",
    "description",
    "last_payment_error",
    "livemode",
    "next_action",
    "payment_method",
    "payment_method_types",
    "processing",
    "receipt_email",
    "setup_future_usage",
    "shipping",
    "status",
}
EXPANDABLE = {
    "payment_intent": {"customer", "payment_method", "latest_charge"},
    "charge": {"customer", "payment_intent", "refunds"},
    "refund": {"charge", "payment_intent"},
    "payment_method": {"customer"},
    "customer": set(),
    "event": set(),
}
PREFIX_KINDS = {
    "cus": "customer",
    "pm": "payment_method",
    "pi": "payment_intent",
    "ch": "charge",
    "py": "charge",
    "re": "refund",
    "pyr": "refund",
    "evt": "event",
}
MISSING_PARAM = {
    "customer": "id",
    "payment_method": "payment_method",
    "payment_intent": "intent",
    "charge": "charge",
    "refund": "refund",
    "event": "id",
}
AUTH_FAILURE_MESSAGE = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data "
    "or a new PaymentMethod to attempt to fulfill this PaymentIntent again."
)


class StripeError(Exception):
    """An error answer with Stripe's body: {"error": {type, code, decline_code, message, ...}}."""

    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: Obj | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.error: Obj = {"type": type_, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"{DOCS}#{code.replace('_', '-')}"
        if decline_code:
            self.error["decline_code"] = decline_code
        if param:
            self.error["param"] = param
        self.error.update(extra or {})

    def body(self) -> Obj:
        return {"error": self.error}


def invalid(
    message: str, *, param: str | None = None, code: str | None = None, status: int = 400
) -> StripeError:
    return StripeError(status, "invalid_request_error", message, code=code, param=param)


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


class StripeAPI:
    def __init__(
        self, store: Store, *, refund_settle_delay: float = 2.0, account_country: str = "NL"
    ) -> None:
        self.store = store
        self.refund_settle_delay = refund_settle_delay
        # The account's country decides which payment methods work (Stripe's availability).
        self.default_account_country = self.account_country = account_country.upper()
        # (method, compiled path, handler, allowed with a publishable key)
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        table: list[tuple[str, str, Handler, bool]] = [
            ("POST", r"/v1/customers", self.customer_create, False),
            ("GET", r"/v1/customers", self.customer_list, False),
            ("GET", r"/v1/customers/(?P<obj_id>[^/]+)", self.customer_retrieve, False),
            ("POST", r"/v1/customers/(?P<obj_id>[^/]+)", self.customer_update, False),
            ("POST", r"/v1/payment_methods", self.payment_method_create, True),
            ("GET", r"/v1/payment_methods/(?P<obj_id>[^/]+)", self.payment_method_retrieve, False),
            ("POST", r"/v1/payment_intents", self.payment_intent_create, False),
            ("GET", r"/v1/payment_intents", self.payment_intent_list, False),
            ("GET", r"/v1/payment_intents/(?P<obj_id>[^/]+)", self.payment_intent_retrieve, True),
            ("POST", r"/v1/payment_intents/(?P<obj_id>[^/]+)", self.payment_intent_update, False),
            (
                "POST",
                r"/v1/payment_intents/(?P<obj_id>[^/]+)/confirm",
                self.payment_intent_confirm,
                True,
            ),
            (
                "POST",
                r"/v1/payment_intents/(?P<obj_id>[^/]+)/cancel",
                self.payment_intent_cancel,
                False,
            ),
            ("GET", r"/v1/charges", self.charge_list, False),
            ("GET", r"/v1/charges/(?P<obj_id>[^/]+)", self.charge_retrieve, False),
            ("POST", r"/v1/refunds", self.refund_create, False),
            ("GET", r"/v1/refunds", self.refund_list, False),
            ("GET", r"/v1/refunds/(?P<obj_id>[^/]+)", self.refund_retrieve, False),
            ("POST", r"/v1/refunds/(?P<obj_id>[^/]+)", self.refund_update, False),
            ("GET", r"/v1/events", self.event_list, False),
            ("GET", r"/v1/events/(?P<obj_id>[^/]+)", self.event_retrieve, False),
        ]
        for method, pattern, handler, publishable in table:
            self.routes.append((method, re.compile(pattern + "/?"), handler, publishable))

    # --- routing ------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool]:
        path_matched = False
        for route_method, pattern, handler, publishable in self.routes:
            match = pattern.fullmatch(path)
            if match:
                path_matched = True
                if route_method == method:
                    return handler, match.groupdict(), publishable
        if path_matched:
            raise invalid(
                f"Unrecognized request URL ({method}: {path}). The stand-in does not serve this "
                "method for this path.",
                status=404,
            )
        raise invalid(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
            "we can help at https://support.stripe.com/.",
            status=404,
        )

    # --- helpers ------------------------------------------------------------------------------
    def lookup(self, kind: str, obj_id: str, param: str | None = None) -> Obj:
        obj = self.store.get(kind, obj_id)
        if obj is None:
            raise invalid(
                f"No such {kind}: '{obj_id}'",
                param=param or MISSING_PARAM[kind],
                code="resource_missing",
                status=404,
            )
        return obj

    def find_any(self, obj_id: str) -> Obj | None:
        kind = PREFIX_KINDS.get(obj_id.split("_", 1)[0])
        return self.store.get(kind, obj_id) if kind else None

    def render(self, obj: Obj, ctx: Ctx, extra_expand: list[str] | None = None) -> Obj:
        expand = [*(get_list(ctx.params, "expand") or []), *(extra_expand or [])]
        result = copy.deepcopy(obj)
        for path in expand:
            if not isinstance(path, str):
                raise invalid("Invalid array", param="expand")
            result = self._expand(result, path.split("."), path)
        hide_unexpanded(result, set(expand))
        return result

    def _expand(self, obj: Obj, parts: list[str], full: str) -> Obj:
        head, rest = parts[0], parts[1:]
        if obj.get("object") == "list" and head == "data":
            obj["data"] = (
                [self._expand(item, rest, full) for item in obj["data"]] if rest else obj["data"]
            )
            return obj
        if head not in EXPANDABLE.get(obj.get("object", ""), set()):
            raise invalid(f"This property cannot be expanded ({full}).", param="expand")
        value = obj.get(head)
        if isinstance(value, str):
            target = self.find_any(value)
            value = copy.deepcopy(target) if target else value
        if isinstance(value, dict) and rest:
            value = self._expand(value, rest, full)
        obj[head] = value
        return obj

    def paginate(self, ctx: Ctx, url: str, items: list[Obj], allowed: set[str]) -> Obj:
        params = ctx.params
        check_unknown(
            params, allowed | {"limit", "starting_after", "ending_before", "expand", "created"}
        )
        limit = get_int(params, "limit")
        limit = 10 if limit is None else limit
        if not 1 <= limit <= 100:
            raise invalid("Invalid limit: must be between 1 and 100", param="limit")
        keep = created_filter(params)
        # Newest first, as Stripe lists; insertion order breaks ties within a second.
        ordered = [obj for obj in reversed(items) if keep(obj)]
        ordered.sort(key=lambda obj: obj["created"], reverse=True)
        ids = [obj["id"] for obj in ordered]
        after, before = get_str(params, "starting_after"), get_str(params, "ending_before")
        if after is not None:
            if after not in ids:
                raise invalid(
                    f"No such object: '{after}'",
                    param="starting_after",
                    code="resource_missing",
                    status=404,
                )
            window = ordered[ids.index(after) + 1 :]
            page, has_more = window[:limit], len(window) > limit
        elif before is not None:
            if before not in ids:
                raise invalid(
                    f"No such object: '{before}'",
                    param="ending_before",
                    code="resource_missing",
                    status=404,
                )
            window = ordered[: ids.index(before)]
            page, has_more = window[-limit:], len(window) > limit
        else:
            page, has_more = ordered[:limit], len(ordered) > limit
        listing = {"object": "list", "data": page, "has_more": has_more, "url": url}
        return self.render(listing, ctx)

    def emit(self, type_: str, obj: Obj, ctx: Ctx | None, previous: Obj | None = None) -> Obj:
        endpoints = [e for e in self.store.endpoints() if e.wants(type_)]
        rendered = copy.deepcopy(obj)
        hide_unexpanded(rendered, set())  # events carry objects as a plain retrieve would
        event = objects.event(
            type_=type_,
            obj=rendered,
            previous=previous,
            request_id=ctx.request_id if ctx else None,
            idempotency_key=ctx.idempotency_key if ctx else None,
            api_version=ctx.api_version if ctx else None,
            pending_webhooks=len(endpoints),
        )
        self.store.put(event)
        for endpoint in endpoints:
            self.store.queue_delivery(event["id"], endpoint.id)
        self.store.wakeup.set()
        return event

    def schedule(self, action: str, obj_id: str, delay: float) -> None:
        self.store.data["scheduled"].append(
            {"at": time.time() + delay, "action": action, "id": obj_id}
        )
        self.store.wakeup.set()

    # --- customers ----------------------------------------------------------------------------
    CUSTOMER_FIELDS = {
        "email",
        "name",
        "description",
        "phone",
        "metadata",
        "expand",
        "address",
        "shipping",
        "preferred_locales",
        "payment_method",
        "invoice_settings",
        "tax_exempt",
    }

    def customer_create(self, ctx: Ctx) -> Obj:
        params = ctx.params
        check_unknown(params, self.CUSTOMER_FIELDS)
        customer = objects.customer(
            email=get_str(params, "email"),
            name=get_str(params, "name"),
            description=get_str(params, "description"),
            phone=get_str(params, "phone"),
            metadata=apply_metadata(params),
        )
        self.store.put(customer)
        self.emit("customer.created", customer, ctx)
        return self.render(customer, ctx)

    def customer_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("customer", obj_id), ctx)

    def customer_update(self, ctx: Ctx, obj_id: str) -> Obj:
        params = ctx.params
        check_unknown(params, self.CUSTOMER_FIELDS)
        customer = self.lookup("customer", obj_id)
        previous: Obj = {}
        for name in ("email", "name", "description", "phone"):
            if name in params:
                previous[name] = customer[name]
                customer[name] = get_str(params, name)
        if "metadata" in params:
            previous["metadata"] = customer["metadata"]
            customer["metadata"] = apply_metadata(params, customer["metadata"])
        self.emit("customer.updated", customer, ctx, previous)
        return self.render(customer, ctx)

    def customer_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("customer").values())
        email = get_str(ctx.params, "email")
        if email is not None:
            items = [c for c in items if c["email"] == email]
        return self.paginate(ctx, "/v1/customers", items, {"email"})

    # --- payment methods ----------------------------------------------------------------------
    def payment_method_create(self, ctx: Ctx) -> Obj:
        params = ctx.params
        check_unknown(
            params,
            {
                "type",
                "card",
                "billing_details",
                "metadata",
                "expand",
                "sepa_debit",
                "customer_balance",
                "allow_redisplay",
            },
        )
        pm = self.build_payment_method(params, prefix="")
        return self.render(pm, ctx)

    def build_payment_method(self, params: Obj, prefix: str) -> Obj:
        """Create a PaymentMethod from `type` + details (the body of /v1/payment_methods or of
        `payment_method_data`)."""

        def p(name: str) -> str:
            return f"{prefix}[{name}]" if prefix else name

        type_ = get_str(params, "type")
        if type_ is None:
            raise invalid(
                f"Missing required param: {p('type')}.", param=p("type"), code="parameter_missing"
            )
        billing = get_dict(params, "billing_details")
        metadata = apply_metadata(params)
        private: Obj = {}
        if type_ == "card":
            card_params = get_dict(params, "card")
            if card_params is None:
                raise invalid(
                    f"Missing required param: {p('card')}.",
                    param=p("card"),
                    code="parameter_missing",
                )
            card, exp_month, exp_year = self.parse_card(card_params, p("card"))
            details = objects.card_details(card, exp_month, exp_year)
            if card_params.get("cvc"):
                details["checks"]["cvc_check"] = "pass"
            private["card_number"] = card.number
        elif type_ == "sepa_debit":
            iban = (get_dict(params, "sepa_debit") or {}).get("iban", "").replace(" ", "").upper()
            if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
                raise invalid(
                    "Invalid IBAN", param=p("sepa_debit[iban]"), code="invalid_bank_account_iban"
                )
            details = {
                "bank_code": iban[4:12],
                "branch_code": "",
                "country": iban[:2],
                "fingerprint": f"fp{iban[-8:]}",
                "generated_from": {"charge": None, "setup_attempt": None},
                "last4": iban[-4:],
            }
        else:
            details = {}
        pm = objects.payment_method(
            type_=type_, details=details, billing=billing, metadata=metadata
        )
        self.store.put(pm)
        self.store.private(pm["id"]).update(private)
        return pm

    def parse_card(self, card: Obj, param: str) -> tuple[TestCard, int, int]:
        check_unknown(card, {"number", "exp_month", "exp_year", "cvc", "networks"}, param)
        number = (get_str(card, "number") or "").replace(" ", "")
        if not number:
            raise invalid(
                f"Missing required param: {param}[number].",
                param=f"{param}[number]",
                code="parameter_missing",
            )
        if not luhn_valid(number):
            raise card_error(
                "incorrect_number", "Your card number is incorrect.", param=f"{param}[number]"
            )
        test_card = CARDS.get(number)
        if test_card is None:
            raise card_error(
                "card_declined",
                "Your card was declined. Your request was in test mode, but used a non test (live) "
                "card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
                decline_code="live_mode_test_card",
            )
        exp_month = get_int(card, "exp_month")
        exp_year = get_int(card, "exp_year")
        if exp_month is None:
            raise invalid(
                f"Missing required param: {param}[exp_month].",
                param=f"{param}[exp_month]",
                code="parameter_missing",
            )
        if exp_year is None:
            raise invalid(
                f"Missing required param: {param}[exp_year].",
                param=f"{param}[exp_year]",
                code="parameter_missing",
            )
        if exp_year < 100:
            exp_year += 2000
        if not 1 <= exp_month <= 12:
            raise card_error(
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
                param=f"{param}[exp_month]",
            )
        today = time.gmtime()
        if exp_year < today.tm_year or exp_year > today.tm_year + 50:
            raise card_error(
                "invalid_expiry_year",
                "Your card's expiration year is invalid.",
                param=f"{param}[exp_year]",
            )
        if exp_year == today.tm_year and exp_month < today.tm_mon:
            raise card_error(
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
                param=f"{param}[exp_month]",
            )
        cvc = card.get("cvc")
        if cvc not in (None, "") and not re.fullmatch(r"\d{3,4}", str(cvc)):
            raise card_error(
                "invalid_cvc", "Your card's security code is invalid.", param=f"{param}[cvc]"
            )
        return test_card, exp_month, exp_year

    def payment_method_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.resolve_payment_method(obj_id, "payment_method"), ctx)

    def resolve_payment_method(self, pm_id: str, param: str) -> Obj:
        """A PaymentMethod id, or a Stripe test token (which makes a fresh PaymentMethod)."""
        if pm_id in TOKENS:
            card = CARDS[TOKENS[pm_id]]
            pm = objects.payment_method(
                type_="card",
                details=objects.card_details(card, 12, time.gmtime().tm_year + 3),
                billing=None,
                metadata={},
            )
            self.store.put(pm)
            self.store.private(pm["id"])["card_number"] = card.number
            return pm
        return self.lookup("payment_method", pm_id, param)

    def card_of(self, pm: Obj) -> TestCard | None:
        number = self.store.private(pm["id"]).get("card_number")
        return CARDS.get(number) if number else None

    # --- payment intents ----------------------------------------------------------------------
    PI_CREATE_FIELDS = {
        "amount",
        "currency",
        "customer",
        "description",
        "metadata",
        "payment_method",
        "payment_method_types",
        "allowed_payment_method_types",
        "excluded_payment_method_types",
        "payment_method_data",
        "payment_method_options",
        "automatic_payment_methods",
        "confirm",
        "receipt_email",
        "capture_method",
        "setup_future_usage",
        "shipping",
        "statement_descriptor",
        "statement_descriptor_suffix",
        "return_url",
        "off_session",
        "error_on_requires_action",
        "use_stripe_sdk",
        "expand",
        "confirmation_method",
        "mandate_data",
        "transfer_group",
    }

    def payment_intent_create(self, ctx: Ctx) -> Obj:
        params = ctx.params
        check_unknown(params, self.PI_CREATE_FIELDS)
        currency = (get_str(params, "currency", required=True) or "").lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise invalid(
                f"Invalid currency: {currency}.", param="currency", code="parameter_invalid_string"
            )
        amount = get_int(params, "amount", required=True)
        assert amount is not None
        self.check_amount(amount, currency)
        customer_id = get_str(params, "customer")
        if customer_id is not None:
            self.lookup("customer", customer_id, "customer")
        allowed_types, types = self.method_types(ctx, currency, customer_id)
        automatic = types is None
        capture_method = get_enum(
            params, "capture_method", ("automatic", "automatic_async", "manual")
        )
        if capture_method == "manual":
            raise invalid("The stand-in does not model manual capture.", param="capture_method")
        pi = objects.payment_intent(
            amount=amount,
            currency=currency,
            customer_id=customer_id,
            description=get_str(params, "description"),
            metadata=apply_metadata(params),
            payment_method_types=types or ["card"],
            allowed_payment_method_types=allowed_types,
            automatic=automatic,
            receipt_email=get_str(params, "receipt_email"),
            capture_method=capture_method or "automatic_async",
            setup_future_usage=get_enum(
                params, "setup_future_usage", ("off_session", "on_session")
            ),
            statement_descriptor=get_str(params, "statement_descriptor"),
            statement_descriptor_suffix=get_str(params, "statement_descriptor_suffix"),
            shipping=get_dict(params, "shipping"),
        )
        confirm = get_bool(params, "confirm")
        pm_id = get_str(params, "payment_method")
        if pm_id is not None and not confirm:
            pi["payment_method"] = self.resolve_payment_method(pm_id, "payment_method")["id"]
            pi["status"] = "requires_confirmation"
        self.store.put(pi)
        self.emit("payment_intent.created", pi, ctx)
        if confirm:
            self.confirm(pi, ctx)
        return self.render(pi, ctx)

    def method_types(
        self, ctx: Ctx, currency: str, customer_id: str | None
    ) -> tuple[list[str] | None, list[str] | None]:
        """(allowed_payment_method_types, payment_method_types) from the request, the way the
        request's API version reads them: `payment_method_types` is writable up to 2026-09-30,
        `allowed_payment_method_types` (which filters out what cannot work) from 2026-07-29."""
        params = ctx.params
        version = (ctx.api_version or objects.DEFAULT_API_VERSION)[:10]
        if "payment_method_types" in params and version >= PAYMENT_METHOD_TYPES_REMOVED:
            raise invalid(
                "The `payment_method_types` parameter is no longer supported on API version "
                f"{ctx.api_version or objects.DEFAULT_API_VERSION}. Use "
                "`allowed_payment_method_types` or dynamic payment methods instead.",
                param="payment_method_types",
                code="payment_method_types_no_longer_supported",
            )
        if "allowed_payment_method_types" in params and version < ALLOWED_TYPES_ADDED:
            raise invalid(
                "Received unknown parameter: allowed_payment_method_types",
                param="allowed_payment_method_types",
                code="parameter_unknown",
            )
        name = (
            "allowed_payment_method_types"
            if "allowed_payment_method_types" in params
            else "payment_method_types"
        )
        requested = get_list(params, name)
        if requested is None:
            return None, None
        if not requested or not all(isinstance(t, str) and t for t in requested):
            raise invalid("Invalid array", param=name)
        if name == "allowed_payment_method_types":
            exclusive = {"automatic_payment_methods", "excluded_payment_method_types"}
            if exclusive & set(params):
                raise invalid(
                    "allowed_payment_method_types cannot be used with "
                    f"{', '.join(sorted(exclusive & set(params)))}.",
                    param=name,
                )
            usable = [
                t for t in requested if compatible(t, currency, customer_id, self.account_country)
            ]
            if not usable:
                raise invalid(
                    "None of the allowed_payment_method_types can be used with this "
                    f"PaymentIntent ({currency}, customer {customer_id or 'none'}).",
                    param=name,
                )
            return list(requested), usable
        for type_ in requested:
            if not compatible(type_, currency, customer_id, self.account_country):
                raise invalid(
                    f"The payment method type `{type_}` cannot be used with this PaymentIntent "
                    f"({currency}, customer {customer_id or 'none'}).",
                    param=name,
                )
        return None, list(requested)

    def check_amount(self, amount: int, currency: str) -> None:
        minimum = MINIMUM_AMOUNTS.get(currency, 1)
        if amount < minimum:
            raise invalid(
                f"Amount must be at least {format_amount(minimum, currency)}",
                param="amount",
                code="amount_too_small",
            )
        if amount > MAXIMUM_AMOUNT:
            raise invalid(
                f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
                param="amount",
                code="amount_too_large",
            )

    def payment_intent_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand", "client_secret"})
        pi = self.lookup("payment_intent", obj_id)
        if ctx.key_type == "publishable":
            return self.publishable_view(pi, ctx)
        return self.render(pi, ctx)

    def publishable_view(self, pi: Obj, ctx: Ctx) -> Obj:
        if ctx.params.get("client_secret") != pi["client_secret"]:
            raise invalid(
                "The client_secret provided does not match the client_secret associated with the "
                "PaymentIntent.",
                param="client_secret",
            )
        return {k: v for k, v in self.render(pi, ctx).items() if k in PUBLISHABLE_PI_FIELDS}

    def payment_intent_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("payment_intent").values())
        customer = get_str(ctx.params, "customer")
        if customer is not None:
            items = [pi for pi in items if pi["customer"] == customer]
        return self.paginate(ctx, "/v1/payment_intents", items, {"customer"})

    def payment_intent_update(self, ctx: Ctx, obj_id: str) -> Obj:
        params = ctx.params
        allowed = {
            "amount",
            "currency",
            "customer",
            "description",
            "metadata",
            "payment_method",
            "payment_method_types",
            "allowed_payment_method_types",
            "receipt_email",
            "setup_future_usage",
            "shipping",
            "statement_descriptor",
            "statement_descriptor_suffix",
            "expand",
            "capture_method",
            "payment_method_options",
            "transfer_group",
        }
        check_unknown(params, allowed)
        pi = self.lookup("payment_intent", obj_id)
        for name in set(params) - {
            "metadata",
            "description",
            "receipt_email",
            "shipping",
            "expand",
        }:
            if pi["status"] not in MODIFIABLE:
                raise invalid(
                    f"This PaymentIntent's {name} could not be updated because it has a status of "
                    f"{pi['status']}. You may only update the {name} of a PaymentIntent with one "
                    "of the following statuses: requires_payment_method, requires_confirmation, "
                    "requires_action.",
                    param=name,
                    code="payment_intent_unexpected_state",
                )
        if "amount" in params:
            amount = get_int(params, "amount", required=True)
            assert amount is not None
            self.check_amount(amount, pi["currency"])
            pi["amount"] = amount
        if "currency" in params:
            pi["currency"] = (get_str(params, "currency", required=True) or "").lower()
        if "customer" in params:
            customer = get_str(params, "customer")
            if customer is not None:
                self.lookup("customer", customer, "customer")
            pi["customer"] = customer
        for name in (
            "description",
            "receipt_email",
            "statement_descriptor",
            "statement_descriptor_suffix",
        ):
            if name in params:
                pi[name] = get_str(params, name)
        if "shipping" in params:
            pi["shipping"] = get_dict(params, "shipping") if params["shipping"] != "" else None
        if "setup_future_usage" in params:
            pi["setup_future_usage"] = get_enum(
                params, "setup_future_usage", ("off_session", "on_session")
            )
        if "payment_method_types" in params or "allowed_payment_method_types" in params:
            allowed_types, types = self.method_types(ctx, pi["currency"], pi["customer"])
            pi["allowed_payment_method_types"] = allowed_types
            pi["payment_method_types"] = types or ["card"]
            pi["automatic_payment_methods"] = None
        if "metadata" in params:
            pi["metadata"] = apply_metadata(params, pi["metadata"])
        if "payment_method" in params:
            pm_id = get_str(params, "payment_method")
            pi["payment_method"] = (
                self.resolve_payment_method(pm_id, "payment_method")["id"] if pm_id else None
            )
            if pi["payment_method"]:
                pi["status"] = "requires_confirmation"
                pi["next_action"] = None
        return self.render(pi, ctx)

    def payment_intent_confirm(self, ctx: Ctx, obj_id: str) -> Obj:
        params = ctx.params
        check_unknown(
            params,
            {
                "payment_method",
                "payment_method_data",
                "payment_method_options",
                "return_url",
                "receipt_email",
                "setup_future_usage",
                "shipping",
                "off_session",
                "error_on_requires_action",
                "use_stripe_sdk",
                "mandate_data",
                "expand",
                "client_secret",
                "capture_method",
            },
        )
        pi = self.lookup("payment_intent", obj_id)
        if ctx.key_type == "publishable":
            self.publishable_view(pi, ctx)  # checks the client secret
        self.confirm(pi, ctx)
        if ctx.key_type == "publishable":
            return self.publishable_view(pi, ctx)
        return self.render(pi, ctx)

    def confirm(self, pi: Obj, ctx: Ctx) -> None:
        """Stripe's confirmation: attach the PaymentMethod and try to pay. A card decline answers
        402 with the PaymentIntent inside the error, after the state change is stored."""
        params = ctx.params
        if pi["status"] not in CONFIRMABLE:
            raise invalid(
                f"You cannot confirm this PaymentIntent because it has a status of {pi['status']}. "
                "Only a PaymentIntent with one of the following statuses may be confirmed: "
                "requires_confirmation, requires_payment_method, requires_action.",
                code="payment_intent_unexpected_state",
            )
        pm_data = get_dict(params, "payment_method_data")
        pm_id = get_str(params, "payment_method")
        if pm_data is not None:
            pm = self.build_payment_method(pm_data, prefix="payment_method_data")
        elif pm_id is not None:
            pm = self.resolve_payment_method(pm_id, "payment_method")
        elif pi["payment_method"]:
            pm = self.lookup("payment_method", pi["payment_method"], "payment_method")
        else:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method. You "
                "can either update the PaymentIntent with a payment method and then confirm it "
                "again, or confirm it again directly with a payment method.",
                code="payment_intent_unexpected_state",
            )
        if pm["type"] not in pi["payment_method_types"]:
            raise invalid(
                f"The provided PaymentMethod of type `{pm['type']}` cannot be used with this "
                "PaymentIntent because it is not in the list of payment_method_types "
                f"[{', '.join(pi['payment_method_types'])}].",
                param="payment_method",
                code="payment_intent_incompatible_payment_method",
            )
        for name in ("receipt_email",):
            if name in params:
                pi[name] = get_str(params, name)
        pi["payment_method"] = pm["id"]
        pi["last_payment_error"] = None
        pi["next_action"] = None
        return_url = get_str(params, "return_url")
        if pm["type"] != "card":
            self.confirm_bank_payment(pi, pm, ctx, return_url)
            return
        card = self.card_of(pm)
        assert card is not None
        if card.behaviour == "decline":
            assert card.decline is not None
            self.decline(pi, pm, card, ctx)
        elif card.behaviour == "authenticate":
            if get_bool(params, "off_session") or get_bool(params, "error_on_requires_action"):
                decline = objects.outcome_declined("authentication_required")
                self.fail_payment(
                    pi,
                    pm,
                    ctx,
                    code="authentication_required",
                    decline_code="authentication_required",
                    message="Your card was declined. This transaction requires authentication.",
                    outcome=decline,
                )
            pi["status"] = "requires_action"
            bank_page = f"{ctx.base_url}/_sandbox/three_d_secure/{pi['id']}"
            if return_url:
                pi["next_action"] = {
                    "type": "redirect_to_url",
                    "redirect_to_url": {
                        "url": f"{bank_page}?return_url={quote(return_url, safe='')}",
                        "return_url": return_url,
                    },
                }
            else:
                pi["next_action"] = {
                    "type": "use_stripe_sdk",
                    "use_stripe_sdk": {
                        "type": "three_d_secure_redirect",
                        "stripe_js": bank_page,
                        "source": objects.new_id("src"),
                    },
                }
            self.emit("payment_intent.requires_action", pi, ctx)
        else:
            self.succeed(pi, pm, ctx)

    def succeed(self, pi: Obj, pm: Obj, ctx: Ctx | None, three_d_secure: Obj | None = None) -> None:
        ch = objects.charge(
            pi=pi,
            pm=pm,
            status="succeeded",
            outcome=objects.outcome_authorized(),
            three_d_secure=three_d_secure,
        )
        self.store.put(ch)
        card = self.card_of(pm)
        if card is not None:
            self.store.private(ch["id"])["card_number"] = card.number
        pi.update(
            status="succeeded",
            amount_received=pi["amount"],
            latest_charge=ch["id"],
            next_action=None,
            last_payment_error=None,
            processing=None,
        )
        self.emit("charge.succeeded", ch, ctx)
        self.emit("payment_intent.succeeded", pi, ctx)

    def decline(self, pi: Obj, pm: Obj, card: TestCard, ctx: Ctx) -> None:
        assert card.decline is not None
        self.fail_payment(
            pi,
            pm,
            ctx,
            code=card.decline.code,
            decline_code=card.decline.decline_code,
            message=card.decline.message,
            param=card.decline.param,
            outcome=objects.outcome_declined(card.decline.decline_code),
        )

    def fail_payment(
        self,
        pi: Obj,
        pm: Obj,
        ctx: Ctx,
        *,
        code: str,
        decline_code: str,
        message: str,
        outcome: Obj,
        param: str | None = None,
    ) -> None:
        ch = objects.charge(
            pi=pi,
            pm=pm,
            status="failed",
            outcome=outcome,
            failure_code=code,
            failure_message=message,
        )
        self.store.put(ch)
        error = StripeError(
            402, "card_error", message, code=code, param=param, decline_code=decline_code
        )
        # As Stripe's declines carry them: what to do next, and the card network's own code.
        error.error.update(
            charge=ch["id"],
            payment_method=copy.deepcopy(pm),
            advice_code=outcome.get("advice_code"),
            network_decline_code=outcome.get("network_decline_code"),
        )
        pi.update(
            status="requires_payment_method",
            latest_charge=ch["id"],
            payment_method=None,
            next_action=None,
            last_payment_error=copy.deepcopy(error.error),
        )
        self.emit("charge.failed", ch, ctx)
        self.emit("payment_intent.payment_failed", pi, ctx)
        view = (
            self.publishable_view(pi, ctx) if ctx.key_type == "publishable" else copy.deepcopy(pi)
        )
        error.error["payment_intent"] = view
        error.error["request_log_url"] = None
        raise error

    # --- 3-D Secure (the bank's part, driven through /_sandbox) -----------------------------
    def three_d_secure(self, pi_id: str, outcome: str) -> Obj:
        pi = self.lookup("payment_intent", pi_id)
        next_action = pi["next_action"] or {}
        if pi["status"] != "requires_action" or next_action.get("type") not in (
            "use_stripe_sdk",
            "redirect_to_url",
        ):
            raise invalid(
                f"PaymentIntent {pi_id} is not waiting for 3-D Secure (status {pi['status']}).",
                code="payment_intent_unexpected_state",
            )
        pm = self.lookup("payment_method", pi["payment_method"], "payment_method")
        if outcome == "complete":
            self.succeed(
                pi,
                pm,
                None,
                three_d_secure={
                    "authentication_flow": "challenge",
                    "electronic_commerce_indicator": "05",
                    "exemption_indicator": None,
                    "result": "authenticated",
                    "result_reason": None,
                    "transaction_id": objects.new_id("3ds"),
                    "version": "2.2.0",
                },
            )
        else:
            error = {
                "type": "invalid_request_error",
                "code": "payment_intent_authentication_failure",
                "doc_url": f"{DOCS}#payment-intent-authentication-failure",
                "message": AUTH_FAILURE_MESSAGE,
                "payment_method": copy.deepcopy(pm),
            }
            pi.update(
                status="requires_payment_method",
                payment_method=None,
                next_action=None,
                last_payment_error=error,
            )
            self.emit("payment_intent.payment_failed", pi, None)
        return pi

    # --- bank transfers and debits ------------------------------------------------------------
    def confirm_bank_payment(self, pi: Obj, pm: Obj, ctx: Ctx, return_url: str | None) -> None:
        if pm["type"] == "customer_balance":
            # Waits for the customer's transfer: /_sandbox/payment_intents/<id>/processing etc.
            pi["status"] = "requires_action"
            pi["next_action"] = {
                "type": "display_bank_transfer_instructions",
                "display_bank_transfer_instructions": {
                    "amount_remaining": pi["amount"],
                    "currency": pi["currency"],
                    "financial_addresses": [
                        {
                            "iban": {
                                "account_holder_name": "Stripe Sandbox",
                                "bic": "SANDDEFFXXX",
                                "country": "DE",
                                "iban": "DE00SANDBOX0000000000",
                            },
                            "supported_networks": ["sepa"],
                            "type": "iban",
                        }
                    ],
                    "hosted_instructions_url": (
                        f"{ctx.base_url}/_sandbox/payment_intents/{pi['id']}"
                    ),
                    "reference": pi["id"][-12:].upper(),
                    "type": "eu_bank_transfer",
                },
            }
            self.emit("payment_intent.requires_action", pi, ctx)
        else:
            self.start_processing(pi, pm, ctx)

    def start_processing(self, pi: Obj, pm: Obj, ctx: Ctx | None) -> None:
        ch = objects.charge(
            pi=pi,
            pm=pm,
            status="pending",
            outcome={
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "not_assessed",
                "seller_message": "Payment complete.",
                "type": "authorized",
                "advice_code": None,
                "network_advice_code": None,
                "network_decline_code": None,
            },
        )
        self.store.put(ch)
        pi.update(
            status="processing", payment_method=pm["id"], latest_charge=ch["id"], next_action=None
        )
        self.emit("charge.pending", ch, ctx)
        self.emit("payment_intent.processing", pi, ctx)

    def bank_payment(self, pi_id: str, action: str, ctx: Ctx | None = None) -> Obj:
        """The customer's bank moves: `processing`, then `succeed` or `fail`."""
        pi = self.lookup("payment_intent", pi_id)
        if "card" in pi["payment_method_types"] and len(pi["payment_method_types"]) == 1:
            raise invalid(
                f"PaymentIntent {pi_id} is a card payment; use the 3-D Secure or test card flows."
            )
        pm = self.store.get("payment_method", pi["payment_method"] or "")
        if pm is None:
            type_ = next(t for t in pi["payment_method_types"] if t != "card")
            pm = objects.payment_method(type_=type_, details={}, billing=None, metadata={})
            self.store.put(pm)
        if action == "processing" or (
            action in ("succeed", "fail") and pi["status"] in CONFIRMABLE
        ):
            if pi["status"] not in CONFIRMABLE:
                raise invalid(
                    f"PaymentIntent {pi_id} has status {pi['status']}; it cannot start processing.",
                    code="payment_intent_unexpected_state",
                )
            self.start_processing(pi, pm, ctx)
            if action == "processing":
                return pi
        if pi["status"] != "processing":
            raise invalid(
                f"PaymentIntent {pi_id} has status {pi['status']}, not processing.",
                code="payment_intent_unexpected_state",
            )
        ch = self.lookup("charge", pi["latest_charge"])
        if action == "succeed":
            ch.update(status="succeeded", paid=True, balance_transaction=objects.new_id("txn"))
            pi.update(status="succeeded", amount_received=pi["amount"])
            self.emit("charge.succeeded", ch, ctx, {"status": "pending", "paid": False})
            self.emit("payment_intent.succeeded", pi, ctx)
        elif action == "fail":
            message = "The customer's bank could not complete the payment."
            ch.update(
                status="failed",
                captured=False,
                amount_captured=0,
                failure_code="payment_method_provider_decline",
                failure_message=message,
            )
            pi.update(
                status="requires_payment_method",
                payment_method=None,
                last_payment_error={
                    "type": "card_error",
                    "code": "payment_method_provider_decline",
                    "message": message,
                    "charge": ch["id"],
                    "payment_method": copy.deepcopy(pm),
                    "doc_url": f"{DOCS}#payment-method-provider-decline",
                },
            )
            self.emit("charge.failed", ch, ctx, {"status": "pending"})
            self.emit("payment_intent.payment_failed", pi, ctx)
        else:
            raise invalid(f"Unknown action {action}: use processing, succeed or fail.")
        return pi

    def payment_intent_cancel(self, ctx: Ctx, obj_id: str) -> Obj:
        params = ctx.params
        check_unknown(params, {"cancellation_reason", "expand"})
        reason = get_enum(params, "cancellation_reason", CANCELLATION_REASONS)
        pi = self.lookup("payment_intent", obj_id)
        if pi["status"] not in CANCELABLE:
            raise invalid(
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. "
                "Only a PaymentIntent with one of the following statuses may be canceled: "
                f"{', '.join(CANCELABLE)}.",
                code="payment_intent_unexpected_state",
            )
        if pi["status"] == "processing" and pi["latest_charge"]:
            ch = self.lookup("charge", pi["latest_charge"])
            ch.update(
                status="failed",
                failure_code="payment_intent_canceled",
                failure_message="The PaymentIntent was canceled.",
            )
        pi.update(
            status="canceled",
            canceled_at=objects.now(),
            cancellation_reason=reason,
            next_action=None,
        )
        self.emit("payment_intent.canceled", pi, ctx)
        return self.render(pi, ctx)

    # --- charges ------------------------------------------------------------------------------
    def charge_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("charge", obj_id), ctx)

    def charge_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("charge").values())
        for name in ("payment_intent", "customer"):
            value = get_str(ctx.params, name)
            if value is not None:
                items = [ch for ch in items if ch[name] == value]
        return self.paginate(ctx, "/v1/charges", items, {"payment_intent", "customer"})

    # --- refunds ------------------------------------------------------------------------------
    def refund_create(self, ctx: Ctx) -> Obj:
        params = ctx.params
        check_unknown(
            params,
            {
                "amount",
                "charge",
                "payment_intent",
                "reason",
                "metadata",
                "expand",
                "instructions_email",
                "refund_application_fee",
                "reverse_transfer",
                "currency",
                "customer",
                "origin",
            },
        )
        pi_id, ch_id = get_str(params, "payment_intent"), get_str(params, "charge")
        reason = get_enum(params, "reason", REFUND_REASONS)
        amount = get_int(params, "amount", minimum=1)
        metadata = apply_metadata(params)
        if pi_id is None and ch_id is None:
            raise invalid(
                "One of the following params should be provided for this request: payment_intent "
                "or charge.",
                code="parameter_missing",
            )
        if pi_id is not None:
            pi = self.lookup("payment_intent", pi_id, "payment_intent")
            charge = self.store.get("charge", pi["latest_charge"] or "")
            if pi["status"] != "succeeded" or charge is None or charge["status"] != "succeeded":
                raise invalid(
                    f"This PaymentIntent ({pi_id}) does not have a successful charge to refund.",
                    param="payment_intent",
                    code="charge_not_refundable",
                )
            if ch_id is not None and ch_id != charge["id"]:
                raise invalid(
                    f"Charge {ch_id} does not belong to PaymentIntent {pi_id}.", param="charge"
                )
        else:
            assert ch_id is not None
            charge = self.lookup("charge", ch_id, "charge")
            if charge["status"] != "succeeded":
                raise invalid(
                    f"Charge {ch_id} has a status of {charge['status']}; only a successful charge "
                    "can be refunded.",
                    param="charge",
                    code="charge_not_refundable",
                )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        amount = remaining if amount is None else amount
        if amount > remaining:
            currency = charge["currency"]
            what = (
                f"charge amount ({format_amount(charge['amount'], currency)})"
                if charge["amount_refunded"] == 0
                else f"unrefunded amount on charge ({format_amount(remaining, currency)})"
            )
            raise invalid(
                f"Refund amount ({format_amount(amount, currency)}) is greater than {what}",
                param="amount",
                code="amount_too_large",
            )
        number = self.store.private(charge["id"]).get("card_number")
        behaviour = CARDS[number].behaviour if number else "succeed"
        pending = (
            behaviour == "refund_pending"
            or charge["payment_method_details"]["type"] == "sepa_debit"
        )
        refund = objects.refund(
            ch=charge,
            amount=amount,
            reason=reason,
            metadata=metadata,
            status="pending" if pending else "succeeded",
        )
        self.store.put(refund)
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        self.add_to_charge_refunds(charge, refund)
        if behaviour == "refund_fail":
            self.schedule("refund_fail", refund["id"], self.refund_settle_delay)
        elif pending:
            self.schedule("refund_succeed", refund["id"], self.refund_settle_delay)
        self.emit("refund.created", refund, ctx)
        self.emit("charge.refunded", charge, ctx, previous)
        return self.render(refund, ctx)

    def add_to_charge_refunds(self, charge: Obj, refund: Obj) -> None:
        refunds = charge["refunds"]
        refunds["data"] = [r for r in refunds["data"] if r["id"] != refund["id"]]
        refunds["data"].insert(0, copy.deepcopy(refund))
        refunds["total_count"] = len(refunds["data"])

    def settle_refund(self, refund_id: str, action: str) -> None:
        refund = self.store.get("refund", refund_id)
        if refund is None:
            return  # gone with a reset
        charge = self.lookup("charge", refund["charge"])
        previous = {"status": refund["status"]}
        if action == "refund_fail":
            refund.update(
                status="failed",
                failure_reason="expired_or_canceled_card",
                failure_balance_transaction=objects.new_id("txn"),
            )
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
        else:
            refund["status"] = "succeeded"
        self.add_to_charge_refunds(charge, refund)
        self.emit("charge.refund.updated", refund, None, previous)
        self.emit("refund.updated", refund, None, previous)
        if action == "refund_fail":
            self.emit("refund.failed", refund, None, previous)

    def run_due_jobs(self) -> None:
        now = time.time()
        due = [job for job in self.store.data["scheduled"] if job["at"] <= now]
        if not due:
            return
        self.store.data["scheduled"] = [j for j in self.store.data["scheduled"] if j["at"] > now]
        for job in due:
            self.settle_refund(job["id"], job["action"])
        self.store.save()

    def refund_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("refund", obj_id), ctx)

    def refund_update(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"metadata", "expand"})
        refund = self.lookup("refund", obj_id)
        refund["metadata"] = apply_metadata(ctx.params, refund["metadata"])
        return self.render(refund, ctx)

    def refund_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("refund").values())
        for name in ("payment_intent", "charge"):
            value = get_str(ctx.params, name)
            if value is not None:
                items = [r for r in items if r[name] == value]
        return self.paginate(ctx, "/v1/refunds", items, {"payment_intent", "charge"})

    # --- events -------------------------------------------------------------------------------
    def event_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("event", obj_id), ctx)

    def event_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("event").values())
        single = get_str(ctx.params, "type")
        types = get_list(ctx.params, "types")
        if single is not None and types is not None:
            raise invalid("You may pass either type or types, but not both.", param="types")
        patterns = [single] if single is not None else types
        if patterns is not None:
            regexes = [re.compile(re.escape(p).replace(r"\*", ".*") + "$") for p in patterns]
            items = [e for e in items if any(r.match(e["type"]) for r in regexes)]
        return self.paginate(ctx, "/v1/events", items, {"type", "types", "delivery_success"})


# Bank transfers (customer_balance) are offered by accounts in these places, in their currency.
EU_COUNTRIES = {
    "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV",
    "MT", "NL", "PT", "SI", "SK",
}  # fmt: skip
BANK_TRANSFER_CURRENCY = {"US": "usd", "GB": "gbp", "JP": "jpy", "MX": "mxn"}


def compatible(type_: str, currency: str, customer_id: str | None, account_country: str) -> bool:
    """Whether a payment method type can work for this currency, customer and account, as
    Stripe decides it (what `allowed_payment_method_types` silently drops otherwise)."""
    if type_ == "customer_balance":
        if customer_id is None:
            return False  # bank transfers credit a customer's balance
        local = (
            "eur"
            if account_country in EU_COUNTRIES
            else BANK_TRANSFER_CURRENCY.get(account_country)
        )
        return currency == local
    return currency in METHOD_CURRENCIES.get(type_, {currency})


def hide_unexpanded(obj: Any, expanded: set[str], prefix: str = "") -> None:
    """Drop what this API version sends only when asked for with `expand`: since 2022-11-15 a
    charge's `refunds` (its refunds are listed with /v1/refunds?charge=)."""
    if not isinstance(obj, dict):
        return
    if obj.get("object") == "charge" and f"{prefix}refunds" not in expanded:
        obj.pop("refunds", None)
    if obj.get("object") == "list":
        for item in obj.get("data") or []:
            hide_unexpanded(item, expanded, f"{prefix}data.")
        return
    for key, value in obj.items():
        if isinstance(value, dict):
            hide_unexpanded(value, expanded, f"{prefix}{key}.")


def card_error(
    code: str, message: str, *, param: str | None = None, decline_code: str | None = None
) -> StripeError:
    return StripeError(
        402, "card_error", message, code=code, param=param, decline_code=decline_code
    )


assert set(EXPANDABLE) == set(KINDS)
