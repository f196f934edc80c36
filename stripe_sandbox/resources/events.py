"""Events: retrieve, and list by type (with wildcards) and time."""

from __future__ import annotations

import re

from ..errors import invalid
from ..params import (
    Ctx,
    check_unknown,
    get_list,
    get_str,
)
from ..rules import (
    Obj,
)
from .refunds import RefundsAPI


class EventsAPI(RefundsAPI):
    # --- events -------------------------------------------------------------------------------
    def event_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("event", obj_id), ctx)

    def event_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("event").values())
        single = get_str(ctx.params, "type")
        types = get_list(ctx.params, "types")
        if single is not None and types is not None:
            raise invalid("You may pass either type or types, but not both.", param="types")
        patterns = [single] if single is not None else types
        if patterns is not None:
            regexes = [re.compile(re.escape(p).replace(r"\*", ".*") + "$") for p in patterns]
            items = [e for e in items if any(r.match(e["type"]) for r in regexes)]
        return self.paginate(ctx, "/v1/events", items, {"type", "types", "delivery_success"})
