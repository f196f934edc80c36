"""The audit trail: who did what that moved money or changed the books, and its CSV export.
Finance only (`audit.view_auditentry`)."""

from __future__ import annotations

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from audit import selectors
from backoffice.filters import AuditFilter
from backoffice.tables import AuditTable
from backoffice.views.common import (
    AUDIT_PERM,
    HtmxHttpRequest,
    list_page,
    staff_view,
)
from backoffice.views.common import CsvColumn as Col
from backoffice.views.exports import CsvExportSpec, csv_export


@require_safe
@staff_view(AUDIT_PERM)
@vary_on_headers("HX-Request")
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/audit.html",
        filterset=AUDIT_EXPORT.filterset(request.GET, request),
        table_class=AuditTable,
    )


AUDIT_COLUMNS = [
    Col("entry_id", "id"),
    Col("at", "at"),
    Col("who", "actor_label"),
    Col("user_id", "actor_id"),
    Col("address", "ip_address"),
    Col("action", "action"),
    Col("object_type", "object_type"),
    Col("object_id", "object_id"),
    Col("payment_id", "payment_id"),
    Col("summary", "summary"),
    Col("before", "before"),
    Col("after", "after"),
]
AUDIT_EXPORT = CsvExportSpec(
    kind="audit",
    filename="audit",
    filterset=lambda data, request: AuditFilter(
        data, queryset=selectors.audit_entry_list(), request=request
    ),
    table_class=AuditTable,
    columns=AUDIT_COLUMNS,
    perms=(AUDIT_PERM,),
)


@require_safe
@staff_view(AUDIT_PERM)
def audit_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    return csv_export(request, AUDIT_EXPORT)
