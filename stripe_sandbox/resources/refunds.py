"""Refunds: Stripe's refund rules, and the test cards whose refunds change later."""

from __future__ import annotations

import copy
import time

from .. import objects
from ..cards import CARDS
from ..errors import invalid
from ..params import (
    Ctx,
    apply_metadata,
    check_unknown,
    format_amount,
    get_enum,
    get_int,
    get_str,
)
from ..rules import (
    REFUND_REASONS,
    Obj,
    amount_problem,
)
from .bank_transfers import BankTransfersAPI


class RefundsAPI(BankTransfersAPI):
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
        self.refuse_disputed_refund(charge)
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise invalid(
                f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded"
            )
        amount = remaining if amount is None else amount
        problem = amount_problem(amount, charge["currency"])
        if problem:
            raise invalid(problem, param="amount")
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

    def refuse_disputed_refund(self, charge: Obj) -> None:
        """Stripe refuses to refund a disputed charge (the disputes' resource says when)."""

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
            self.run_job(job["action"], job["id"])
        self.store.save()

    def run_job(self, action: str, obj_id: str) -> None:
        """One scheduled change whose time has come (the disputes' resource adds its own)."""
        if action in ("refund_fail", "refund_succeed"):
            self.settle_refund(obj_id, action)

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
