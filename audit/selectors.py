"""Reads of the audit trail for pages."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from audit.models import AuditEntry
from payments.models import Payment
from shop.models import CustomUser

# Jobs' runs record what they changed per payment under before/after["payments"][<id>].
JOB_RUNS = [AuditEntry.Action.RECONCILE_RUN, AuditEntry.Action.SWEEP_RUN]


def audit_entry_list() -> QuerySet[AuditEntry]:
    """The Audit page's rows, newest first (the `audit_entry_at` index)."""
    return AuditEntry.objects.order_by("-at", "-id")


def about_payment(payment_id: int) -> Q:
    """A payment's entries, and the runs of reconcile and the refund sweep that changed it."""
    ran_on_it = Q(action__in=JOB_RUNS, after__payments__has_key=str(payment_id))
    return Q(payment_id=payment_id) | ran_on_it


def audit_entries_for_payment(payment: Payment) -> QuerySet[AuditEntry]:
    """A payment's audit timeline, oldest first, in one query."""
    return AuditEntry.objects.filter(about_payment(payment.pk)).order_by("at", "id")


def audit_search(queryset: QuerySet[AuditEntry], term: str) -> QuerySet[AuditEntry]:
    """An exact object id (evt_..., a refund's or a dispute's id), or words of the summary (a
    scan of the trail, which grows by staff actions, not by payments)."""
    term = term.strip()
    if not term:
        return queryset
    return queryset.filter(Q(object_id=term.lstrip("#")) | Q(summary__icontains=term))


def audit_actors() -> QuerySet[CustomUser]:
    """The people the Audit page's "who" filter offers: staff (a role, admin access or
    superuser), never the customers. One query: a union of the staff and superusers (a partial
    index) and the members of any group (a small table), as
    payments.selectors.users_who_may_refund does, never a scan of every customer."""
    staff = CustomUser.objects.filter(Q(is_superuser=True) | Q(is_staff=True)).values("pk")
    in_a_group = CustomUser.groups.through.objects.values("customuser_id")  # type: ignore[attr-defined]
    return CustomUser.objects.filter(pk__in=staff.union(in_a_group)).order_by("username")
