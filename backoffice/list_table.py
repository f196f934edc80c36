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
import functools
import inspect
from collections.abc import Callable
from functools import cached_property
from html import escape as _escape
from typing import Any
from urllib.parse import urlencode

import django_tables2 as tables
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import QuerySet
from django.template import Context
from django.template.base import render_value_in_context
from django.urls import reverse
from django.utils import formats
from django.utils.encoding import force_str
from django.utils.hashable import make_hashable
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import is_aware, localtime
from django_tables2.data import TableQuerysetData
from django_tables2.utils import Accessor

from backoffice.navigation import back_query

# What a cell's rendered value goes through, as `{{ cell }}` in a template: localized, in the
# current time zone, escaped unless safe.
_CELL_CONTEXT = Context(autoescape=True)
_ARGUMENTS = ("value", "record", "table", "column", "bound_column")


# The `date` filter's formats the lists use, as strftime draws them for four-digit years (a
# tenth of the time of Django's DateFormat, which is general).
_STRFTIME = {"Y-m-d H:i": "%Y-%m-%d %H:%M", "Y-m-d H:i:s": "%Y-%m-%d %H:%M:%S"}


class DateTimeColumn(tables.Column):
    """A date and time in the viewer's time zone, in `format` (the `date` filter's syntax): what
    django-tables2's DateTimeColumn shows, without a template per cell."""

    def __init__(self, *, format: str, **kwargs: Any) -> None:
        self.format = format
        self.strftime = _STRFTIME.get(format)
        super().__init__(**kwargs)

    def render(self, value: dt.datetime) -> str:
        local = localtime(value) if is_aware(value) else value
        if self.strftime is not None and local.year >= 1000:
            return local.strftime(self.strftime)
        return formats.date_format(local, self.format)

    def value(self, value: Any, **kwargs: Any) -> Any:
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value


@functools.cache
def _parameters(function: Callable[..., Any]) -> frozenset[str]:
    """The names a render method takes (django-tables2 inspects its signature for every cell)."""
    return frozenset(inspect.signature(function).parameters)


class _Cell:
    """One column of a table, prepared to render its cell of any row.

    Prepared once per table: the `<td>` and what the render method takes; on the first row,
    whether the column shows a choice's label (then the labels, as `get_FOO_display` gives
    them). A cell then costs attribute lookups, the render method, and the escaping `{{ cell }}`
    does: plain text escaped, safe strings as they are, anything else through the template
    engine's own `render_value_in_context` (numbers and dates localized)."""

    def __init__(self, table: tables.Table, bound: Any) -> None:
        self.td_open = f"<td {bound.attrs['td'].as_html()}>"
        self.accessor = Accessor(bound.accessor)
        self.bits = tuple(self.accessor.bits)
        self.empty_values = bound.column.empty_values
        self.default = bound.default
        # A plain column's render gives back the value: not called.
        plain = getattr(bound.render, "__func__", None) is tables.Column.render
        self.render: Callable[..., Any] | None = None if plain else bound.render
        given = {"table": table, "column": bound.column, "bound_column": bound}
        wanted = _parameters(getattr(bound.render, "__func__", bound.render))
        self.fixed = {k: v for k, v in given.items() if k in wanted}
        self.wants_value = "value" in wanted
        self.wants_record = "record" in wanted
        self.labels: dict[Any, Any] | None = None  # a choice field's labels, by value
        self.checked_display = False

    def _check_display(self, record: Any) -> None:
        self.checked_display = True
        penultimate, _ = self.accessor.penultimate(record)
        if not isinstance(penultimate, models.Model):
            return
        try:
            field = self.accessor.get_field(record)
        except FieldDoesNotExist:
            return
        if getattr(field, "choices", ()):
            # What get_FOO_display shows: the label (a lazy one made text), else the value.
            self.labels = {
                make_hashable(k): force_str(v, strings_only=True) for k, v in field.flatchoices
            }

    def _value(self, record: Any) -> Any:
        if not self.checked_display:
            self._check_display(record)
        value = record
        try:
            for bit in self.bits:
                value = getattr(value, bit)
        except Exception:  # no such attribute on the way (a dict, say): django-tables2's lookup
            return self._resolved(record)
        if callable(value):  # a method: django-tables2 calls it
            return self._resolved(record)
        if self.labels is not None:
            try:
                return self.labels.get(value, value)
            except TypeError:  # an unhashable value (a list, say), as get_FOO_display takes it
                return self.labels.get(make_hashable(value), value)
        return value

    def _resolved(self, record: Any) -> Any:
        try:
            return self.accessor.resolve(record)
        except Exception:  # a column that is no field of this row shows its default
            return None

    def html(self, record: Any) -> str:
        value = self._value(record)
        if value in self.empty_values:
            content = self.default
        elif self.render is None:
            content = value
        else:
            kwargs = dict(self.fixed)
            if self.wants_value:
                kwargs["value"] = value
            if self.wants_record:
                kwargs["record"] = record
            content = self.render(**kwargs)
        kind = type(content)
        if kind is SafeString:
            text = content
        elif kind is str:
            text = _escape(content)
        else:
            text = render_value_in_context(content, _CELL_CONTEXT)
        return f"{self.td_open}{text}</td>"


