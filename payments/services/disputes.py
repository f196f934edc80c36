"""Disputes: record what Stripe says about them, and answer them on a person's confirmed request.

Stripe tells us about a dispute with the five `charge.dispute.*` events. Each carries the whole
dispute, so `dispute_apply` records the newest facts it has seen (events arrive in any order and
more than once): the status only moves forward (transitions.dispute_status_after), the flags for
funds withdrawn and reinstated only ever become true, and the payment keeps its latest dispute's
status for the list's badge and filter.

Answering (`dispute_evidence_update`, `dispute_accept`) sends one request to Stripe with an
idempotency key made from the confirmation's one-time token, so a double click or a retry after
a timeout asks Stripe once; Stripe's answer is recorded like an event, with an audit entry.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from payments import money, stripe_client
from payments.models import Dispute, Payment
from payments.services import transitions
from payments.services.common import from_timestamp, idempotency_key, lock_payment, plain
from payments.services.errors import DisputeNotAnswerable, DisputeStale
from shop.models import CustomUser

logger = logging.getLogger(__name__)

DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}


def dispute_payment_id(obj: Mapping[str, Any]) -> int | None:
    """Our payment a Stripe dispute is about: by its PaymentIntent, else by its charge."""
    pi = obj.get("payment_intent")
    pi_id = pi.get("id") if isinstance(pi, Mapping) else pi
    if pi_id:
        found = Payment.objects.filter(stripe_payment_intent_id=pi_id).values_list("pk", flat=True)
        if (payment_id := found.first()) is not None:
            return payment_id
    charge = obj.get("charge")
    charge_id = charge.get("id") if isinstance(charge, Mapping) else charge
    if charge_id:
        return (
            Payment.objects.filter(stripe_charge_id=charge_id).values_list("pk", flat=True).first()
        )
    return None


def dispute_apply(
    payment: Payment, obj: Any, *, observed_at: datetime, event_type: str = ""
) -> Dispute:
    """Record a Stripe dispute object seen at `observed_at` on its (locked) payment."""
    facts = plain(obj)
    dispute = Dispute.objects.filter(stripe_dispute_id=facts["id"]).first()
    if dispute is None:
        dispute = Dispute(stripe_dispute_id=facts["id"], payment=payment)
        previous, synced_at = None, None
    else:
        previous, synced_at = dispute.status, dispute.stripe_synced_at
    newer = synced_at is None or observed_at >= synced_at
    dispute.status = transitions.dispute_status_after(
        previous, synced_at, str(facts["status"]), observed_at
    )
    currency = money.normalize_currency(str(facts.get("currency") or payment.currency))
    transactions = [plain(t) for t in facts.get("balance_transactions") or [] if t]
    if newer:
        card = ((facts.get("payment_method_details") or {}).get("card")) or {}
        dispute.amount = money.from_minor_units(int(facts["amount"]), currency)
        dispute.currency = currency
        dispute.reason = str(facts.get("reason") or "")[:64]
        dispute.network_reason_code = str(
            facts.get("network_reason_code") or card.get("network_reason_code") or ""
        )[:64]
        dispute.is_charge_refundable = bool(facts.get("is_charge_refundable"))
        details = facts.get("evidence_details") or {}
        dispute.evidence_due_by = from_timestamp(details.get("due_by"))
        dispute.has_evidence = bool(details.get("has_evidence"))
        dispute.submission_count = int(details.get("submission_count") or 0)
        dispute.evidence = _text_evidence(facts.get("evidence") or {})
        charge = facts.get("charge")
        dispute.stripe_charge_id = str(
            (charge.get("id") if isinstance(charge, Mapping) else charge) or ""
        )
        dispute.stripe_created_at = from_timestamp(facts.get("created"))
        dispute.stripe_synced_at = observed_at
    # Balance transactions are only ever added: the longer list is the newer one.
    if transactions and (newer or dispute.balance_net == 0):
        dispute.balance_currency = money.normalize_currency(str(transactions[0]["currency"]))
        dispute.balance_net = sum(
            (
                money.from_minor_units(int(t.get("net", t.get("amount", 0))), t["currency"])
                for t in transactions
            ),
            Decimal("0"),
        )
    dispute.funds_withdrawn = (
        dispute.funds_withdrawn
        or event_type == "charge.dispute.funds_withdrawn"
        or any(int(t.get("amount", 0)) < 0 for t in transactions)
    )
    dispute.funds_reinstated = (
        dispute.funds_reinstated
        or event_type == "charge.dispute.funds_reinstated"
        or any(int(t.get("amount", 0)) > 0 for t in transactions)
    )
    dispute.save()
    if previous != dispute.status:
        logger.info(
            "dispute %s of payment %s: %s -> %s",
            dispute.stripe_dispute_id,
            payment.pk,
            previous or "new",
            dispute.status,
        )
    _payment_dispute_status_update(payment)
    return dispute


def _text_evidence(evidence: Mapping[str, Any]) -> dict[str, str]:
    return {
        field: str(evidence[field])
        for field in stripe_client.DISPUTE_TEXT_EVIDENCE
        if isinstance(evidence.get(field), str) and evidence[field]
    }


def _payment_dispute_status_update(payment: Payment) -> None:
    latest = payment.disputes.order_by("-stripe_created_at", "-id").values_list("status", flat=True)
    status = latest.first() or ""
    if payment.dispute_status != status:
        payment.dispute_status = status
        payment.save(update_fields=["dispute_status", "updated_at"])


def refund_blocked_by_dispute(payment: Payment) -> Dispute | None:
    """The dispute for which Stripe would refuse to refund this payment (`charge_disputed`):
    any chargeback, open or decided (won included: the money came back through the dispute),
    and an inquiry unless Stripe says its charge is still refundable."""
    if not payment.dispute_status:
        return None  # never disputed: no query
    for dispute in payment.disputes.order_by("-stripe_created_at", "-id"):
        if dispute.is_inquiry and dispute.is_charge_refundable:
            continue
        return dispute
    return None


# --- Answering --------------------------------------------------------------------------------


def _answered_before(dispute: Dispute, request_token: str) -> bool:
    """This confirmation was sent and recorded already (a double click, a resubmitted tab)."""
    return AuditEntry.objects.filter(
        object_type="dispute",
        object_id=dispute.stripe_dispute_id,
        after__request_token=request_token,
    ).exists()


def _answerable(dispute_id: int, reviewed_status: str | None) -> Dispute:
    dispute = Dispute.objects.select_related("payment").get(pk=dispute_id)
    if dispute.status not in Dispute.NEEDS_RESPONSE_STATUSES:
        raise DisputeNotAnswerable(
            f"Dispute {dispute.stripe_dispute_id} is {dispute.get_status_display().lower()}: "
            "Stripe takes no more answers to it."
        )
    if reviewed_status is not None and dispute.status != reviewed_status:
        raise DisputeStale(
            f"Dispute {dispute.stripe_dispute_id} changed since it was reviewed (now "
            f"{dispute.get_status_display().lower()}). Review it again."
        )
    return dispute


def dispute_evidence_update(
    *,
    dispute_id: int,
    evidence: Mapping[str, str],
    submit: bool,
    actor: CustomUser,
    request_token: str,
    reviewed_status: str | None = None,
) -> Dispute:
    """Save text evidence at Stripe as a draft, or submit it (then Stripe takes no more).

    `request_token` is the confirmation's one-time token: the same confirmation sent twice is one
    request to Stripe. Raises `DisputeNotAnswerable`/`DisputeStale` (nothing sent) and
    `stripe_client.PaymentProviderError` (Stripe failed; the same confirmation may be retried).
    """
    done = Dispute.objects.select_related("payment").get(pk=dispute_id)
    if _answered_before(done, request_token):
        return done
    dispute = _answerable(dispute_id, reviewed_status)
    step = "submit" if submit else "save"
    answer = stripe_client.dispute_update(
        dispute.stripe_dispute_id,
        evidence={field: str(value) for field, value in evidence.items()},
        submit=submit,
        idempotency_key=idempotency_key("dispute", dispute.pk, step, request_token),
    )
    fields = sorted(f for f, v in evidence.items() if v)
    action = (
        AuditEntry.Action.DISPUTE_EVIDENCE_SUBMITTED
        if submit
        else AuditEntry.Action.DISPUTE_EVIDENCE_SAVED
    )
    verb = "submitted" if submit else "saved as a draft"
    return _record_answer(
        dispute,
        answer,
        actor=actor,
        action=action,
        summary=f"Evidence for dispute {dispute.stripe_dispute_id} {verb} "
        f"({', '.join(fields) or 'no fields'}).",
        evidence_after=True,
        request_token=request_token,
    )


def dispute_accept(
    *, dispute_id: int, actor: CustomUser, request_token: str, reviewed_status: str | None = None
) -> Dispute:
    """Accept the dispute (Stripe's close): the customer keeps the money, the dispute is lost (an
    inquiry: closed). Final. Same errors as `dispute_evidence_update`."""
    done = Dispute.objects.select_related("payment").get(pk=dispute_id)
    if _answered_before(done, request_token):
        return done
    dispute = _answerable(dispute_id, reviewed_status)
    answer = stripe_client.dispute_close(
        dispute.stripe_dispute_id,
        idempotency_key=idempotency_key("dispute", dispute.pk, "close", request_token),
    )
    return _record_answer(
        dispute,
        answer,
        actor=actor,
        action=AuditEntry.Action.DISPUTE_ACCEPTED,
        summary=f"Dispute {dispute.stripe_dispute_id} of {dispute.amount_display} accepted.",
        evidence_after=False,
        request_token=request_token,
    )


def _record_answer(
    dispute: Dispute,
    answer: Any,
    *,
    actor: CustomUser,
    action: str,
    summary: str,
    evidence_after: bool,
    request_token: str,
) -> Dispute:
    before = {"status": dispute.status, "evidence": dispute.evidence}
    with transaction.atomic():
        payment = lock_payment(payment_id=dispute.payment_id)
        recorded = dispute_apply(payment, answer, observed_at=timezone.now())
        after: dict[str, Any] = {"status": recorded.status, "request_token": request_token}
        if evidence_after:
            after["evidence"] = recorded.evidence
        audit_record(
            action=action,
            summary=summary,
            object_type="dispute",
            object_id=recorded.stripe_dispute_id,
            payment_id=payment.pk,
            actor=actor,
            before=before,
            after=after,
        )
    return recorded
