"""Every state change of payments and refunds, and every call to Stripe, happens here.

Entry points (the API, the back-office, the webhook view, management commands) validate their
input and call one function of this package. A module per flow, around one state machine:

- `transitions`: the pure state machines of a payment attempt and of a refund (no I/O);
- `checkout`: pay an order (one payment row per PaymentIntent);
- `intents`: record a PaymentIntent's and a charge's facts on their payment;
- `refunds`: hold, send and settle refunds (the one resend path, and the sweep);
- `approvals`: four eyes, a second person approves (sends) or rejects a large refund;
- `disputes`: record Stripe's disputes, and answer them (evidence, accept);
- `webhooks`: record Stripe's events once and apply them exactly once;
- `reconcile`: refresh one payment from Stripe, or every recent one.

Three rules hold throughout:

1. Locks are taken in one order: a webhook event's row, then the order's, then the payment's
   (`common.lock_payment`), so requests touching the same payment queue up instead of
   deadlocking. A payment's PaymentIntent id never changes, so facts about a PaymentIntent lock
   exactly its own row.
2. No database transaction is held open across a call to Stripe. What must be decided before the
   call (what remains refundable, which checkout attempt this is) is decided and committed first;
   Stripe is called with an idempotency key derived from our own rows, so a retry gets Stripe's
   first answer instead of a second charge or refund; the answer is then recorded under the lock.
3. Status only moves forward, and only through `transitions`; money held for a refund is freed
   only when Stripe refused it and no attempt can have reached Stripe.
"""

from payments.services.approvals import refund_approve, refund_reject
from payments.services.checkout import payment_intent_create
from payments.services.common import idempotency_key, in_flight_window
from payments.services.dashboard import dashboard_summary_compact, dashboard_tables_vacuum
from payments.services.disputes import (
    Reviewed,
    dispute_accept,
    dispute_apply,
    dispute_check_answerable,
    dispute_evidence_update,
    evidence_digest,
    refund_blocked_by_dispute,
)
from payments.services.errors import (
    CheckoutConflict,
    DisputeAnswerPending,
    DisputeError,
    DisputeNotAnswerable,
    DisputeRefused,
    DisputeStale,
    OrderNotPayable,
    RefundAmountInvalid,
    RefundApproverIsRequester,
    RefundError,
    RefundExceedsRemaining,
    RefundNotAllowed,
    RefundNotAwaitingApproval,
    RefundPending,
    RefundRefused,
    RefundRejected,
    RefundStale,
    RefundStillWaiting,
    RefundTokenReused,
    ServiceError,
    WebhookProcessingFailed,
)
from payments.services.intents import payment_apply_charge, payment_apply_intent
from payments.services.reconcile import (
    payment_refresh_from_stripe,
    payment_status_check,
    payment_sync_from_stripe,
    payments_reconcile,
)
from payments.services.refunds import (
    refund_answer,
    refund_create,
    refund_settle,
    refunds_apply,
    refunds_settle_unanswered,
)
from payments.services.webhooks import (
    webhook_event_problem,
    webhook_event_process,
    webhook_event_receive,
    webhook_event_replay,
    webhook_events_apply_due,
    webhook_events_next_due,
    webhook_refusal_record,
)

__all__ = [
    "CheckoutConflict",
    "DisputeAnswerPending",
    "DisputeError",
    "DisputeNotAnswerable",
    "DisputeRefused",
    "DisputeStale",
    "OrderNotPayable",
    "RefundAmountInvalid",
    "RefundApproverIsRequester",
    "RefundError",
    "RefundExceedsRemaining",
    "RefundNotAllowed",
    "RefundNotAwaitingApproval",
    "RefundPending",
    "RefundRefused",
    "RefundRejected",
    "RefundStale",
    "RefundStillWaiting",
    "RefundTokenReused",
    "Reviewed",
    "ServiceError",
    "WebhookProcessingFailed",
    "dashboard_summary_compact",
    "dashboard_tables_vacuum",
    "dispute_accept",
    "dispute_apply",
    "dispute_check_answerable",
    "dispute_evidence_update",
    "evidence_digest",
    "idempotency_key",
    "in_flight_window",
    "payment_apply_charge",
    "payment_apply_intent",
    "payment_intent_create",
    "payment_refresh_from_stripe",
    "payment_status_check",
    "payment_sync_from_stripe",
    "payments_reconcile",
    "refund_answer",
    "refund_approve",
    "refund_blocked_by_dispute",
    "refund_create",
    "refund_reject",
    "refund_settle",
    "refunds_apply",
    "refunds_settle_unanswered",
    "webhook_event_problem",
    "webhook_event_process",
    "webhook_event_receive",
    "webhook_event_replay",
    "webhook_events_apply_due",
    "webhook_events_next_due",
    "webhook_refusal_record",
]
