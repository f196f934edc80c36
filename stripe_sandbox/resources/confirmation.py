"""Confirming a PaymentIntent: the card's outcome, 3-D Secure, bank transfers and debits."""

from __future__ import annotations

import copy
from urllib.parse import quote

from .. import objects
from ..cards import TestCard
from ..errors import DOCS, StripeError, invalid
from ..params import (
    Ctx,
    get_bool,
    get_dict,
    get_str,
)
from ..rules import (
    AUTH_FAILURE_MESSAGE,
    CONFIRMABLE,
    Obj,
)
from .charges import ChargesAPI


class ConfirmationAPI(ChargesAPI):
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
    def apply_method_options(self, pi: Obj, options: Obj | None) -> None:
        """Keep the payment method options asked for; a bank transfer's must fit the currency
        (and name the account's country for an EU transfer), as at Stripe."""
        balance = (options or {}).get("customer_balance")
        if not balance:
            return
        prefix = "payment_method_options[customer_balance]"
        transfer = balance.get("bank_transfer") or {}
        type_ = transfer.get("type")
        expected = objects.BANK_TRANSFER_TYPE.get(pi["currency"])
        if type_ is not None and type_ != expected:
            raise invalid(
                f"{type_} cannot be used for a PaymentIntent in {pi['currency'].upper()}"
                + (f"; use {expected}." if expected else "."),
                param=f"{prefix}[bank_transfer][type]",
            )
        if type_ == "eu_bank_transfer":
            country = (transfer.get("eu_bank_transfer") or {}).get("country")
            if country not in objects.EU_TRANSFER_COUNTRIES:
                raise invalid(
                    f"Invalid {prefix}[bank_transfer][eu_bank_transfer][country]: must be one of "
                    + ", ".join(objects.EU_TRANSFER_COUNTRIES),
                    param=f"{prefix}[bank_transfer][eu_bank_transfer][country]",
                )
        stored = pi["payment_method_options"].setdefault("customer_balance", {})
        stored.update(balance)
        if transfer:
            requested = {"eu_bank_transfer": "iban", "gb_bank_transfer": "sort_code"}
            stored["bank_transfer"] = {
                **transfer,
                "requested_address_types": [requested.get(type_ or "", "aba")],
            }

    def confirm_bank_payment(self, pi: Obj, pm: Obj, ctx: Ctx, return_url: str | None) -> None:
        if pm["type"] != "customer_balance":
            self.start_processing(pi, pm, ctx)  # a debit: processing, then the bank's answer
            return
        # A bank transfer waits for the customer's money (Stripe's test helper
        # /v1/test_helpers/customers/<cus>/fund_cash_balance plays the customer's bank).
        options = (get_dict(ctx.params, "payment_method_options") or {}).get("customer_balance")
        if options:
            self.apply_method_options(pi, {"customer_balance": options})
        stored = pi["payment_method_options"].get("customer_balance") or {}
        if stored.get("funding_type") != "bank_transfer":
            param = "payment_method_options[customer_balance][funding_type]"
            raise invalid(
                f"Missing required param: {param}.", param=param, code="parameter_missing"
            )
        if not pi["customer"]:
            raise invalid(
                "A customer is required to pay with a bank transfer (customer_balance).",
                param="customer",
            )
        pi["status"] = "requires_action"
        pi["next_action"] = objects.bank_transfer_instructions(
            pi, stored, pi["customer"], ctx.base_url
        )
        self.emit("payment_intent.requires_action", pi, ctx)

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
        """A debit's bank moves (SEPA, ACH...): `processing`, then `succeed` or `fail`. Bank
        transfers are paid as at Stripe, by funding the customer's cash balance."""
        pi = self.lookup("payment_intent", pi_id)
        if pi["payment_method_types"] == ["customer_balance"]:
            raise invalid(
                f"PaymentIntent {pi_id} is paid by bank transfer: send the money with "
                f"POST /v1/test_helpers/customers/{pi['customer']}/fund_cash_balance."
            )
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
