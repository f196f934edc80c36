"""The CSV export every list offers, and the page of one too large to stream.

A list's export is one `CsvExportSpec` (its filter, table, columns and permissions). A small
export streams at once. One the planner expects to be larger than BACKOFFICE_EXPORT_STREAM_MAX_ROWS
is prepared in the background (backoffice.exports): the user is sent to its page, which says it
is being prepared and offers the download when it is ready; only that user sees either (404 for
anyone else), until the file expires.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.request import QueryDict
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers
from django_filters import FilterSet
from django_tables2 import Table

from backoffice import exports
from backoffice.models import CsvExport
from backoffice.views.common import (
    CsvColumn,
    HtmxHttpRequest,
    csv_attachment,
    csv_chunks,
    ordered,
    staff_user,
    staff_view,
)
from shop.timezones import zone_of

SPECS: dict[str, CsvExportSpec] = {}


@dataclass(frozen=True)
class CsvExportSpec:
    """One list's export. `filterset(data, request)` builds the list's FilterSet, for its page
    and its export (request is
    None when a background job rebuilds it from the saved query)."""

    kind: str
    filename: str
    filterset: Callable[[QueryDict, HttpRequest | None], FilterSet]
    table_class: type[Table]
    columns: Sequence[CsvColumn]
    perms: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        SPECS[self.kind] = self


def csv_export(request: HttpRequest, spec: CsvExportSpec) -> HttpResponseBase:
    """A list's rows as CSV in the order its table shows them: streamed, or (large) prepared in
    the background. A filter that does not validate is a 400 with its errors."""
    filterset = spec.filterset(request.GET, request)
    if not filterset.is_valid():
        return HttpResponseBadRequest(f"Invalid filter: {filterset.errors.as_text()}")
    queryset = ordered(spec.table_class, filterset.qs, request.GET.get("sort"))
    if exports.is_large(queryset):
        export = exports.csv_export_request(
            user=staff_user(request), kind=spec.kind, query=request.GET.urlencode()
        )
        return redirect("backoffice:csv_export", export_id=export.id)
    zone = timezone.get_current_timezone()  # read now: the rows are written after the request
    return csv_attachment(spec.filename, csv_chunks(queryset, spec.columns, zone))


def export_file_chunks(export: CsvExport) -> Iterator[str | bytes]:
    """The file of a background export: its list's query again, in its user's zone."""
    spec = SPECS[export.kind]
    data = QueryDict(export.query)
    zone = zone_of(export.user) or timezone.get_default_timezone()
    with timezone.override(zone):  # the filter's From and To are whole days in that zone
        filterset = spec.filterset(data, None)
        if not filterset.is_valid():
            raise ValueError(f"the saved filter no longer validates: {filterset.errors}")
        queryset = ordered(spec.table_class, filterset.qs, data.get("sort"))
    yield from csv_chunks(queryset, spec.columns, zone)


def _own_export(request: HttpRequest, export_id: uuid.UUID) -> tuple[CsvExport, CsvExportSpec]:
    """The viewer's own, unexpired export of a list they may still export; else a 404."""
    user = staff_user(request)
    try:
        export = exports.csv_export_of(user=user, export_id=export_id)
    except CsvExport.DoesNotExist:
        raise Http404("No such export.") from None
    spec = SPECS.get(export.kind)
    if spec is None or not user.has_perms(spec.perms):
        raise Http404("No such export.")
    return export, spec


@require_safe
@staff_view()
@vary_on_headers("HX-Request")
def csv_export_detail(request: HtmxHttpRequest, export_id: uuid.UUID) -> HttpResponse:
    export, spec = _own_export(request, export_id)
    template = "backoffice/csv_export.html"
    if request.htmx:
        template += "#status"
    context = {"export": export, "spec": spec, "keep_hours": settings.BACKOFFICE_EXPORT_KEEP_HOURS}
    return render(request, template, context)


@require_safe
@staff_view()
def csv_export_download(request: HttpRequest, export_id: uuid.UUID) -> HttpResponseBase:
    export, spec = _own_export(request, export_id)
    if export.status != CsvExport.Status.READY:
        raise Http404("This export is not ready.")
    try:
        file = exports.export_path(export).open("rb")
    except FileNotFoundError:
        raise Http404("This export has expired.") from None
    stamp = timezone.localtime(export.created_at).strftime("%Y%m%d-%H%M")
    return FileResponse(
        file,
        as_attachment=True,
        filename=f"{spec.filename}-{stamp}.csv",
        content_type="text/csv; charset=utf-8",
    )
