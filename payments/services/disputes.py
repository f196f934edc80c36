"""Disputes: record what Stripe says about them, and answer them on a person's confirmed request.

Stripe tells us about a dispute with the five `charge.dispute.*` events. Each carries the whole
dispute, so `dispute_apply` records the newest facts it has seen (events arrive in any order and
more than once): the status only moves forward (transitions.dispute_status_after), the flags for
funds withdrawn and reinstated only ever become true, and the payment keeps its latest dispute's
status for the list's badge and filter.

Answering (`dispute_evidence_update`, `dispute_accept`) writes a `DisputeAnswer` under the
payment's lock, then sends one request to Stripe with an idempotency key made from the
confirmation's one-time token: a double click is answered as the first, a concurrent copy is
told to wait, and a retry after an unknown outcome is sent again with the same key (Stripe
answers as the first time) rather than refused for the status Stripe's first answer caused.
Stripe's answer is recorded like an event, with one audit entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from payments import money, stripe_client
from payments.models import Dispute, DisputeAnswer, Payment
from payments.services import transitions
from payments.services.common import (
    from_timestamp,
    idempotency_key,
    in_flight_window,
    lock_payment,
    plain,
)
from payments.services.errors import (
    DisputeAnswerPending,
    DisputeNotAnswerable,
    DisputeRefused,
    DisputeStale,
)
from shop.models import CustomUser

logger = logging.getLogger(__name__)

DISPUTE_EVENTS = {
    "charge.dispute.created",
    "charge.dispute.updated",
    "charge.dispute.closed",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.funds_reinstated",
}


def _id_of(value: Any) -> str:
    """The id of an expandable field: the id itself, or the expanded object's."""
    return str((value.get("id") if isinstance(value, Mapping) else value) or "")


def dispute_payment_id(obj: Mapping[str, Any]) -> int | None:
    """Our payment a Stripe dispute is about: by its PaymentIntent, else by its charge."""
    pi_id = _id_of(obj.get("payment_intent"))
    if pi_id:
        found = Payment.objects.filter(stripe_payment_intent_id=pi_id).values_list("pk", flat=True)
        if (payment_id := found.first()) is not None:
            return payment_id
    charge_id = _id_of(obj.get("charge"))
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
        dispute.stripe_charge_id = _id_of(facts.get("charge"))
        dispute.stripe_created_at = from_timestamp(facts.get("created"))
        dispute.stripe_synced_at = observed_at
    # Balance transactions are only ever added: the newest facts hold them all (and an older
    # event's are taken only while none were known).
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
    if dispute.status in Dispute.FINAL_STATUSES and dispute.closed_at is None:
        dispute.closed_at = timezone.now()
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


def evidence_digest(evidence: Mapping[str, str]) -> str:
    """What a person saw of the evidence Stripe held when reviewing an answer."""
    shown = {k: v for k, v in evidence.items() if v}
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Reviewed:
    """The dispute as the confirmation's reviewer saw it: a change since is a `DisputeStale`."""

    status: str
    evidence_digest: str


def dispute_evidence_update(
    *,
    dispute_id: int,
    evidence: Mapping[str, str],
    submit: bool,
    actor: CustomUser,
    request_token: str,
    reviewed: Reviewed | None = None,
) -> Dispute:
    """Save text evidence at Stripe as a draft, or submit it (then Stripe takes no more).

    `request_token` is the confirmation's one-time token: the answer is one request to Stripe
    however often it is confirmed (see `DisputeAnswer`). Raises `DisputeNotAnswerable`,
    `DisputeStale` (nothing sent), `DisputeAnswerPending` (Stripe's answer is not known yet; the
    same confirmation may be sent again) and `DisputeRefused` (Stripe said no; nothing changed).
    """
    action = DisputeAnswer.Action.SUBMIT if submit else DisputeAnswer.Action.SAVE
    return _dispute_answer(
        dispute_id, action, dict(evidence), actor=actor, token=request_token, reviewed=reviewed
    )


