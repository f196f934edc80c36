"""Writing the audit trail: `audit_record` is its only writer."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from audit.models import AuditEntry
from config.client_ip import client_ip


def audit_record(
    *,
    action: str,
    summary: str,
    object_type: str,
    object_id: object = "",
    payment_id: int | None = None,
    actor: Any = None,
    actor_label: str = "",
    request: HttpRequest | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. `actor` is the staff user (or None for a job, then `actor_label` names
    it); `request` gives the address it came from. Call it inside the transaction that made the
    change, so that the entry exists exactly when the change does."""
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    label = actor_label or (user.email if user is not None else "system")
    return AuditEntry.objects.create(
        action=action,
        summary=summary,
        object_type=object_type,
        object_id=str(object_id),
        payment_id=payment_id,
        actor=user,
        actor_label=label,
        ip_address=(client_ip(request) or None) if request is not None else None,
        before=before or {},
        after=after or {},
    )
