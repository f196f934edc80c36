"""Template filters for the back-office pages."""

from __future__ import annotations

from decimal import Decimal

from django import template

from payments import money as money_

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """`{{ refund.amount|money:payment.currency }}` -> 'EUR 1,234.50'."""
    if amount is None:
        return "—"
    return money_.format_amount(amount, currency)
