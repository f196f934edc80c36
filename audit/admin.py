"""The audit trail in the admin: read only, for everyone, superusers included. Entries are
written by `audit.services.audit_record` alone, and the database refuses changes anyway."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "ip_address", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type", "at"]
    search_fields = ["=object_id", "actor_label", "summary"]
    search_help_text = "Object id (exact), who, or words of the summary"
    date_hierarchy = "at"
    ordering = ["-at", "-id"]
    show_full_result_count = False  # no COUNT(*) over the whole trail on every page
    fields = (
        "at",
        "actor",
        "actor_label",
        "ip_address",
        "action",
        "object_type",
        "object_id",
        "payment",
        "summary",
        "before",
        "after",
    )
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