def dispute_accept(
    *,
    dispute_id: int,
    actor: CustomUser,
    request_token: str,
    reviewed: Reviewed | None = None,
) -> Dispute:
    """Accept the dispute (Stripe's close): the customer keeps the money, the dispute is lost (an
    inquiry: closed). Final. Same errors as `dispute_evidence_update`."""
    return _dispute_answer(
        dispute_id,
        DisputeAnswer.Action.ACCEPT,
        {},
        actor=actor,
        token=request_token,
        reviewed=reviewed,
    )


def _dispute_answer(
    dispute_id: int,
    action: str,
    evidence: dict[str, str],
    *,
    actor: CustomUser,
    token: str,
    reviewed: Reviewed | None,
) -> Dispute:
    answer = _answer_claim(
        dispute_id, action, evidence, actor=actor, token=token, reviewed=reviewed
    )
    if answer is None:  # answered before: a double click, a resubmitted tab
        return _answer_outcome(token)
    dispute = answer.dispute
    key = idempotency_key("dispute", dispute.pk, action, token)
    try:
        if action == DisputeAnswer.Action.ACCEPT:
            made = stripe_client.dispute_close(dispute.stripe_dispute_id, idempotency_key=key)
        else:
            made = stripe_client.dispute_update(
                dispute.stripe_dispute_id,
                evidence=evidence,
                submit=action == DisputeAnswer.Action.SUBMIT,
                idempotency_key=key,
            )
    except stripe_client.PaymentProviderError as exc:
        _answer_unsuccessful(answer.pk, exc)
        return _answer_outcome(token)
    _answer_record(answer.pk, made)
    return _answer_outcome(token)


def _answer_claim(
    dispute_id: int,
    action: str,
    evidence: dict[str, str],
    *,
    actor: CustomUser,
    token: str,
    reviewed: Reviewed | None,
) -> DisputeAnswer | None:
    """Under the payment's lock: the answer to send now (new, or a retry once no earlier send of
    it can still be in flight), or None if Stripe's answer to it is already recorded."""
    payment_id = Dispute.objects.values_list("payment_id", flat=True).get(pk=dispute_id)
    with transaction.atomic():
        lock_payment(payment_id=payment_id)
        dispute = Dispute.objects.get(pk=dispute_id)
        answer = DisputeAnswer.objects.filter(request_token=token).first()
        if answer is not None:
            if answer.dispute_id != dispute.pk or answer.action != action:
                raise DisputeStale("This confirmation was for another answer. Review it again.")
            if answer.answered_at is not None:
                return None
            sent_at = answer.sent_at
            if (
                sent_at is not None
                and not answer.last_send_error
                and (sent_at > timezone.now() - in_flight_window())
            ):
                raise DisputeAnswerPending(
                    f"This answer to dispute {dispute.stripe_dispute_id} is still on its way to "
                    "Stripe. Look again in a moment; sending it again is safe.",
                )
            # A retry once the first send came back without an answer (or can no longer be in
            # flight): Stripe may have acted, so it is sent again with the same key (Stripe
            # answers as it did the first time), whatever the dispute's status now says.
            answer.sent_at = timezone.now()
            answer.last_send_error = ""
            answer.save(update_fields=["sent_at", "last_send_error"])
            return answer
        dispute_check_answerable(dispute, reviewed)
        return DisputeAnswer.objects.create(
            dispute=dispute,
            action=action,
            request_token=token,
            evidence=evidence,
            created_by=actor,
            status_before=dispute.status,
            evidence_before=dispute.evidence,
            sent_at=timezone.now(),
        )


def dispute_check_answerable(dispute: Dispute, reviewed: Reviewed | None = None) -> None:
    """Refuse (`DisputeNotAnswerable`, `DisputeStale`) an answer Stripe would not take now, or
    one reviewed before the dispute moved on."""
    if dispute.status not in Dispute.NEEDS_RESPONSE_STATUSES:
        raise DisputeNotAnswerable(
            f"Dispute {dispute.stripe_dispute_id} is {dispute.get_status_display().lower()}: "
            "Stripe takes no more answers to it."
        )
    if reviewed is None:
        return
    if dispute.status != reviewed.status or evidence_digest(dispute.evidence) != (
        reviewed.evidence_digest
    ):
        raise DisputeStale(
            f"Dispute {dispute.stripe_dispute_id} changed since this answer was reviewed (its "
            "status or the evidence Stripe holds, for example a colleague's draft). Review it "
            "again."
        )


