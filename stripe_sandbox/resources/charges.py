"""Charges: retrieve and list (a PaymentIntent's confirmation makes them)."""

from __future__ import annotations

from ..params import (
    Ctx,
    check_unknown,
    get_str,
)
from ..rules import (
    Obj,
)
from .payment_methods import PaymentMethodsAPI


class ChargesAPI(PaymentMethodsAPI):
    # --- charges ------------------------------------------------------------------------------
    def charge_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("charge", obj_id), ctx)

    def charge_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("charge").values())
        for name in ("payment_intent", "customer"):
            value = get_str(ctx.params, name)
            if value is not None:
                items = [ch for ch in items if ch[name] == value]
        return self.paginate(ctx, "/v1/charges", items, {"payment_intent", "customer"})
