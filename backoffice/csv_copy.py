"""CSV exports on PostgreSQL: the list's own queryset, formatted in SQL, written by the server
with `COPY (...) TO STDOUT (FORMAT csv)` and streamed through in psycopg's read blocks.

The bytes are the ones the Python path (backoffice.views.common.csv_export) writes for the same
rows: times ISO 8601 in the viewer's zone with the offset (microseconds only when there are
some), amounts exact in their currency's precision, yes/no, '' for none, and a text cell that
starts with = + - @ tab or CR prefixed with ' (the spreadsheet-formula guard). Two things COPY
does differently are undone: it quotes an empty string ("") where Python writes nothing, so every
empty cell is sent as NULL; and it ends rows with LF where Python's csv module writes CRLF, so
the stream turns every LF outside a quoted cell into CRLF.

Nothing of the user's input is put into the SQL text: the queryset compiles to SQL with
placeholders, and psycopg binds its parameters (and the zone name) itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Expression, F, QuerySet, TextField
from django.db.models.sql.compiler import SQLCompiler

from payments import money

if TYPE_CHECKING:
    from backoffice.views.common import CsvColumn

# The formula guard, as backoffice.views.common._cell applies it.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Formatted(Expression):
    """One export cell formatted in SQL: `template` with {col} (and {cur}) standing for the
    compiled columns and %s for `extra` parameters. Empty is NULL (COPY's unquoted empty)."""

    output_field = TextField()

    def __init__(self, template: str, col: Any, cur: Any = None, extra: Sequence[Any] = ()) -> None:
        super().__init__()
        self.template, self.col, self.cur, self.extra = template, col, cur, list(extra)

    def get_source_expressions(self) -> list[Any]:
        return [self.col, self.cur] if self.cur is not None else [self.col]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.col = exprs[0]
        self.cur = exprs[1] if len(exprs) > 1 else None

    def as_sql(self, compiler: SQLCompiler, conn: Any) -> tuple[str, tuple[Any, ...]]:
        compiled = {"{col}": compiler.compile(self.col)}
        if self.cur is not None:
            compiled["{cur}"] = compiler.compile(self.cur)
        extra = iter(self.extra)
        # Parameters in the order their placeholders appear in the template.
        out: list[str] = []
        params: list[Any] = []
        for piece in re.split(r"(\{col\}|\{cur\}|%s)", self.template):
            if piece in compiled:
                sql, piece_params = compiled[piece]
                out.append(f"({sql})")
                params += piece_params
            elif piece == "%s":
                out.append(piece)
                params.append(next(extra))
            else:
                out.append(piece)
        return f"NULLIF({''.join(out)}, '')", tuple(params)


# A time in the zone named by the first %s, as datetime.isoformat() writes it.
_LOCAL = "({col} AT TIME ZONE %s)"
_OFFSET = f"({_LOCAL} - ({{col}} AT TIME ZONE 'UTC'))"
_ISO = (
    f"to_char({_LOCAL}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    f" || CASE WHEN date_trunc('second', {{col}}) = {{col}} THEN ''"
    f" ELSE to_char({_LOCAL}, '.US') END"
    f" || CASE WHEN {_OFFSET} < interval '0' THEN '-' || to_char(-{_OFFSET}, 'HH24:MI')"
    f" ELSE '+' || to_char({_OFFSET}, 'HH24:MI') END"
)
_ISO_ZONE_USES = _ISO.count("%s")

# An amount exact in its currency (JPY 0 decimals, KWD 3, others 2); no currency yet: 0.
_AMOUNT = (
    "CASE WHEN COALESCE({cur}, '') = '' THEN '0'"
    " ELSE round({col}, CASE WHEN {cur} = ANY(%s) THEN 0 WHEN {cur} = ANY(%s) THEN 3"
    " ELSE 2 END)::text END"
)

_TEXT = "CASE WHEN left({col}, 1) = ANY(%s) THEN '''' || {col} ELSE {col} END"


def _cell(column: CsvColumn, queryset: QuerySet, zone_name: str) -> Expression | None:
    """The SQL for one column, or None when only Python writes it exactly (JSON)."""
    col = F(column.field).resolve_expression(queryset.query)
    if column.currency_field is not None:
        cur = F(column.currency_field).resolve_expression(queryset.query)
        zero, three = sorted(money.ZERO_DECIMAL_CURRENCIES), sorted(money.THREE_DECIMAL_CURRENCIES)
        return _Formatted(_AMOUNT, col, cur, [zero, three])
    kind = col.output_field.get_internal_type()
    if kind == "DateTimeField":
        return _Formatted(_ISO, col, extra=[zone_name] * _ISO_ZONE_USES)
    if kind == "BooleanField":
        return _Formatted("CASE WHEN {col} THEN 'yes' WHEN NOT {col} THEN 'no' END", col)
    if kind == "GenericIPAddressField":
        return _Formatted("host({col})", col)
    if kind in ("CharField", "TextField", "EmailField", "SlugField", "URLField"):
        return _Formatted(_TEXT, col, extra=[list(_FORMULA_STARTS)])
    if kind in (
        "AutoField",
        "BigAutoField",
        "IntegerField",
        "BigIntegerField",
        "PositiveIntegerField",
        "PositiveBigIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "ForeignKey",
    ):
        return _Formatted("{col}::text", col)
    return None  # JSON (sorted keys, Python's escaping), or a type not written here yet


def copy_sql(
    queryset: QuerySet, columns: Sequence[CsvColumn], zone: dt.tzinfo
) -> tuple[str, list[Any]] | None:
    """`COPY (<the queryset's rows, formatted>) TO STDOUT` and its parameters, or None when
    this export needs the Python path (not PostgreSQL, a DISTINCT query, a JSON column)."""
    select = formatted_select(queryset, columns, zone)
    if select is None:
        return None
    return f"COPY ({select[0]}) TO STDOUT WITH (FORMAT csv)", select[1]


def formatted_select(
    queryset: QuerySet, columns: Sequence[CsvColumn], zone: dt.tzinfo
) -> tuple[str, list[Any]] | None:
    """The SELECT of the export's cells, formatted (what COPY writes out), or None."""
    if connection.vendor != "postgresql" or queryset.query.distinct:
        return None
    zone_name = getattr(zone, "key", None) or str(zone)
    cells: dict[str, Expression] = {}
    for i, column in enumerate(columns):
        cell = _cell(column, queryset, zone_name)
        if cell is None:
            return None
        cells[f"csv_{i}"] = cell
    sql, params = queryset.annotate(**cells).values(*cells).query.sql_with_params()
    return sql, list(params)


# What the export hands the server at a time. psycopg reads COPY a row at a time, and a
# streamed response written a row at a time was a million socket writes for a million payments
# (the streamed export took 2x psql's \copy, a third of it in those writes).
COPY_CHUNK_BYTES = 1 << 16


def copy_stream(sql: str, params: Sequence[Any]) -> Iterator[bytes]:
    """The COPY output in blocks of about COPY_CHUNK_BYTES (memory flat, no cursor held over),
    rows ended with CRLF like Python's csv module. Opens its own client-side-binding cursor on
    Django's connection: COPY takes no server-side parameters."""
    import psycopg

    connection.ensure_connection()
    raw = connection.connection
    with psycopg.ClientCursor(raw) as cursor, cursor.copy(sql, params) as copy:
        yield from crlf_rows(coalesced((bytes(row) for row in copy), COPY_CHUNK_BYTES))


def coalesced(blocks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """The same bytes in blocks of at least `size` (the last one may be shorter)."""
    pending: list[bytes] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        if held >= size:
            yield b"".join(pending)
            pending.clear()
            held = 0
    if pending:
        yield b"".join(pending)


def crlf_rows(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """COPY's CSV with every row ended by CRLF instead of LF; a newline inside a quoted cell
    stays as it is, wherever the blocks are cut."""
    inside = False  # within a quoted cell (carried across blocks)
    for data in blocks:
        parts = data.split(b'"')
        # Pieces between quotes alternate outside/inside; a doubled quote "" inside a cell
        # toggles twice, so it changes nothing.
        for j in range(1 if inside else 0, len(parts), 2):
            parts[j] = parts[j].replace(b"\n", b"\r\n")
        inside ^= len(parts) % 2 == 0
        yield b'"'.join(parts)
