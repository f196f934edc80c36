"""An entry's before -> after, as the pages and the CSV show it: one line per field that
differs, nested fields by their path ("refunds.12.status")."""

from __future__ import annotations

from typing import Any

from audit.models import AuditEntry

_MISSING = "—"


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(_flat(inner, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): value} if prefix else {}


def _shown(value: Any) -> str:
    if value is None or value == "" or value == {}:
        return _MISSING
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or _MISSING
    return str(value)


def entry_changes(entry: AuditEntry, payment_id: int | None = None) -> list[tuple[str, str, str]]:
    """(field, before, after) for each field that differs. With `payment_id`, a job run's entry
    shows only what it changed on that payment."""
    before, after = entry.before or {}, entry.after or {}
    if payment_id is not None and entry.payment_id is None:
        key = str(payment_id)
        before = (before.get("payments") or {}).get(key) or {}
        after = (after.get("payments") or {}).get(key) or {}
    old, new = _flat(before), _flat(after)
    fields = list(dict.fromkeys([*old, *new]))
    return [
        (field, _shown(old.get(field)), _shown(new.get(field)))
        for field in fields
        if old.get(field) != new.get(field)
    ]


def entry_changes_text(entry: AuditEntry, payment_id: int | None = None) -> str:
    """The same on one line: "status: pending -> succeeded; amount_refunded: 0.00 -> 10.00"."""
    return "; ".join(f"{f}: {b} -> {a}" for f, b, a in entry_changes(entry, payment_id))
