"""Payments, refunds and the Stripe webhook log.

Amounts are exact `Decimal`s in major units (see payments.money); three decimal places so that
three-decimal currencies (KWD, BHD, ...) fit. The database itself enforces what must never be
false: unique Stripe ids, positive amounts, and a payment's refunds never adding up to more than
the payment. Services (payments.services) are the only writers.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from payments import money

# Major units, exact; three decimal places so that KWD, BHD, ... fit.
AMOUNT_DIGITS, AMOUNT_PLACES = 15, 3
AMOUNT_QUANTUM = Decimal(1).scaleb(-AMOUNT_PLACES)  # the least amount a column holds


def default_currency() -> str:
    return settings.PAYMENTS_DEFAULT_CURRENCY


class Payment(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"

    class Method(models.TextChoices):
        CARD = "card", "Card"
        BANK_TRANSFER = "bank_transfer", "Bank transfer"
        WALLET = "wallet", "Wallet"

    # Money was taken (some may have gone back already): the states a refund can start from.
    REFUNDABLE_STATUSES = (Status.SUCCEEDED, Status.PARTIALLY_REFUNDED)

    # One row per PaymentIntent: each checkout attempt of an order is its own payment, and the
    # order points at its current one (Order.current_payment).
    order = models.ForeignKey("shop.Order", on_delete=models.PROTECT, related_name="payments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payments"
    )
    # Written once, when the row is created from Stripe's answer, and never changed: every fact
    # about a PaymentIntent finds (and locks) its own row by this id.
    stripe_payment_intent_id = models.CharField(max_length=255, unique=True)
    stripe_customer_id = models.CharField(max_length=255, blank=True, default="")
    stripe_charge_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    currency = models.CharField(max_length=3, default=default_currency)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    payment_method = models.CharField(max_length=20, choices=Method.choices, default=Method.CARD)
    # Refunds that succeeded or are still pending at Stripe: what can no longer be refunded.
    # Kept by the refund services under the payment's row lock; the check constraint below makes
    # "refunded more than was paid" impossible even for a buggy writer.
    amount_refunded = models.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=Decimal("0")
    )
    # A bank transfer waiting for the customer's money: what remains to be paid (null otherwise).
    amount_remaining = models.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, null=True, blank=True
    )
    # The status of the payment's latest Stripe dispute (see Dispute); blank if never disputed.
    # Kept with the dispute, so that the list's badge and filter need no join at a million rows.
    dispute_status = models.CharField(max_length=32, blank=True, default="")
    card_brand = models.CharField(max_length=32, blank=True, default="")
    card_last4 = models.CharField(max_length=4, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.TextField(blank=True, default="")
    # A default rather than auto_now_add, so demo data and imports can carry their own dates.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Which attempt of its order this is: 1 for the first, +1 after each cancelled one. Part of
    # the PaymentIntent's idempotency key, so a retried checkout gets the same PaymentIntent and
    # a cancelled one is replaced by a new one.
    intent_attempt = models.PositiveSmallIntegerField(default=1)
    # Creation time of the Stripe event (or fetch) whose facts the status reflects, so that an
    # older event arriving late cannot overwrite newer facts.
    stripe_synced_at = models.DateTimeField(null=True, blank=True)
    # The failure code and message are those of the attempt's latest failure, kept only while
    # the payment is failed (or ended cancelled after it): see services.transitions.

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=Decimal("0")), name="payments_payment_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=Decimal("0"))
                & Q(amount_refunded__lte=F("amount")),
                name="payments_payment_refunds_within_amount",
            ),
            models.UniqueConstraint(
                fields=["order", "intent_attempt"], name="payments_payment_one_row_per_attempt"
            ),
        ]
        # The back-office filters by each of these and sorts by date (newest first) or amount;
        # the (filter, created_at) pairs keep "newest payments with status X" an index scan at a
        # million rows.
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="payments_pay_created"),
            models.Index(
                fields=["status", "-created_at", "-id"], name="payments_pay_status_created"
            ),
            models.Index(
                fields=["currency", "-created_at", "-id"], name="payments_pay_curr_created"
            ),
            models.Index(
                fields=["payment_method", "-created_at", "-id"], name="payments_pay_method_created"
            ),
            models.Index(fields=["amount", "id"], name="payments_pay_amount"),
            # Sorting by amount, within each currency.
            models.Index(fields=["currency", "amount", "id"], name="payments_pay_curr_amount"),
            # The dashboard's totals by status and currency over recent days, read from the
            # index alone on PostgreSQL (INCLUDE; other databases get a plain index).
            models.Index(
                fields=["created_at"],
                include=["status", "currency", "amount", "id"],
                name="payments_pay_created_cover",
            ),
            models.Index(fields=["updated_at"], name="payments_pay_updated"),
            # "Disputed payments": a small set at any size.
            models.Index(
                fields=["dispute_status", "-created_at", "-id"],
                condition=~Q(dispute_status=""),
                name="payments_pay_disputed",
            ),
        ]

    def __str__(self) -> str:
        return f"Payment #{self.pk} ({self.amount_display}, {self.status})"

    @property
    def amount_display(self) -> str:
        return money.format_amount(self.amount, self.currency)

    @property
    def amount_refundable(self) -> Decimal:
        if self.status not in self.REFUNDABLE_STATUSES:
            return Decimal("0")
        return self.amount - self.amount_refunded


class Refund(models.Model):
    class Status(models.TextChoices):
        # At or above the approval threshold: held, nothing sent, until a second person decides.
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        # The second person said no: nothing was sent, the amount is free again.
        REJECTED = "rejected", "Rejected"
        # Written before Stripe is called; Stripe's answer moves it on.
        PENDING = "pending", "Pending"
        REQUIRES_ACTION = "requires_action", "Requires action"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class Reason(models.TextChoices):
        REQUESTED_BY_CUSTOMER = "requested_by_customer", "Requested by customer"
        DUPLICATE = "duplicate", "Duplicate"
        FRAUDULENT = "fraudulent", "Fraudulent"
        OTHER = "other", "Other"

    # Refunds in these states hold part of the payment; failed or canceled ones give it back.
    COUNTED_STATUSES = (
        Status.AWAITING_APPROVAL,
        Status.PENDING,
        Status.REQUIRES_ACTION,
        Status.SUCCEEDED,
    )
    UNANSWERED = Q(status=Status.PENDING, stripe_refund_id__isnull=True)

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    # Null while the Stripe call is in flight or when it failed before Stripe created anything.
    stripe_refund_id = models.CharField(max_length=255, unique=True, null=True, blank=True)
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Blank for refunds made outside the app (Stripe's Dashboard) without a reason.
    reason = models.CharField(max_length=32, choices=Reason.choices, blank=True, default="")
    description = models.TextField(blank=True, default="")
    # Null for refunds made outside the app (they arrive by webhook).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds_created",
    )
    # Why it failed or was canceled (Stripe's reason, or why nothing can have been refunded);
    # blank otherwise.
    failure_reason = models.TextField(blank=True, default="")
    # The one-time token of the form (or the API's Idempotency-Key) that asked for this refund:
    # a second submission by the same person with the same token finds this row instead of
    # refunding again. Unique per person, so one caller's key never reaches another's refund.
    request_token = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    # Sending it to Stripe (services.refunds): when the latest send began, while one may still be
    # in flight (null once no attempt can still reach Stripe, or when none was made); how many
    # sends there were; and why the latest got no answer, kept only until Stripe has answered.
    sent_at = models.DateTimeField(null=True, blank=True)
    send_count = models.PositiveSmallIntegerField(default=0)
    last_send_error = models.TextField(blank=True, default="")
    # Four eyes (PAYMENTS_REFUND_APPROVAL_THRESHOLD): who approved or rejected a refund that
    # needed a second person, and when. Never the person who asked for it (a check constraint).
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds_approved",
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="refunds_rejected",
    )
    rejected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("approve_refund", "Can approve or reject a refund awaiting a second person")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=Decimal("0")), name="payments_refund_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="payments_refund_approver_is_not_requester",
            ),
            models.CheckConstraint(
                condition=Q(rejected_by__isnull=True) | ~Q(rejected_by=F("created_by")),
                name="payments_refund_rejecter_is_not_requester",
            ),
            models.UniqueConstraint(
                fields=["created_by", "request_token"],
                condition=Q(request_token__isnull=False),
                name="payments_refund_request_token_per_user",
            ),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="payments_ref_created"),
            models.Index(
                fields=["status", "-created_at", "-id"], name="payments_ref_status_created"
            ),
            models.Index(
                fields=["reason", "-created_at", "-id"], name="payments_ref_reason_created"
            ),
            models.Index(
                fields=["created_by", "-created_at", "-id"], name="payments_ref_by_created"
            ),
            models.Index(fields=["amount", "id"], name="payments_ref_amount"),
            # The sweep's and the dashboard's "waiting for Stripe": a small set at any size.
            models.Index(
                fields=["created_at"],
                condition=Q(status="pending", stripe_refund_id__isnull=True),
                name="payments_ref_unanswered",
            ),
            # "Awaiting approval": a small set at any size.
            models.Index(
                fields=["created_at"],
                condition=Q(status="awaiting_approval"),
                name="payments_ref_awaiting",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} of payment #{self.payment_id} ({self.status})"

    @property
    def is_unanswered(self) -> bool:
        """Pending with no word from Stripe: its amount is held until Stripe's answer is known."""
        return self.status == self.Status.PENDING and not self.stripe_refund_id


