"""Four eyes: a refund at or above its currency's threshold waits for a second person.

`refund_create` holds such a refund awaiting approval (PAYMENTS_REFUND_APPROVAL_THRESHOLD):
its amount counts in `Payment.amount_refunded`, nothing is sent. Then a different person
(`payments.approve_refund`, checked by the entry points) decides, under the payment's row lock:

- `refund_approve` moves it to pending, stamped as sent, commits, and sends it exactly as any
  refund is sent (services.refunds: `refund-<id>` as idempotency key, the same outcome rules);
- `refund_reject` moves it to rejected (final) and frees its amount.

Either decision is refused when the refund no longer awaits approval (another person decided it
first: two approvers at once send it once), when the decider is the person who asked for it
(also a check constraint), and when the payment changed since the decider reviewed it.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from audit.models import AuditEntry
from audit.services import audit_record
from payments import money
from payments.models import Payment, Refund
from payments.services import transitions
from payments.services.common import lock_payment
from payments.services.disputes import refund_blocked_by_dispute
from payments.services.errors import (
    RefundApproverIsRequester,
    RefundNotAllowed,
    RefundNotAwaitingApproval,
    RefundStale,
)
from payments.services.refunds import (
    _refund_send,
    _refund_totals_update,
    _wait_for_a_send_under_way,
    refund_answer,
    refund_settle,
)
from shop.models import CustomUser


def refund_approve(
    *,
    refund_id: int,
    approver: CustomUser,
    expected_amount_refunded: Decimal | None = None,
    request_token: str | None = None,
) -> Refund:
    """Approve a refund awaiting approval and send it to Stripe; return it as Stripe left it.

    `expected_amount_refunded`: what the payment's refunds held when the approver reviewed (a
    change since is a `RefundStale`). With `request_token` (the confirmation's one-time token),
    the same approver confirming again (a double click) gets the refund's outcome instead of a
    `RefundNotAwaitingApproval`.

    Raises `RefundApproverIsRequester` (403), `RefundNotAwaitingApproval`, `RefundNotAllowed`
    (the payment can no longer be refunded), `RefundStale` (409); then, like `refund_create`,
    `RefundRefused` (Stripe refused: recorded failed, amount freed) and `RefundPending` (Stripe's
    answer is not known: the refund stays pending with its amount held).
    """
    with transaction.atomic():
        payment, refund, repeat = _lock_for_decision(
            refund_id,
            approver,
            decision=Refund.Status.PENDING,
            expected_amount_refunded=expected_amount_refunded,
            request_token=request_token,
        )
        if not repeat:
            if payment.status not in Payment.REFUNDABLE_STATUSES:
                raise RefundNotAllowed(
                    f"Payment #{payment.pk} is {payment.get_status_display().lower()}; "
                    "only a paid payment can be refunded. Reject the refund instead."
                )
            if (dispute := refund_blocked_by_dispute(payment)) is not None:
                raise RefundNotAllowed(
                    f"Payment #{payment.pk} was disputed since this refund was asked for "
                    f"(dispute {dispute.stripe_dispute_id}, "
                    f"{dispute.get_status_display().lower()}): Stripe refuses to refund a "
                    "disputed charge. Reject the refund instead."
                )
            now = timezone.now()
            refund.status = Refund.Status.PENDING
            refund.approved_by = approver
            refund.approved_at = now
            refund.sent_at = now  # from here on a send may be in flight
            refund.send_count = 1
            refund.last_send_error = ""
            refund.save(
                update_fields=[
                    "status",
                    "approved_by",
                    "approved_at",
                    "sent_at",
                    "send_count",
                    "last_send_error",
                    "updated_at",
                ]
            )
            _refund_totals_update(payment)
            _audit_decision(
                refund, payment, approver, AuditEntry.Action.REFUND_APPROVED, "approved"
            )
    if repeat:
        _wait_for_a_send_under_way(refund.pk)
        return refund_answer(refund_settle(refund_id=refund.pk, actor=approver))
    return refund_answer(_refund_send(refund.pk, actor=approver))


def refund_reject(
    *,
    refund_id: int,
    rejecter: CustomUser,
    note: str = "",
    expected_amount_refunded: Decimal | None = None,
    request_token: str | None = None,
) -> Refund:
    """Reject a refund awaiting approval: it is final, nothing is sent, its amount is free again.

    `note` says why (kept as the refund's failure reason). The same guards as `refund_approve`
    (except that a payment no longer refundable may still have its refunds rejected).
    """
    with transaction.atomic():
        payment, refund, repeat = _lock_for_decision(
            refund_id,
            rejecter,
            decision=Refund.Status.REJECTED,
            expected_amount_refunded=expected_amount_refunded,
            request_token=request_token,
        )
        if repeat:
            return refund
        refund.status = Refund.Status.REJECTED
        refund.rejected_by = rejecter
        refund.rejected_at = timezone.now()
        refund.failure_reason = note.strip() or "Rejected by a second person."
        refund.save(
            update_fields=["status", "rejected_by", "rejected_at", "failure_reason", "updated_at"]
        )
        _refund_totals_update(payment)
        _audit_decision(refund, payment, rejecter, AuditEntry.Action.REFUND_REJECTED, "rejected")
    return Refund.objects.select_related("payment", "rejected_by").get(pk=refund.pk)


def _lock_for_decision(
    refund_id: int,
    person: CustomUser,
    *,
    decision: str,
    expected_amount_refunded: Decimal | None,
    request_token: str | None,
) -> tuple[Payment, Refund, bool]:
    """Lock the refund's payment and check that `person` may decide it now. Returns the payment,
    the refund, and whether this is the same person confirming the same decision again."""
    payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
    payment = lock_payment(payment_id=payment_id)
    refund = Refund.objects.select_related(
        "payment", "created_by", "approved_by", "rejected_by"
    ).get(pk=refund_id)
    amount = money.format_amount(refund.amount, payment.currency)
    if refund.created_by_id is not None and refund.created_by_id == person.pk:
        raise RefundApproverIsRequester(
            f"Refund #{refund.pk} of {amount} was asked for by you: a second person must "
            "approve or reject it."
        )
    if not transitions.refund_may_be_decided(refund.status, decision):
        decided_by = (
            refund.approved_by_id if decision == Refund.Status.PENDING else refund.rejected_by_id
        )
        if request_token and decided_by == person.pk:
            return payment, refund, True  # a double click: the first decision stands
        raise RefundNotAwaitingApproval(
            f"Refund #{refund.pk} of {amount} no longer awaits approval: it is "
            f"{refund.get_status_display().lower()}{_decided(refund)}.",
            refund=refund,
        )
    if expected_amount_refunded is not None and payment.amount_refunded != expected_amount_refunded:
        raise RefundStale(
            f"Payment #{payment.pk} changed since refund #{refund.pk} was reviewed: "
            f"{money.format_amount(payment.amount_refunded, payment.currency)} is now refunded "
            "or pending. Review it again."
        )
    return payment, refund, False


def _decided(refund: Refund) -> str:
    if refund.approved_by is not None:
        return f" (approved by {refund.approved_by.email})"
    if refund.rejected_by is not None:
        return f" (rejected by {refund.rejected_by.email})"
    if refund.status == Refund.Status.REJECTED and refund.failure_reason:
        return f" ({refund.failure_reason.rstrip('.')})"
    return ""


def _audit_decision(
    refund: Refund, payment: Payment, person: CustomUser, action: str, verb: str
) -> None:
    amount = money.format_amount(refund.amount, payment.currency)
    requester = refund.created_by.email if refund.created_by else "outside the app"
    audit_record(
        action=action,
        summary=f"Refund #{refund.pk} of {amount} {verb} (requested by {requester})",
        object_type="refund",
        object_id=refund.pk,
        payment_id=payment.pk,
        actor=person,
        before={"status": Refund.Status.AWAITING_APPROVAL},
        after={
            "status": refund.status,
            "amount": str(refund.amount),
            "currency": payment.currency,
            **({"note": refund.failure_reason} if refund.status == Refund.Status.REJECTED else {}),
        },
    )
