"""What every resource of the stand-in's API shares: finding, rendering (expand), listing,
events and scheduled changes."""

from __future__ import annotations

import copy
import time
from typing import Any

from . import objects
from .errors import invalid
from .params import (
    Ctx,
    check_unknown,
    created_filter,
    get_int,
    get_list,
    get_str,
)
from .rules import (
    EXPANDABLE,
    MISSING_PARAM,
    PREFIX_KINDS,
    PUBLISHABLE_PI_FIELDS,
    Obj,
)
from .store import Store


def hide_unexpanded(obj: Any, expanded: set[str], prefix: str = "") -> None:
    """Drop what this API version sends only when asked for with `expand`: since 2022-11-15 a
    charge's `refunds` (its refunds are listed with /v1/refunds?charge=)."""
    if not isinstance(obj, dict):
        return
    if obj.get("object") == "charge" and f"{prefix}refunds" not in expanded:
        obj.pop("refunds", None)
    if obj.get("object") == "list":
        for item in obj.get("data") or []:
            hide_unexpanded(item, expanded, f"{prefix}data.")
        return
    for key, value in obj.items():
        if isinstance(value, dict):
            hide_unexpanded(value, expanded, f"{prefix}{key}.")


class APIBase:
    """The state a resource works on; the resources build on it, one after the other."""

    store: Store
    refund_settle_delay: float
    account_country: str
    default_account_country: str

    # --- helpers ------------------------------------------------------------------------------
    def lookup(self, kind: str, obj_id: str, param: str | None = None) -> Obj:
        obj = self.store.get(kind, obj_id)
        if obj is None:
            raise invalid(
                f"No such {kind}: '{obj_id}'",
                param=param or MISSING_PARAM[kind],
                code="resource_missing",
                status=404,
            )
        return obj

    def find_any(self, obj_id: str) -> Obj | None:
        kind = PREFIX_KINDS.get(obj_id.split("_", 1)[0])
        return self.store.get(kind, obj_id) if kind else None

    def render(self, obj: Obj, ctx: Ctx, extra_expand: list[str] | None = None) -> Obj:
        expand = [*(get_list(ctx.params, "expand") or []), *(extra_expand or [])]
        result = copy.deepcopy(obj)
        for path in expand:
            if not isinstance(path, str):
                raise invalid("Invalid array", param="expand")
            result = self._expand(result, path.split("."), path)
        hide_unexpanded(result, set(expand))
        return result

    def _expand(self, obj: Obj, parts: list[str], full: str) -> Obj:
        head, rest = parts[0], parts[1:]
        if obj.get("object") == "list" and head == "data":
            obj["data"] = (
                [self._expand(item, rest, full) for item in obj["data"]] if rest else obj["data"]
            )
            return obj
        if head not in EXPANDABLE.get(obj.get("object", ""), set()):
            raise invalid(f"This property cannot be expanded ({full}).", param="expand")
        value = obj.get(head)
        if isinstance(value, str):
            target = self.find_any(value)
            value = copy.deepcopy(target) if target else value
        if isinstance(value, dict) and rest:
            value = self._expand(value, rest, full)
        obj[head] = value
        return obj

    def paginate(self, ctx: Ctx, url: str, items: list[Obj], allowed: set[str]) -> Obj:
        params = ctx.params
        check_unknown(
            params, allowed | {"limit", "starting_after", "ending_before", "expand", "created"}
        )
        limit = get_int(params, "limit")
        limit = 10 if limit is None else limit
        if not 1 <= limit <= 100:
            raise invalid("Invalid limit: must be between 1 and 100", param="limit")
        keep = created_filter(params)
        # Newest first, as Stripe lists; insertion order breaks ties within a second.
        ordered = [obj for obj in reversed(items) if keep(obj)]
        ordered.sort(key=lambda obj: obj["created"], reverse=True)
        ids = [obj["id"] for obj in ordered]
        after, before = get_str(params, "starting_after"), get_str(params, "ending_before")
        if after is not None:
            if after not in ids:
                raise invalid(
                    f"No such object: '{after}'",
                    param="starting_after",
                    code="resource_missing",
                    status=404,
                )
            window = ordered[ids.index(after) + 1 :]
            page, has_more = window[:limit], len(window) > limit
        elif before is not None:
            if before not in ids:
                raise invalid(
                    f"No such object: '{before}'",
                    param="ending_before",
                    code="resource_missing",
                    status=404,
                )
            window = ordered[: ids.index(before)]
            page, has_more = window[-limit:], len(window) > limit
        else:
            page, has_more = ordered[:limit], len(ordered) > limit
        listing = {"object": "list", "data": page, "has_more": has_more, "url": url}
        return self.render(listing, ctx)

    def emit(self, type_: str, obj: Obj, ctx: Ctx | None, previous: Obj | None = None) -> Obj:
        endpoints = [e for e in self.store.endpoints() if e.wants(type_)]
        rendered = copy.deepcopy(obj)
        hide_unexpanded(rendered, set())  # events carry objects as a plain retrieve would
        event = objects.event(
            type_=type_,
            obj=rendered,
            previous=previous,
            request_id=ctx.request_id if ctx else None,
            idempotency_key=ctx.idempotency_key if ctx else None,
            api_version=ctx.api_version if ctx else None,
            pending_webhooks=len(endpoints),
        )
        self.store.put(event)
        for endpoint in endpoints:
            self.store.queue_delivery(event["id"], endpoint.id)
        self.store.wakeup.set()
        return event

    def schedule(self, action: str, obj_id: str, delay: float) -> None:
        self.store.data["scheduled"].append(
            {"at": time.time() + delay, "action": action, "id": obj_id}
        )
        self.store.wakeup.set()

    def publishable_view(self, pi: Obj, ctx: Ctx) -> Obj:
        if ctx.params.get("client_secret") != pi["client_secret"]:
            raise invalid(
                "The client_secret provided does not match the client_secret associated with the "
                "PaymentIntent.",
                param="client_secret",
            )
        return {k: v for k, v in self.render(pi, ctx).items() if k in PUBLISHABLE_PI_FIELDS}