class Dispute(models.Model):
    """A Stripe dispute of one of our payments' charges (a chargeback, or an inquiry before it):
    kept as Stripe last described it by the charge.dispute.* events (services.disputes)."""

    class Status(models.TextChoices):
        WARNING_NEEDS_RESPONSE = "warning_needs_response", "Inquiry: needs response"
        WARNING_UNDER_REVIEW = "warning_under_review", "Inquiry: under review"
        WARNING_CLOSED = "warning_closed", "Inquiry: closed"
        NEEDS_RESPONSE = "needs_response", "Needs response"
        UNDER_REVIEW = "under_review", "Under review"
        APPEAL_NEEDS_RESPONSE = "appeal_needs_response", "Appeal: needs response"
        APPEAL_UNDER_REVIEW = "appeal_under_review", "Appeal: under review"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        PREVENTED = "prevented", "Prevented"

    # Decided: nothing more can be answered, and the status never moves again.
    FINAL_STATUSES = (Status.WARNING_CLOSED, Status.WON, Status.LOST, Status.PREVENTED)
    # Waiting for our evidence (or our acceptance).
    NEEDS_RESPONSE_STATUSES = (
        Status.WARNING_NEEDS_RESPONSE,
        Status.NEEDS_RESPONSE,
        Status.APPEAL_NEEDS_RESPONSE,
    )

    stripe_dispute_id = models.CharField(max_length=255, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    stripe_charge_id = models.CharField(max_length=255, blank=True, default="")
    amount = models.DecimalField(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)
    currency = models.CharField(max_length=3)
    # Stripe's reason (fraudulent, product_not_received, general, ...): an open set.
    reason = models.CharField(max_length=64)
    status = models.CharField(max_length=32, choices=Status.choices)
    network_reason_code = models.CharField(max_length=64, blank=True, default="")
    is_charge_refundable = models.BooleanField(default=False)
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    has_evidence = models.BooleanField(default=False)
    submission_count = models.PositiveSmallIntegerField(default=0)
    # The text evidence as Stripe holds it (saved as a draft, or submitted): field -> text.
    evidence = models.JSONField(default=dict, blank=True)
    # Stripe took the disputed amount (and its fee) from the balance; gave it back (won).
    funds_withdrawn = models.BooleanField(default=False)
    funds_reinstated = models.BooleanField(default=False)
    # The dispute's balance transactions, summed (negative: money out), in their currency.
    balance_net = models.DecimalField(
        max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES, default=Decimal("0")
    )
    balance_currency = models.CharField(max_length=3, blank=True, default="")
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    # When we first saw it decided (won, lost, closed): the dashboard's "lost in the period".
    closed_at = models.DateTimeField(null=True, blank=True)
    # Creation time of the newest event (or fetch) whose facts the row holds: an older event
    # arriving late never overwrites newer facts.
    stripe_synced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["evidence_due_by", "id"]
        permissions = [("respond_to_dispute", "Can submit evidence for or accept a dispute")]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=Decimal("0")), name="payments_dispute_amount_positive"
            ),
        ]
        indexes = [
            models.Index(fields=["evidence_due_by", "id"], name="payments_dsp_due"),
            models.Index(
                fields=["status", "evidence_due_by", "id"], name="payments_dsp_status_due"
            ),
            models.Index(
                fields=["reason", "evidence_due_by", "id"], name="payments_dsp_reason_due"
            ),
            models.Index(fields=["stripe_charge_id"], name="payments_dsp_charge"),
            # The dashboard's "disputes lost in the period".
            models.Index(
                fields=["closed_at"], condition=Q(status="lost"), name="payments_dsp_lost"
            ),
            models.Index(fields=["payment", "stripe_created_at"], name="payments_dsp_payment"),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.stripe_dispute_id} of payment #{self.payment_id} ({self.status})"

    @property
    def is_inquiry(self) -> bool:
        return self.status.startswith("warning_")

    @property
    def is_open(self) -> bool:
        return self.status not in self.FINAL_STATUSES

    @property
    def amount_display(self) -> str:
        return money.format_amount(self.amount, self.currency)


