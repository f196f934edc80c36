from __future__ import annotations

from django import template

from audit.changes import entry_changes
from audit.models import AuditEntry

register = template.Library()


@register.filter
def audit_changes(entry: AuditEntry, payment_id: int | None = None) -> list[tuple[str, str, str]]:
    """`{% for field, before, after in entry|audit_changes:payment.pk %}`"""
    return entry_changes(entry, payment_id)
