"""The audit trail: who did what that moved money or changed the books, and its CSV export.
Finance only (`audit.view_auditentry`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from audit import selectors
from backoffice.filters import AuditFilter
from backoffice.tables import AuditTable
from backoffice.views.common import (
    AUDIT_PERM,
    HtmxHttpRequest,
    csv_response,
    iso_local,
    list_page,
    ordered,
    staff_view,
)


def _filter(request: HtmxHttpRequest) -> AuditFilter:
    return AuditFilter(request.GET, queryset=selectors.audit_entry_list(), request=request)


@require_safe
@staff_view(AUDIT_PERM)
@vary_on_headers("HX-Request")
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    return list_page(
        request,
        template="backoffice/audit.html",
        filterset=_filter(request),
        table_class=AuditTable,
    )


@require_safe
@staff_view(AUDIT_PERM)
def audit_csv(request: HtmxHttpRequest) -> HttpResponseBase:
    filterset = _filter(request)
    if not filterset.is_valid():
        return HttpResponseBadRequest(f"Invalid filter: {filterset.errors.as_text()}")
    fields = [
        "id",
        "at",
        "actor_label",
        "actor_id",
        "ip_address",
        "action",
        "object_type",
        "object_id",
        "payment_id",
        "summary",
        "before",
        "after",
    ]
    rows = ordered(AuditTable, filterset.qs, request).values_list(*fields)
    header = [
        "entry_id",
        "at",
        "who",
        "user_id",
        "address",
        "action",
        "object_type",
        "object_id",
        "payment_id",
        "summary",
        "before",
        "after",
    ]

    zone = timezone.get_current_timezone()

    def out() -> Iterator[list[Any]]:
        for pk, at, *middle, before, after in rows.iterator(chunk_size=2000):
            yield [
                pk,
                iso_local(at, zone),
                *("" if v is None else v for v in middle),
                json.dumps(before, sort_keys=True),
                json.dumps(after, sort_keys=True),
            ]

    return csv_response("audit", header, out())