class DisputeAnswer(models.Model):
    """One confirmed answer to a dispute (evidence saved or submitted, or accepting it), written
    before it is sent to Stripe, under the payment's lock. Its one-time token makes the answer
    exactly one request to Stripe, however often it is confirmed and whatever became of the
    first try: a retry after an unknown outcome resends it with the same idempotency key, a
    concurrent copy waits, and an answered one is not sent again."""

    class Action(models.TextChoices):
        SAVE = "save", "Evidence saved as a draft"
        SUBMIT = "submit", "Evidence submitted"
        ACCEPT = "accept", "Dispute accepted"

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="answers")
    action = models.CharField(max_length=16, choices=Action.choices)
    request_token = models.CharField(max_length=64, unique=True)
    evidence = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="dispute_answers"
    )
    # The dispute as the person saw it when confirming: the audit entry's "before".
    status_before = models.CharField(max_length=32)
    evidence_before = models.JSONField(default=dict, blank=True)
    # When the latest send began, while one may still be in flight (null: none can be).
    sent_at = models.DateTimeField(null=True, blank=True)
    last_send_error = models.TextField(blank=True, default="")
    # Stripe's answer: made (its dispute status after), or refused (why); null until known.
    answered_at = models.DateTimeField(null=True, blank=True)
    refusal = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["dispute", "created_at"], name="payments_dspans_dispute")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} for {self.dispute_id}"


class StripeWebhookEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # recorded, not yet applied
        PROCESSED = "processed", "Processed"  # applied to our records
        IGNORED = "ignored", "Ignored"  # a type this app does not act on
        UNMATCHED = "unmatched", "Unmatched"  # about a PaymentIntent this app does not know
        FAILED = "failed", "Failed"  # applying it raised; Stripe will retry, or replay it

    stripe_event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100)
    # The API version Stripe rendered `data` at (the endpoint's, or the account's default).
    api_version = models.CharField(max_length=64, blank=True, default="")
    data = models.JSONField()
    # True once the event needs nothing more from us (processed, ignored or unmatched).
    processed = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    # The payment the event is about, once matched: the payment page's timeline.
    payment = models.ForeignKey(
        Payment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
    )
    # The id of the object the event carries (pi_..., ch_..., re_...), for search and matching.
    stripe_object_id = models.CharField(max_length=255, blank=True, default="", db_index=True)
    livemode = models.BooleanField(default=False)
    stripe_created_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now, editable=False)
    processed_at = models.DateTimeField(null=True, blank=True)
    processing_error = models.TextField(blank=True, default="")
    delivery_count = models.PositiveIntegerField(default=1)
    # Applying it off the request path (payments.tasks): how many times it was tried, and when
    # it is next due (null once done, or when a person must look). The stale-event sweep queues
    # again what is overdue, so an event is never lost between the database and the broker.
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Stripe webhook event"
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(delivery_count__gte=1), name="payments_event_delivered_at_least_once"
            ),
        ]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="payments_evt_received"),
            models.Index(
                fields=["status", "-received_at", "-id"], name="payments_evt_status_received"
            ),
            models.Index(
                fields=["event_type", "-received_at", "-id"], name="payments_evt_type_received"
            ),
            models.Index(fields=["payment", "stripe_created_at"], name="payments_evt_payment"),
            # The stale-event sweep: a small set (what is not applied yet) at any size.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"], next_attempt_at__isnull=False),
                name="payments_evt_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.stripe_event_id}"