# A number no URL of ours contains otherwise, replaced by each row's id.
_PK_SENTINEL = 918273645546372819


class DeferredJoinPages(TableQuerysetData):
    """A list's rows, where a page past the first is a deferred join: the page's ids are picked
    by OFFSET from the ordering's index alone (an index-only scan), and only those rows are read
    with their joins (`pk IN (SELECT pk ... OFFSET n LIMIT m)`, in the list's order). A plain
    OFFSET joins the customer of every row it skips: page 50 read 1,250 rows and their users to
    show 25."""

    def __getitem__(self, key: Any) -> Any:
        queryset = self.data
        query = queryset.query
        if (
            isinstance(key, slice)
            and key.start
            and not (query.distinct or query.combinator or query.is_sliced)
        ):
            return queryset.filter(pk__in=queryset.values("pk")[key])
        return queryset[key]


class _SharedColumns(dict):
    """A table class's columns, shared by its tables rather than deep-copied for each (a
    millisecond a page, copying the columns' attributes, accessors and links): a list's columns
    are declarations, the same for every request. So nothing may change a ListTable's column per
    table: `columns.hide()` and `show()`, which set the shared column's `visible` for every
    request in the process, refuse (ListTable); `exclude` hides columns of one table,
    `extra_columns` adds or drops them (in the table's own copy of this mapping)."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return dict(self)


def _shared_column(name: str) -> None:
    raise TypeError(
        f"a list table's columns are its class's, shared by every request: pass exclude=[{name!r}]"
        " to hide one for this table"
    )


class ListTable(tables.Table):
    """A list page's table whose page of rows `_table.html` draws from `body_rows`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.base_columns = _SharedColumns(cls.base_columns)

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(data, QuerySet):
            data = DeferredJoinPages(data)
        super().__init__(data, *args, **kwargs)
        self.columns.hide = self.columns.show = _shared_column  # type: ignore[method-assign]

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
        """`<a href="url?back=...">#id</a>`, as format_html draws it."""
        number = _escape(str(payment_id))
        return SafeString(f'<a href="{_escape(url)}{self._back_html}">#{number}</a>')

    @cached_property
    def _back_html(self) -> str:
        return str(conditional_escape(self.back_query))

    def head_cells(self) -> SafeString:
        """The header row's `<th>`s: each orderable column a sort link that keeps the filters
        and goes back to the first page, with its `aria-sort` (what `_table.html`'s loop drew
        with `querystring_replace`, per column)."""
        request = getattr(self, "request", None)
        params = dict(request.GET) if request is not None else {}
        params.pop(self.prefixed_page_field, None)
        order_field = self.prefixed_order_by_field
        cells = []
        for column in self.columns:
            attrs = column.attrs["th"].as_html()
            header = conditional_escape(column.header)
            if not column.orderable:
                cells.append(f'<th scope="col" {attrs}>{header}</th>')
                continue
            alias = column.order_by_alias
            ordered, descending = column.is_ordered, alias.is_descending
            url = _escape("?" + urlencode({**params, order_field: alias.next}, doseq=True))
            sort = "none" if not ordered else "descending" if descending else "ascending"
            state = "" if not ordered else " sorted desc" if descending else " sorted asc"
            then = "descending" if ordered and not descending else "ascending"
            cells.append(
                f'<th scope="col" {attrs} aria-sort="{sort}"><a class="sort{state}" '
                f'href="{url}" hx-get="{url}">{header}<span class="visually-hidden">, sort '
                f"{then}</span></a></th>"
            )
        return SafeString("".join(cells))

    def body_rows(self) -> SafeString:
        """The `<tr>`s of the current page ("" when it has none)."""
        cells = [_Cell(self, bound) for bound in self.columns]
        plain_rows = not self.row_attrs  # then a row's attributes are its even/odd class
        rows = []
        for row in self.paginated_rows:
            record = row.record
            tds = "".join([cell.html(record) for cell in cells])
            if plain_rows:
                attrs = 'class="odd"' if row.row_counter % 2 else 'class="even"'
            else:
                attrs = row.attrs.as_html()
            rows.append(f"<tr {attrs}>{tds}</tr>")
        return mark_safe("\n".join(rows))  # noqa: S308 (each cell escaped above)
