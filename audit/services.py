"""Writing the audit trail: `audit_record` is its only writer."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.http import HttpRequest

from audit.context import current
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
    change, so that the entry exists exactly when the change does.

    Without `request`, the request being served is used (audit.middleware), and without `actor`
    its user; outside a request, the job named by `audit.context.audit_context`. So a service
    deep below a view records who and from where without being handed the request."""
    context = current()
    if request is None and context is not None:
        request = context.request
    user = actor if actor is not None and getattr(actor, "is_authenticated", False) else None
    request_user = getattr(request, "user", None)
    if user is None and request_user is not None and request_user.is_authenticated:
        user = request_user
    if actor_label:
        label = actor_label
    elif user is not None:
        label = user.email or user.get_username()
    elif context is not None and context.actor_label:
        label = context.actor_label
    else:
        label = "system"
    return AuditEntry.objects.create(
        action=action,
        summary=summary,
        object_type=object_type,
        object_id=str(object_id),
        payment_id=payment_id,
        actor=user,
        actor_label=label[:255],
        ip_address=_address(request),
        before=before or {},
        after=after or {},
    )


def _address(request: HttpRequest | None) -> str | None:
    """The client's address, or None: never a value the column would refuse (a forged
    X-Forwarded-For entry must not make the money-moving transaction fail)."""
    if request is None:
        return None
    try:
        return str(ipaddress.ip_address(client_ip(request)))
    except ValueError:
        return None