class StripeWebhookRefusal(models.Model):
    """A delivery whose signature verified but whose body is no event this app can store (a
    field of the wrong type, an id too long, a NUL byte): answered 400 with the reason, and kept
    here (without the body) so that someone can see that Stripe, or whoever holds the signing
    secret, sent it."""

    received_at = models.DateTimeField(default=timezone.now, editable=False)
    reason = models.CharField(max_length=255)
    # As much of them as fits, for finding the event in Stripe's Dashboard.
    stripe_event_id = models.CharField(max_length=255, blank=True, default="")
    event_type = models.CharField(max_length=100, blank=True, default="")
    body_sha256 = models.CharField(max_length=64)
    body_bytes = models.PositiveIntegerField()

    class Meta:
        verbose_name = "refused Stripe webhook"
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["-received_at", "-id"], name="payments_refusal_received")]

    def __str__(self) -> str:
        return f"refused {self.stripe_event_id or 'delivery'}: {self.reason}"


# --- The dashboard's running totals ------------------------------------------------------------
# Kept by database triggers (payments/migrations/0016_dashboard_summary.py), so they are right
# whatever writes the rows: the services, bulk_create, raw SQL, COPY, deletes. Nothing in Python
# writes them except the compaction (payments.services.dashboard).

# Hours in UTC; the dashboard reads the parts of hours its windows and a viewer's days cut
# (the start of a rolling window, a +05:30 zone's midnight) from the payments themselves.
DASHBOARD_BUCKET = dt.timedelta(hours=1)
TOTAL_DIGITS = 30  # sums of a great many AMOUNT_DIGITS amounts


class DashboardKind(models.TextChoices):
    PAYMENT = "payment", "Payment"  # keyed by the payment's created_at, currency and status
    REFUND = "refund", "Refund"  # keyed by the refund's created_at, its payment's currency, status


class _DashboardTotals(models.Model):
    kind = models.CharField(max_length=7, choices=DashboardKind.choices)
    bucket = models.DateTimeField()  # the start of a DASHBOARD_BUCKET, in UTC
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20)
    n = models.BigIntegerField()
    amount = models.DecimalField(max_digits=TOTAL_DIGITS, decimal_places=AMOUNT_PLACES)
    amount_refunded = models.DecimalField(max_digits=TOTAL_DIGITS, decimal_places=AMOUNT_PLACES)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.kind} {self.bucket:%Y-%m-%d %H:%M} {self.currency} {self.status}: {self.n}"


class DashboardDelta(_DashboardTotals):
    """Signed changes, one row per (statement, bucket, currency, status) that moved a total:
    insert-only, so concurrent writers never wait on one another's summary row."""

    id = models.BigAutoField(primary_key=True)


class DashboardSummary(_DashboardTotals):
    """The deltas compacted (payments.services.dashboard_summary_compact): one row per key."""

    pk = models.CompositePrimaryKey("kind", "bucket", "currency", "status")

    class Meta:
        verbose_name_plural = "dashboard summaries"


class DashboardTotal(_DashboardTotals):
    """The view `payments_dashboardtotal`: the summary's rows and the uncompacted deltas, read
    in one statement so that a compaction running at the same time is seen whole or not at all.
    Sum its rows by key; a key may appear more than once."""

    pk = models.CompositePrimaryKey("kind", "bucket", "currency", "status")

    class Meta:
        managed = False
