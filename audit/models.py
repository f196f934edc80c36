"""One row per staff (or scheduled) action that moved money or changed the books. Append-only:
nothing in the app updates or deletes a row (the model and its queryset refuse to), and the
database refuses it too (triggers, audit.triggers: PostgreSQL and SQLite alike)."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone


class AppendOnly(Exception):
    """An attempt to change or delete an audit entry."""


def _refuse(what: str) -> NoReturn:
    raise AppendOnly(f"Audit entries are append-only: {what} refused.")


class AuditEntryQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        _refuse("update")

    def delete(self) -> tuple[int, dict[str, int]]:
        _refuse("delete")


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        REFUND_REQUESTED = "refund.requested", "Refund requested"
        REFUND_APPROVED = "refund.approved", "Refund approved"
        REFUND_REJECTED = "refund.rejected", "Refund rejected"
        REFUND_SENT = "refund.sent", "Refund sent to Stripe"
        DISPUTE_EVIDENCE_SAVED = "dispute.evidence_saved", "Dispute evidence saved"
        DISPUTE_EVIDENCE_SUBMITTED = "dispute.evidence_submitted", "Dispute evidence submitted"
        DISPUTE_ACCEPTED = "dispute.accepted", "Dispute accepted"
        WEBHOOK_REPLAYED = "webhook.replayed", "Webhook event replayed"
        PAYMENT_REFRESHED = "payment.refreshed", "Payment refreshed from Stripe"
        RECONCILE_RUN = "reconcile.run", "Reconcile run"
        SWEEP_RUN = "sweep.run", "Refund sweep run"

    at = models.DateTimeField(default=timezone.now, editable=False)
    # Null for the scheduled jobs (and commands run without a user): `actor_label` says who.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    # Who, as shown then (an email, or "reconcile (scheduled)"): stays right if the user changes.
    actor_label = models.CharField(max_length=255)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64, choices=Action.choices)
    # What it was about: "payment", "refund", "dispute", "webhook_event" or "job", and its id.
    object_type = models.CharField(max_length=32)
    object_id = models.CharField(max_length=255, blank=True, default="")
    # The payment it concerns, for the payment's timeline (null for a job's run).
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_entries",
    )
    summary = models.TextField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit entries"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["-at", "-id"], name="audit_entry_at"),
            models.Index(fields=["action", "-at", "-id"], name="audit_entry_action_at"),
            models.Index(fields=["actor", "-at", "-id"], name="audit_entry_actor_at"),
            models.Index(fields=["payment", "at"], name="audit_entry_payment"),
            models.Index(fields=["object_type", "object_id"], name="audit_entry_object"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.get_action_display()}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse(f"change of entry #{self.pk}")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(f"delete of entry #{self.pk}")
