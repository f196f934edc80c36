"""Customers: create, retrieve, update, list."""

from __future__ import annotations

from .. import objects
from ..base import APIBase
from ..params import (
    Ctx,
    apply_metadata,
    check_unknown,
    get_str,
)
from ..rules import (
    Obj,
)


class CustomersAPI(APIBase):
    # --- customers ----------------------------------------------------------------------------
    CUSTOMER_FIELDS = {
        "email",
        "name",
        "description",
        "phone",
        "metadata",
        "expand",
        "address",
        "shipping",
        "preferred_locales",
        "payment_method",
        "invoice_settings",
        "tax_exempt",
    }

    def customer_create(self, ctx: Ctx) -> Obj:
        params = ctx.params
        check_unknown(params, self.CUSTOMER_FIELDS)
        customer = objects.customer(
            email=get_str(params, "email"),
            name=get_str(params, "name"),
            description=get_str(params, "description"),
            phone=get_str(params, "phone"),
            metadata=apply_metadata(params),
        )
        self.store.put(customer)
        self.emit("customer.created", customer, ctx)
        return self.render(customer, ctx)

    def customer_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.lookup("customer", obj_id), ctx)

    def customer_update(self, ctx: Ctx, obj_id: str) -> Obj:
        params = ctx.params
        check_unknown(params, self.CUSTOMER_FIELDS)
        customer = self.lookup("customer", obj_id)
        previous: Obj = {}
        for name in ("email", "name", "description", "phone"):
            if name in params:
                previous[name] = customer[name]
                customer[name] = get_str(params, name)
        if "metadata" in params:
            previous["metadata"] = customer["metadata"]
            customer["metadata"] = apply_metadata(params, customer["metadata"])
        self.emit("customer.updated", customer, ctx, previous)
        return self.render(customer, ctx)

    def customer_list(self, ctx: Ctx) -> Obj:
        items = list(self.store.collection("customer").values())
        email = get_str(ctx.params, "email")
        if email is not None:
            items = [c for c in items if c["email"] == email]
        return self.paginate(ctx, "/v1/customers", items, {"email"})
