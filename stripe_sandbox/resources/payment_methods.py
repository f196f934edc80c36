"""PaymentMethods: the test cards and tokens, raw card numbers from Stripe.js."""

from __future__ import annotations

import re
import time

from .. import objects
from ..cards import CARDS, TOKENS, TestCard, luhn_valid
from ..errors import card_error, invalid
from ..params import (
    Ctx,
    apply_metadata,
    check_unknown,
    get_dict,
    get_int,
    get_str,
)
from ..rules import (
    Obj,
)
from .customers import CustomersAPI


class PaymentMethodsAPI(CustomersAPI):
    # --- payment methods ----------------------------------------------------------------------
    def payment_method_create(self, ctx: Ctx) -> Obj:
        params = ctx.params
        check_unknown(
            params,
            {
                "type",
                "card",
                "billing_details",
                "metadata",
                "expand",
                "sepa_debit",
                "customer_balance",
                "allow_redisplay",
            },
        )
        pm = self.build_payment_method(params, prefix="")
        return self.render(pm, ctx)

    def build_payment_method(self, params: Obj, prefix: str) -> Obj:
        """Create a PaymentMethod from `type` + details (the body of /v1/payment_methods or of
        `payment_method_data`)."""

        def p(name: str) -> str:
            return f"{prefix}[{name}]" if prefix else name

        type_ = get_str(params, "type")
        if type_ is None:
            raise invalid(
                f"Missing required param: {p('type')}.", param=p("type"), code="parameter_missing"
            )
        billing = get_dict(params, "billing_details")
        metadata = apply_metadata(params)
        private: Obj = {}
        if type_ == "card":
            card_params = get_dict(params, "card")
            if card_params is None:
                raise invalid(
                    f"Missing required param: {p('card')}.",
                    param=p("card"),
                    code="parameter_missing",
                )
            card, exp_month, exp_year = self.parse_card(card_params, p("card"))
            details = objects.card_details(card, exp_month, exp_year)
            if card_params.get("cvc"):
                details["checks"]["cvc_check"] = "pass"
            private["card_number"] = card.number
        elif type_ == "sepa_debit":
            iban = (get_dict(params, "sepa_debit") or {}).get("iban", "").replace(" ", "").upper()
            if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", iban):
                raise invalid(
                    "Invalid IBAN", param=p("sepa_debit[iban]"), code="invalid_bank_account_iban"
                )
            details = {
                "bank_code": iban[4:12],
                "branch_code": "",
                "country": iban[:2],
                "fingerprint": f"fp{iban[-8:]}",
                "generated_from": {"charge": None, "setup_attempt": None},
                "last4": iban[-4:],
            }
        else:
            details = {}
        pm = objects.payment_method(
            type_=type_, details=details, billing=billing, metadata=metadata
        )
        self.store.put(pm)
        self.store.private(pm["id"]).update(private)
        return pm

    def parse_card(self, card: Obj, param: str) -> tuple[TestCard, int, int]:
        check_unknown(card, {"number", "exp_month", "exp_year", "cvc", "networks"}, param)
        number = (get_str(card, "number") or "").replace(" ", "")
        if not number:
            raise invalid(
                f"Missing required param: {param}[number].",
                param=f"{param}[number]",
                code="parameter_missing",
            )
        if not luhn_valid(number):
            raise card_error(
                "incorrect_number", "Your card number is incorrect.", param=f"{param}[number]"
            )
        test_card = CARDS.get(number)
        if test_card is None:
            raise card_error(
                "card_declined",
                "Your card was declined. Your request was in test mode, but used a non test (live) "
                "card. For a list of valid test cards, visit: https://stripe.com/docs/testing.",
                decline_code="live_mode_test_card",
            )
        exp_month = get_int(card, "exp_month")
        exp_year = get_int(card, "exp_year")
        if exp_month is None:
            raise invalid(
                f"Missing required param: {param}[exp_month].",
                param=f"{param}[exp_month]",
                code="parameter_missing",
            )
        if exp_year is None:
            raise invalid(
                f"Missing required param: {param}[exp_year].",
                param=f"{param}[exp_year]",
                code="parameter_missing",
            )
        if exp_year < 100:
            exp_year += 2000
        if not 1 <= exp_month <= 12:
            raise card_error(
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
                param=f"{param}[exp_month]",
            )
        today = time.gmtime()
        if exp_year < today.tm_year or exp_year > today.tm_year + 50:
            raise card_error(
                "invalid_expiry_year",
                "Your card's expiration year is invalid.",
                param=f"{param}[exp_year]",
            )
        if exp_year == today.tm_year and exp_month < today.tm_mon:
            raise card_error(
                "invalid_expiry_month",
                "Your card's expiration month is invalid.",
                param=f"{param}[exp_month]",
            )
        cvc = card.get("cvc")
        if cvc not in (None, "") and not re.fullmatch(r"\d{3,4}", str(cvc)):
            raise card_error(
                "invalid_cvc", "Your card's security code is invalid.", param=f"{param}[cvc]"
            )
        return test_card, exp_month, exp_year

    def payment_method_retrieve(self, ctx: Ctx, obj_id: str) -> Obj:
        check_unknown(ctx.params, {"expand"})
        return self.render(self.resolve_payment_method(obj_id, "payment_method"), ctx)

    def resolve_payment_method(self, pm_id: str, param: str) -> Obj:
        """A PaymentMethod id, or a Stripe test token (which makes a fresh PaymentMethod)."""
        if pm_id in TOKENS:
            card = CARDS[TOKENS[pm_id]]
            pm = objects.payment_method(
                type_="card",
                details=objects.card_details(card, 12, time.gmtime().tm_year + 3),
                billing=None,
                metadata={},
            )
            self.store.put(pm)
            self.store.private(pm["id"])["card_number"] = card.number
            return pm
        return self.lookup("payment_method", pm_id, param)

    def card_of(self, pm: Obj) -> TestCard | None:
        number = self.store.private(pm["id"]).get("card_number")
        return CARDS.get(number) if number else None
