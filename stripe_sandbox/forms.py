"""Stripe's wire format for parameters: `application/x-www-form-urlencoded` with bracketed nesting.

`metadata[order_id]=1` is a dict, `payment_method_types[0]=card` (or `expand[]=latest_charge`) a
list, `created[gte]=1700000000` a filter. Values stay strings, as on the wire; handlers parse them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


class MalformedParams(ValueError):
    """A parameter name Stripe would refuse (unbalanced brackets, a list mixed with a dict, ...)."""


def decode(query: str) -> dict[str, Any]:
    """`a[b][0]=x&a[c]=y` -> {"a": {"b": ["x"], "c": "y"}}."""
    root: dict[str, Any] = {}
    for raw_key, value in parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(raw_key)
        if not match:
            raise MalformedParams(f"Invalid parameter name: {raw_key}")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        node: dict[str, Any] = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if part == "":
                # `expand[]=a&expand[]=b`: each empty index appends.
                part = str(sum(1 for k in node if k.isdigit()))
            if last:
                if isinstance(node.get(part), dict):
                    raise MalformedParams(f"Invalid parameter name: {raw_key}")
                node[part] = value
            else:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise MalformedParams(f"Invalid parameter name: {raw_key}")
                node = child
    return _listify(root)


def _listify(node: Any) -> Any:
    """Dicts whose keys are all indexes become lists, in index order."""
    if not isinstance(node, dict):
        return node
    items = {k: _listify(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[k] for k in sorted(items, key=int)]
    return items


def encode(params: dict[str, Any]) -> str:
    """The inverse of `decode`, for the pytest helpers and Stripe.js: nested dicts and lists."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}[{k}]" if prefix else str(k), v)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        elif isinstance(value, bool):
            pairs.append((prefix, "true" if value else "false"))
        else:
            pairs.append((prefix, str(value)))

    walk("", params)
    return urlencode(pairs)
