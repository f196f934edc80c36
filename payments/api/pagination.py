"""The API lists' paging: `page` (1 to MAX_PAGE) and `per_page` (1 to MAX_PER_PAGE, default 25).

Anything else is a 400 naming the parameter, never a database error: a page number past what a
bigint OFFSET holds used to reach the database. A page past the last one is DRF's 404 ("Invalid
page.").
"""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

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
