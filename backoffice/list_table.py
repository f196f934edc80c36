"""The base of the list pages' tables: django-tables2 for what it is good at (columns, sort
headers, ordering, paging), the rows of a page rendered here in one pass.

django-tables2 renders each cell through its generic machinery: it inspects the render method's
signature, resolves the accessor twice and, for a DateTimeColumn, compiles a template, for every
cell; the page template then resolves each column's attributes again per cell. That was most of a
list page's time (225 cells a page). Here each column is prepared once per table (its `<td>`
attributes, what its render method takes, whether it shows a choice's label) and each row is one
string, with the same values, the same escaping and the same markup as `{% render_table %}` drew.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from functools import cached_property
from typing import Any

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.template import Context
from django.template.base import render_value_in_context
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from django_tables2.utils import Accessor

from backoffice.navigation import back_query

# What a cell's rendered value goes through, as `{{ cell }}` in a template: localized, in the
# current time zone, escaped unless safe.
_CELL_CONTEXT = Context(autoescape=True)
_ARGUMENTS = ("value", "record", "table", "column", "bound_column")


class DateTimeColumn(tables.Column):
    """A date and time in the viewer's time zone, in `format` (the `date` filter's syntax): what
    django-tables2's DateTimeColumn shows, without a template per cell."""

    def __init__(self, *, format: str, **kwargs: Any) -> None:
        self.format = format
        super().__init__(**kwargs)

    def render(self, value: dt.datetime) -> str:
        return formats.date_format(localtime(value) if is_aware(value) else value, self.format)

    def value(self, value: Any, **kwargs: Any) -> Any:
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value


class _Cell:
    """One column of a table, prepared to render its cell of any row."""

    def __init__(self, table: tables.Table, bound: Any) -> None:
        self.td_attrs = bound.attrs["td"].as_html()
        self.accessor = Accessor(bound.accessor)
        self.empty_values = bound.column.empty_values
        self.default = bound.default
        self.render: Callable[..., Any] = bound.render
        given = {"table": table, "column": bound.column, "bound_column": bound}
        wanted = inspect.signature(self.render).parameters
        self.fixed = {k: v for k, v in given.items() if k in wanted}
        self.wants_value = "value" in wanted
        self.wants_record = "record" in wanted
        self.display: str | None = None  # get_FOO_display, as django-tables2 shows choices
        self.checked_display = False

    def _value(self, record: Any) -> Any:
        if not self.checked_display:
            self.checked_display = True
            penultimate, remainder = self.accessor.penultimate(record)
            if isinstance(penultimate, models.Model):
                try:
                    field = self.accessor.get_field(record)
                except FieldDoesNotExist:
                    field = None
                if getattr(field, "choices", ()):
                    self.display = f"get_{remainder}_display"
        if self.display:
            penultimate, _ = self.accessor.penultimate(record)
            display = getattr(penultimate, self.display, None)
            if display is not None:
                return display()
        try:
            return self.accessor.resolve(record)
        except Exception:  # a column that is no field of this row shows its default
            return None

    def html(self, record: Any) -> str:
        value = self._value(record)
        if value in self.empty_values:
            content = self.default
        else:
            kwargs = dict(self.fixed)
            if self.wants_value:
                kwargs["value"] = value
            if self.wants_record:
                kwargs["record"] = record
            content = self.render(**kwargs)
        return f"<td {self.td_attrs}>{render_value_in_context(content, _CELL_CONTEXT)}</td>"


# A number no URL of ours contains otherwise, replaced by each row's id.
_PK_SENTINEL = 918273645546372819


class ListTable(tables.Table):
    """A list page's table whose page of rows `_table.html` draws from `body_rows`."""

    @cached_property
    def back_query(self) -> str:
        """The way back to this list from a payment's page (backoffice.navigation), built once."""
        return back_query(getattr(self, "request", None))

    def detail_url(self, name: str, pk: int) -> str:
        """reverse(name, args=[pk]), reversed once per table and name: a page's rows all link
        to the same kind of page, and reversing is a tenth of a millisecond a cell."""
        halves = self._url_halves.get(name)
        if halves is None:
            head, _, tail = reverse(name, args=[_PK_SENTINEL]).partition(str(_PK_SENTINEL))
            halves = self._url_halves[name] = (head, tail)
        return f"{halves[0]}{int(pk)}{halves[1]}"

    @cached_property
    def _url_halves(self) -> dict[str, tuple[str, str]]:
        return {}

    @cached_property
    def payments_url(self) -> str:
        return reverse("backoffice:payments")

    def payment_link(self, payment_id: int | None, url: str) -> SafeString:
        return format_html('<a href="{}{}">#{}</a>', url, self.back_query, payment_id)

    def body_rows(self) -> SafeString:
        """The `<tr>`s of the current page ("" when it has none)."""
        cells = [_Cell(self, bound) for bound in self.columns]
        rows = []
        for row in self.paginated_rows:
            record = row.record
            tds = "".join(cell.html(record) for cell in cells)
            rows.append(f"<tr {row.attrs.as_html()}>{tds}</tr>")
        return mark_safe("\n".join(rows))  # noqa: S308 (each cell escaped above)
