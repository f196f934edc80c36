"""Disputes, as Stripe's test mode makes them.

A test card with a dispute (0259 `fraudulent`, 2685 `product_not_received`, 1976 an inquiry)
pays, and its charge is disputed right after: `charge.dispute.created`, then for a chargeback
`charge.dispute.funds_withdrawn` (the amount and the dispute fee leave the balance; the charge
can no longer be refunded). An inquiry withdraws nothing and leaves the charge refundable.

The merchant answers with evidence (`POST /v1/disputes/<id>`, staged or submitted) or accepts
(`/close`); the card issuer decides (`/_sandbox/disputes/<id>/decide`, or Stripe's test evidence
`winning_evidence` / `losing_evidence` in `uncategorized_text`, decided a moment after the
submission): `charge.dispute.closed`, and for a won chargeback `charge.dispute.funds_reinstated`.
"""

from __future__ import annotations

import copy

from .. import objects
from ..cards import DisputeSpec
from ..errors import invalid
from ..params import (
    Ctx,
    apply_metadata,
    check_unknown,
    get_bool,
    get_dict,
    get_enum,
    get_str,
)
from ..rules import (
    DISPUTE_ANSWERABLE,
    DISPUTE_CLOSED,
    DISPUTE_RESPONSE_DAYS,
    Obj,
    dispute_fee,
)
from .events import EventsAPI

SUBMITTED = {"needs_response": "under_review", "warning_needs_response": "warning_under_review"}
SUBMISSION_METHODS = ("manual", "prefer_manual", "prefer_smart_disputes", "smart_disputes")
# Stripe's documented limits: these fields take 20,000 characters, the others 5,000; all of
# them together 150,000.
LONG_EVIDENCE = {
    "access_activity_log",
    "cancellation_policy_disclosure",
    "cancellation_rebuttal",
    "duplicate_charge_explanation",
    "product_description",
    "refund_policy_disclosure",
    "refund_refusal_explanation",
    "uncategorized_text",
}
EVIDENCE_TOTAL_LIMIT = 150_000
# Stripe's test evidence: submitted in `uncategorized_text`, it decides the dispute.
MAGIC_EVIDENCE = {"winning_evidence": "won", "losing_evidence": "lost"}


def changes(before: Obj, after: Obj) -> Obj:
    """`previous_attributes`: the old values of what changed, nested hashes by their changed
    keys (a key that is new was null before)."""
    out: Obj = {}
    for key in [*before, *(k for k in after if k not in before)]:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            out[key] = changes(old, new)
        else:
            out[key] = copy.deepcopy(old)
    return out


