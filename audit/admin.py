"""The audit trail in the admin: read only, for everyone, superusers included. Entries are
written by `audit.services.audit_record` alone, and the database refuses changes anyway."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit import selectors
from audit.models import AuditEntry
from backoffice.filters import AUDIT_OBJECT_TYPES
from payments.admin import (
    ADMIN_PER_PAGE,
    ChoicesListFilter,
    EstimatedCountPaginator,
    IndexedSorts,
)


class ObjectTypeFilter(ChoicesListFilter):
    title = "object type"
    field = "object_type"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return AUDIT_OBJECT_TYPES


@admin.register(AuditEntry)
class AuditEntryAdmin(IndexedSorts, admin.ModelAdmin):
    list_display = ["at", "actor_label", "ip_address", "action", "object_type", "object_id"]
    list_filter = ["action", ObjectTypeFilter, "at"]
    search_fields = ["object_id"]  # shows the box; get_search_results searches
    search_help_text = "Object id (exact), or words of the summary"
    ordering = ["-at", "-id"]
    indexed_sorts = {"at": ("at", "id"), "action": ("action", "-at", "-id")}
    paginator = EstimatedCountPaginator
    list_per_page = ADMIN_PER_PAGE
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

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AuditEntry], search_term: str
    ) -> tuple[QuerySet[AuditEntry], bool]:
        return selectors.audit_search(queryset, search_term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
