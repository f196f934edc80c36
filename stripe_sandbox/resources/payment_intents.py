"""PaymentIntents: create (with Stripe's payment method type rules), retrieve, update, cancel."""

from __future__ import annotations

import re

from .. import objects
from ..errors import invalid
from ..params import (
    Ctx,
    apply_metadata,
    check_unknown,
    format_amount,
    get_bool,
    get_dict,
    get_enum,
    get_int,
    get_list,
    get_str,
)
from ..rules import (
    ALLOWED_TYPES_ADDED,
    CANCELABLE,
    CANCELLATION_REASONS,
    MAXIMUM_AMOUNT,
    MINIMUM_AMOUNTS,
    MODIFIABLE,
    PAYMENT_METHOD_TYPES_REMOVED,
    Obj,
    amount_problem,
    compatible,
)
from .confirmation import ConfirmationAPI


class PaymentIntentsAPI(ConfirmationAPI):
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
        self.apply_method_options(pi, get_dict(params, "payment_method_options"))
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
        problem = amount_problem(amount, currency)
        if problem:
            raise invalid(problem, param="amount")
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