class DisputesAPI(EventsAPI):
    # --- opening: the test cards' disputes ------------------------------------------------------
    def succeed(self, pi: Obj, pm: Obj, ctx: Ctx | None, three_d_secure: Obj | None = None) -> None:
        super().succeed(pi, pm, ctx, three_d_secure)
        card = self.card_of(pm)
        if card is not None and card.dispute is not None:
            self.open_dispute(self.lookup("charge", pi["latest_charge"]), card.dispute, ctx)

    def open_dispute(self, ch: Obj, spec: DisputeSpec, ctx: Ctx | None) -> Obj:
        dp = objects.dispute(
            ch=ch,
            reason=spec.reason,
            case_type=spec.case_type,
            network_reason_code=spec.network_reason_code,
            due_by=objects.now() + DISPUTE_RESPONSE_DAYS * 86_400,
        )
        chargeback = spec.case_type == "chargeback"
        if chargeback:
            self.withdraw(dp)
        self.store.put(dp)
        ch["disputed"] = True
        self.emit("charge.dispute.created", dp, ctx)
        if chargeback:
            self.emit("charge.dispute.funds_withdrawn", dp, ctx)
        return dp

    def withdraw(self, dp: Obj) -> None:
        """The disputed amount and the dispute fee leave the balance; no refund is possible."""
        dp["balance_transactions"].append(
            objects.dispute_balance_transaction(
                dp=dp,
                amount=-dp["amount"],
                fee=dispute_fee(dp["currency"]),
                description=f"Chargeback withdrawal for {dp['charge']}",
            )
        )
        dp["is_charge_refundable"] = False

    # --- the API --------------------------------------------------------------------------------
    def dispute_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("dispute", obj_id), ctx)

    def dispute_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("dispute").values())
        for name in ("charge", "payment_intent"):
            value = get_str(ctx.params, name)
            if value is not None:
                items = [dp for dp in items if dp[name] == value]
        return self.paginate(ctx, "/v1/disputes", items, {"charge", "payment_intent"})

    def dispute_update(self, ctx: Ctx, obj_id: str) -> Obj:
        """Stage evidence (`submit=false`) or submit it (`submit=true`, the default when evidence
        is sent): only while the dispute waits for the merchant's answer."""
        params = ctx.params
        check_unknown(
            params, {"evidence", "metadata", "submit", "intended_submission_method", "expand"}
        )
        dp = self.lookup("dispute", obj_id)
        given = get_dict(params, "evidence")
        evidence = self.read_evidence(given or {})
        metadata = apply_metadata(params, dp["metadata"])
        method = get_enum(params, "intended_submission_method", SUBMISSION_METHODS)
        submit = get_bool(params, "submit") if "submit" in params else given is not None
        self.require_answerable(dp)
        merged = {**dp["evidence"], **evidence}
        total = sum(len(v) for v in merged.values() if isinstance(v, str))
        if total > EVIDENCE_TOTAL_LIMIT:
            raise invalid(
                "The combined character count of all evidence fields is limited to 150,000.",
                param="evidence",
            )
        before = copy.deepcopy(dp)
        dp["evidence"] = merged
        dp["metadata"] = metadata
        if method is not None:
            dp["intended_submission_method"] = method
        details = dp["evidence_details"]
        details["has_evidence"] = any(
            merged[k] for k in (*objects.EVIDENCE_TEXT_FIELDS, *objects.EVIDENCE_FILE_FIELDS)
        )
        if submit:
            details["submission_count"] += 1
            details["submission_method"] = "manual"
            details["past_due"] = objects.now() > details["due_by"]
            dp["status"] = SUBMITTED[dp["status"]]
        previous = changes(before, dp)
        if previous:
            self.emit("charge.dispute.updated", dp, ctx, previous)
        outcome = MAGIC_EVIDENCE.get(merged.get("uncategorized_text") or "")
        if submit and outcome:
            self.schedule(f"dispute_{outcome}", dp["id"], self.refund_settle_delay)
        return self.render(dp, ctx)

    def dispute_close(self, ctx: Ctx, obj_id: str) -> Obj:
        """Accept the dispute: a chargeback is lost, an inquiry closed. It is final."""
        check_unknown(ctx.params, {"expand"})
        dp = self.lookup("dispute", obj_id)
        if dp["status"] in DISPUTE_CLOSED:
            raise invalid(f"This dispute is already closed (status {dp['status']}).")
        if dp["status"] not in DISPUTE_ANSWERABLE:
            raise invalid(
                f"This dispute's evidence has already been submitted (status {dp['status']}); "
                "it can no longer be accepted: the card issuer decides it."
            )
        self.decide(dp, "accepted", ctx)
        return self.render(dp, ctx)

    def read_evidence(self, raw: Obj) -> Obj:
        """The evidence fields sent, checked: text within Stripe's limits ("" unsets a field);
        files must be uploads (the stand-in has none); no enhanced evidence or appeal for
        the disputes it makes."""
        out: Obj = {}
        for key, value in raw.items():
            name = f"evidence[{key}]"
            if key == "enhanced_evidence":
                if value != "":
                    raise invalid(
                        "This dispute is not eligible for enhanced evidence (its "
                        "enhanced_eligibility_types is empty).",
                        param=name,
                    )
                continue
            if key == "appeal":
                if value != "":
                    raise invalid(
                        "Appeal evidence can only be given to a dispute whose status is "
                        "appeal_needs_response.",
                        param=name,
                    )
                continue
            if not isinstance(value, str):
                raise invalid(f"Invalid string: {value!r}", param=name)
            if key in objects.EVIDENCE_FILE_FIELDS:
                if value:
                    raise invalid(
                        f"No such file upload: '{value}'", param=name, code="resource_missing"
                    )
                out[key] = None
                continue
            limit = 20_000 if key in LONG_EVIDENCE else 5000
            if len(value) > limit:
                raise invalid(
                    f"Invalid string: {value[:20]}...; must be at most {limit} characters",
                    param=name,
                )
            out[key] = value or None
        return out

    def require_answerable(self, dp: Obj) -> None:
        status = dp["status"]
        if status in DISPUTE_ANSWERABLE:
            return
        if status in DISPUTE_CLOSED:
            raise invalid(
                f"This dispute is already closed (status {status}); it can no longer be updated."
            )
        raise invalid(
            f"This dispute's evidence has already been submitted (status {status}); it can no "
            "longer be updated while the card issuer reviews it."
        )

    # --- the outcome ----------------------------------------------------------------------------
    def decide(self, dp: Obj, outcome: str, ctx: Ctx | None) -> None:
        """`won` or `lost` (the issuer's decision), or `accepted` (the merchant's /close).
        An inquiry ends `warning_closed` unless the issuer turns it into a lost chargeback (the
        money is withdrawn then)."""
        inquiry = dp["payment_method_details"]["card"]["case_type"] == "inquiry"
        if inquiry and outcome != "lost":
            status = "warning_closed"
        else:
            status = "won" if outcome == "won" else "lost"
        withdrawn = any(t["amount"] < 0 for t in dp["balance_transactions"])
        reinstated = any(t["amount"] > 0 for t in dp["balance_transactions"])
        withdraw = status == "lost" and not withdrawn
        reinstate = status == "won" and withdrawn and not reinstated
        if withdraw:
            self.withdraw(dp)
        if reinstate:
            fee = dispute_fee(dp["currency"])
            dp["balance_transactions"].append(
                objects.dispute_balance_transaction(
                    dp=dp,
                    amount=dp["amount"],
                    fee=-fee,
                    description=f"Chargeback reversal for {dp['charge']}",
                )
            )
        dp["status"] = status
        if withdraw:
            self.emit("charge.dispute.funds_withdrawn", dp, ctx)
        self.emit("charge.dispute.closed", dp, ctx)
        if reinstate:
            self.emit("charge.dispute.funds_reinstated", dp, ctx)

    def dispute_decide(self, dp_id: str, outcome: str) -> Obj:
        """`/_sandbox/disputes/<id>/decide`: the card issuer's decision, `won` or `lost`."""
        if outcome not in ("won", "lost"):
            raise invalid("outcome must be won or lost", param="outcome")
        dp = self.lookup("dispute", dp_id)
        if dp["status"] in DISPUTE_CLOSED:
            raise invalid(f"This dispute is already closed (status {dp['status']}).")
        self.decide(dp, outcome, None)
        return dp

    def run_job(self, action: str, obj_id: str) -> None:
        if action in ("dispute_won", "dispute_lost"):
            dp = self.store.get("dispute", obj_id)
            if dp is not None and dp["status"] not in DISPUTE_CLOSED:  # gone with a reset
                self.decide(dp, action.removeprefix("dispute_"), None)
            return
        super().run_job(action, obj_id)

    # --- refunds --------------------------------------------------------------------------------
    def refuse_disputed_refund(self, charge: Obj) -> None:
        """A charged-back charge cannot be refunded; an inquiry's (`is_charge_refundable`) can."""
        for dp in self.store.collection("dispute").values():
            if dp["charge"] == charge["id"] and not dp["is_charge_refundable"]:
                raise invalid(
                    f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                    code="charge_disputed",
                )
