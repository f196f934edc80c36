"""The Stripe API the stand-in speaks: its routes, over the resources (stripe_sandbox.resources).

Handlers run under the store's lock. They raise `StripeError` for anything Stripe answers with an
error body, and emit events (which queue webhook deliveries) for every state change Stripe reports.
"""

from __future__ import annotations

import re

from .errors import StripeError, invalid
from .params import Ctx, Handler, format_amount
from .resources.disputes import DisputesAPI
from .store import Store

__all__ = ["Ctx", "StripeAPI", "StripeError", "format_amount", "invalid"]


class StripeAPI(DisputesAPI):
    def __init__(
        self, store: Store, *, refund_settle_delay: float = 2.0, account_country: str = "NL"
    ) -> None:
        self.store = store
        self.refund_settle_delay = refund_settle_delay
        # The account's country decides which payment methods work (Stripe's availability).
        self.default_account_country = self.account_country = account_country.upper()
        # (method, compiled path, handler, allowed with a publishable key)
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []
        table: list[tuple[str, str, Handler, bool]] = [
            ("POST", r"/v1/customers", self.customer_create, False),
            ("GET", r"/v1/customers", self.customer_list, False),
            ("GET", r"/v1/customers/(?P<obj_id>[^/]+)", self.customer_retrieve, False),
            ("POST", r"/v1/customers/(?P<obj_id>[^/]+)", self.customer_update, False),
            ("POST", r"/v1/payment_methods", self.payment_method_create, True),
            ("GET", r"/v1/payment_methods/(?P<obj_id>[^/]+)", self.payment_method_retrieve, False),
            ("POST", r"/v1/payment_intents", self.payment_intent_create, False),
            ("GET", r"/v1/payment_intents", self.payment_intent_list, False),
            ("GET", r"/v1/payment_intents/(?P<obj_id>[^/]+)", self.payment_intent_retrieve, True),
            ("POST", r"/v1/payment_intents/(?P<obj_id>[^/]+)", self.payment_intent_update, False),
            (
                "POST",
                r"/v1/payment_intents/(?P<obj_id>[^/]+)/confirm",
                self.payment_intent_confirm,
                True,
            ),
            (
                "POST",
                r"/v1/payment_intents/(?P<obj_id>[^/]+)/cancel",
                self.payment_intent_cancel,
                False,
            ),
            ("GET", r"/v1/charges", self.charge_list, False),
            ("GET", r"/v1/charges/(?P<obj_id>[^/]+)", self.charge_retrieve, False),
            ("POST", r"/v1/refunds", self.refund_create, False),
            ("GET", r"/v1/refunds", self.refund_list, False),
            ("GET", r"/v1/refunds/(?P<obj_id>[^/]+)", self.refund_retrieve, False),
            ("POST", r"/v1/refunds/(?P<obj_id>[^/]+)", self.refund_update, False),
            (
                "POST",
                r"/v1/test_helpers/customers/(?P<obj_id>[^/]+)/fund_cash_balance",
                self.customer_fund_cash_balance,
                False,
            ),
            ("GET", r"/v1/disputes", self.dispute_list, False),
            ("GET", r"/v1/disputes/(?P<obj_id>[^/]+)", self.dispute_retrieve, False),
            ("POST", r"/v1/disputes/(?P<obj_id>[^/]+)", self.dispute_update, False),
            ("POST", r"/v1/disputes/(?P<obj_id>[^/]+)/close", self.dispute_close, False),
            ("GET", r"/v1/events", self.event_list, False),
            ("GET", r"/v1/events/(?P<obj_id>[^/]+)", self.event_retrieve, False),
        ]
        for method, pattern, handler, publishable in table:
            self.routes.append((method, re.compile(pattern + "/?"), handler, publishable))

    # --- routing ------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> tuple[Handler, dict[str, str], bool, str]:
        """(handler, path arguments, allowed with a publishable key, route template)."""
        path_matched = False
        for route_method, pattern, handler, publishable in self.routes:
            match = pattern.fullmatch(path)
            if match:
                path_matched = True
                if route_method == method:
                    template = pattern.pattern.removesuffix("/?").replace(
                        "(?P<obj_id>[^/]+)", "{id}"
                    )
                    return handler, match.groupdict(), publishable, template
        if path_matched:
            raise invalid(
                f"Unrecognized request URL ({method}: {path}). The stand-in does not serve this "
                "method for this path.",
                status=404,
            )
        raise invalid(
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
            "we can help at https://support.stripe.com/.",
            status=404,
        )