def _answer_unsuccessful(answer_id: int, exc: stripe_client.PaymentProviderError) -> None:
    with transaction.atomic():
        answer = DisputeAnswer.objects.select_for_update().get(pk=answer_id)
        if answer.answered_at is not None:
            return  # a concurrent retry recorded Stripe's answer
        if exc.outcome == stripe_client.Outcome.REFUSED:
            answer.answered_at = timezone.now()
            answer.refusal = exc.stripe_message or str(exc)
            answer.sent_at = None
        else:
            answer.last_send_error = exc.user_message
            if exc.outcome == stripe_client.Outcome.UNSENT:
                answer.sent_at = None  # nothing can be in flight: it may be sent again at once
        answer.save(update_fields=["answered_at", "refusal", "sent_at", "last_send_error"])
    logger.warning("dispute answer %s: %s (%s)", answer_id, exc, exc.outcome)


def _answer_record(answer_id: int, made: Any) -> None:
    """Stripe made the answer: record the dispute as Stripe returned it, and the audit entry,
    once (under the payment's lock)."""
    answer = DisputeAnswer.objects.select_related("dispute").get(pk=answer_id)
    with transaction.atomic():
        payment = lock_payment(payment_id=answer.dispute.payment_id)
        answer = DisputeAnswer.objects.select_related("dispute", "created_by").get(pk=answer_id)
        if answer.answered_at is not None:
            return
        # Stripe's own clock counts in whole seconds: so does ours for its answer, so that an
        # event of the same second is not taken for older news.
        recorded = dispute_apply(payment, made, observed_at=timezone.now().replace(microsecond=0))
        answer.answered_at = timezone.now()
        answer.sent_at = None
        answer.last_send_error = ""
        answer.save(update_fields=["answered_at", "sent_at", "last_send_error"])
        audit_record(
            action=_AUDIT_ACTIONS[answer.action],
            summary=_audit_summary(answer),
            object_type="dispute",
            object_id=recorded.stripe_dispute_id,
            payment_id=payment.pk,
            actor=answer.created_by,
            before={"status": answer.status_before, "evidence": answer.evidence_before},
            after={
                "status": recorded.status,
                "evidence": recorded.evidence,
                "request_token": answer.request_token,
            },
        )


_AUDIT_ACTIONS: dict[str, str] = {
    DisputeAnswer.Action.SAVE: AuditEntry.Action.DISPUTE_EVIDENCE_SAVED,
    DisputeAnswer.Action.SUBMIT: AuditEntry.Action.DISPUTE_EVIDENCE_SUBMITTED,
    DisputeAnswer.Action.ACCEPT: AuditEntry.Action.DISPUTE_ACCEPTED,
}


def _audit_summary(answer: DisputeAnswer) -> str:
    dispute = answer.dispute
    if answer.action == DisputeAnswer.Action.ACCEPT:
        return f"Dispute {dispute.stripe_dispute_id} of {dispute.amount_display} accepted."
    fields = sorted(f for f, v in answer.evidence.items() if v)
    verb = "submitted" if answer.action == DisputeAnswer.Action.SUBMIT else "saved as a draft"
    return (
        f"Evidence for dispute {dispute.stripe_dispute_id} {verb} "
        f"({', '.join(fields) or 'no fields'})."
    )


def _answer_outcome(token: str) -> Dispute:
    """What confirming this answer came to: the dispute if Stripe made it, else the error."""
    answer = DisputeAnswer.objects.select_related("dispute", "dispute__payment").get(
        request_token=token
    )
    dispute = answer.dispute
    if answer.answered_at is not None and not answer.refusal:
        return dispute
    if answer.refusal:
        raise DisputeRefused(
            f"Stripe refused this answer to dispute {dispute.stripe_dispute_id}: "
            f"{answer.refusal} Nothing changed at Stripe."
        )
    raise DisputeAnswerPending(
        f"Stripe has not confirmed this answer to dispute {dispute.stripe_dispute_id} "
        f"({answer.last_send_error or 'no answer yet'}); it may have been made. Sending this "
        "same confirmation again asks Stripe once, never twice."
    )
