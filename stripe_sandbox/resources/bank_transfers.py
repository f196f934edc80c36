"""Bank transfers arriving: Stripe's test helper that funds a customer's cash balance, which
pays the customer's PaymentIntents waiting for a transfer (partially, then in full)."""

from __future__ import annotations

import time

from .. import objects
from ..errors import invalid
from ..params import Ctx, get_int, get_str
from ..rules import Obj
from .payment_intents import PaymentIntentsAPI


class BankTransfersAPI(PaymentIntentsAPI):
    def customer_fund_cash_balance(self, ctx: Ctx, obj_id: str) -> Obj:
        """`POST /v1/test_helpers/customers/<id>/fund_cash_balance`: money arrives by bank
        transfer (see `fund`)."""
        params = ctx.params
        customer = self.lookup("customer", obj_id, "customer")
        amount = get_int(params, "amount", required=True, minimum=1)
        assert amount is not None
        currency = (get_str(params, "currency", required=True) or "").lower()
        return self.fund(customer, amount, currency, get_str(params, "reference"), ctx)

    def fund_payment_intent(self, pi_id: str, part: str) -> Obj:
        """The hosted instructions page's buttons: send half of what remains, or all of it."""
        pi = self.lookup("payment_intent", pi_id)
        instructions = (pi["next_action"] or {}).get("display_bank_transfer_instructions")
        if pi["status"] != "requires_action" or instructions is None:
            raise invalid(f"PaymentIntent {pi_id} is not waiting for a bank transfer.")
        remaining = instructions["amount_remaining"]
        amount = remaining if part == "rest" else max(1, remaining // 2)
        customer = self.lookup("customer", pi["customer"], "customer")
        self.fund(customer, amount, pi["currency"], instructions["reference"], None)
        return pi

    def fund(
        self, customer: Obj, amount: int, currency: str, reference: str | None, ctx: Ctx | None
    ) -> Obj:
        """The money goes to the customer's PaymentIntent waiting for a transfer (the one whose
        `reference` it carries, else the oldest) up to what remains; a PaymentIntent paid in part
        says so (`payment_intent.partially_funded`), one paid in full succeeds; what is left stays
        on the customer's cash balance."""
        waiting = sorted(
            (
                pi
                for pi in self.store.collection("payment_intent").values()
                if pi["customer"] == customer["id"]
                and pi["currency"] == currency
                and pi["status"] == "requires_action"
                and (pi["next_action"] or {}).get("type") == "display_bank_transfer_instructions"
            ),
            key=lambda pi: (
                pi["next_action"]["display_bank_transfer_instructions"]["reference"] != reference,
                pi["created"],
            ),
        )
        left = amount
        for pi in waiting:
            if left == 0:
                break
            instructions = pi["next_action"]["display_bank_transfer_instructions"]
            taken = min(left, instructions["amount_remaining"])
            left -= taken
            pi["amount_received"] = pi.get("amount_received", 0) + taken
            instructions["amount_remaining"] -= taken
            if instructions["amount_remaining"] > 0:
                self.emit("payment_intent.partially_funded", pi, ctx)
            else:
                pm = self.lookup("payment_method", pi["payment_method"], "payment_method")
                self.succeed(pi, pm, ctx)
        balances = self.store.private(customer["id"]).setdefault("cash_balance", {})
        balances[currency] = balances.get(currency, 0) + left
        return {
            "id": objects.new_id("ccsbtxn"),
            "object": "customer_cash_balance_transaction",
            "created": int(time.time()),
            "currency": currency,
            "customer": customer["id"],
            "ending_balance": balances[currency],
            "funded": {"bank_transfer": {"reference": reference, "type": None}},
            "livemode": False,
            "net_amount": amount,
            "type": "funded",
        }
