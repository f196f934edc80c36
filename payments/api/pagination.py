"""The API lists' paging: `page` (1 to MAX_PAGE) and `per_page` (1 to MAX_PER_PAGE, default 25);
the payment and refund lists, which grow without end, by cursor instead
(NewestFirstCursorPagination).

Anything else is a 400 naming the parameter, never a database error: a page number past what a
bigint OFFSET holds used to reach the database. A page past the last one is DRF's 404 ("Invalid
page.").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param

MAX_PAGE = 100_000
MAX_PER_PAGE = 100


def _bounded(request: Request, name: str, maximum: int) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= maximum):
        raise ValidationError({name: [f"A whole number from 1 to {maximum}."]})
    return int(value)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "per_page"
    page_size_query_description = f"Results per page (1 to {MAX_PER_PAGE}; 25 by default)."
    max_page_size = MAX_PER_PAGE

    def get_page_size(self, request: Request) -> int | None:
        return _bounded(request, "per_page", MAX_PER_PAGE) or self.page_size

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        return _bounded(request, self.page_query_param, MAX_PAGE) or 1

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {"page": MAX_PAGE, "per_page": MAX_PER_PAGE}
        for parameter in parameters:
            if parameter["name"] in bounds:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": bounds[parameter["name"]],
                }
        return parameters


class NewestFirstCursorPagination(pagination.BasePagination):
    """Keyset paging by (`-created_at`, `-id`) for lists that grow without end (payments,
    refunds).

    A page is "the `per_page` rows after this one" (or before it, going back): one index range
    scan (payments_pay_created, or the filter's own `<filter>, -created_at, -id` index) that costs
    the same on the first page and the ten-thousandth, and no COUNT. The cursor is the position
    of the row at the page's edge and its direction, signed (with the list's name) so that it
    stays opaque and a forged or truncated one, or another list's, is a 400 naming `cursor`,
    never a database error. Rows added while a client pages do not shift the pages it has not
    read yet (page numbers would).
    """

    cursor_query_param = "cursor"
    salt = "payments.api.pagination.cursor"
    invalid_cursor = "Not a cursor of this list: follow the `next` and `previous` links."
    list_salt = salt  # per list, once paging starts: `salt` and the view's basename
    # The page just read: its edge rows (for the links) and whether there is more either side.
    first: Any = None
    last: Any = None
    has_next = has_previous = False

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        if PageNumberPagination.page_query_param in request.query_params:
            raise ValidationError(
                {"page": ["This list pages by cursor: follow the `next` and `previous` links."]}
            )
        self.request = request
        self.list_salt = f"{self.salt}:{getattr(view, 'basename', '')}"
        size = _bounded(request, "per_page", MAX_PER_PAGE) or api_settings.PAGE_SIZE or 25
        cursor = self._decode(request.query_params.get(self.cursor_query_param))
        if cursor is None or cursor.forward:
            rows = list(self._after(queryset, cursor)[: size + 1])
            self.has_next, self.has_previous = len(rows) > size, cursor is not None
            rows = rows[:size]
        else:
            rows = list(self._before(queryset, cursor)[: size + 1])
            self.has_next, self.has_previous = True, len(rows) > size
            rows = rows[:size][::-1]
        self.first, self.last = (rows[0], rows[-1]) if rows else (None, None)
        return rows

    @staticmethod
    def _after(queryset: QuerySet[Any], cursor: _Cursor | None) -> QuerySet[Any]:
        # `created_at <=` bounds the index scan; the OR settles ties on the same instant.
        if cursor is not None:
            queryset = queryset.filter(
                Q(created_at__lt=cursor.created_at)
                | Q(created_at=cursor.created_at, id__lt=cursor.id),
                created_at__lte=cursor.created_at,
            )
        return queryset.order_by("-created_at", "-id")

    @staticmethod
    def _before(queryset: QuerySet[Any], cursor: _Cursor) -> QuerySet[Any]:
        return queryset.filter(
            Q(created_at__gt=cursor.created_at) | Q(created_at=cursor.created_at, id__gt=cursor.id),
            created_at__gte=cursor.created_at,
        ).order_by("created_at", "id")

    def _encode(self, row: Any, *, forward: bool) -> str:
        created = row.created_at.astimezone(UTC).isoformat()
        return signing.dumps([created, row.id, "n" if forward else "p"], salt=self.list_salt)

    def _decode(self, value: str | None) -> _Cursor | None:
        if value is None:
            return None
        try:
            created, row_id, direction = self._unsigned(value)
            cursor = _Cursor(datetime.fromisoformat(created), int(row_id), direction == "n")
            if cursor.created_at.tzinfo is None or not 1 <= cursor.id < 2**63:
                raise ValueError(value)
            if direction not in ("n", "p"):
                raise ValueError(value)
        except (signing.BadSignature, TypeError, ValueError):
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor]}) from None
        return cursor

    def _unsigned(self, value: str) -> Any:
        try:
            return signing.loads(value, salt=self.list_salt)
        except signing.BadSignature:
            if self.list_salt != f"{self.salt}:payment":
                raise
            # Issued before cursors were signed per list (the payment list alone paged by
            # cursor then): links in flight keep working.
            return signing.loads(value, salt=self.salt)

    def _link(self, row: Any, *, forward: bool) -> str:
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, self._encode(row, forward=forward))

    def get_next_link(self) -> str | None:
        return self._link(self.last, forward=True) if self.has_next and self.last else None

    def get_previous_link(self) -> str | None:
        return self._link(self.first, forward=False) if self.has_previous and self.first else None

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    **link,
                    "description": "The next (older) page, or null on the last one.",
                },
                "previous": {
                    **link,
                    "description": "The previous (newer) page, or null on the first one.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where a page starts: the opaque value in a `next` or "
                "`previous` link (newest first, by `created_at` then `id`). A value that is not "
                "one is a 400.",
                "schema": {"type": "string"},
            },
            {
                "name": "per_page",
                "required": False,
                "in": "query",
                "description": f"Results per page (1 to {MAX_PER_PAGE}; 25 by default).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
            },
        ]


@dataclass(frozen=True)
class _Cursor:
    created_at: datetime
    id: int
    forward: bool
