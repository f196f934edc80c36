"""What the back-office keeps of its own: exports too large to stream, prepared in the
background (backoffice.exports) for the one user who asked."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class CsvExport(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Being prepared"
        RUNNING = "running", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    # Not a counter: a link to someone else's export says nothing about how many there are.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="csv_exports"
    )
    kind = models.CharField(max_length=32)  # payments, refunds, disputes, webhook-events, audit
    query = models.TextField(blank=True, default="")  # the list's filter and sort, urlencoded
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    size = models.BigIntegerField(default=0)  # bytes of the finished file

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="backoffice_export_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} export {self.id} ({self.status})"
