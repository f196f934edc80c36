"""Template filters for the back-office pages."""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, get_urlconf, reverse

from backoffice import tables
from payments import money as money_
from payments import selectors

register = template.Library()


@register.simple_tag
def fixed_url(name: str) -> str:
    """`{% fixed_url 'backoffice:payments' %}`: `{% url %}` of a URL that takes no arguments,
    reversed once per process (and script prefix): the menu's ten links took a millisecond a
    page to reverse, for the same answers every time."""
    return _reversed(name, get_script_prefix(), get_urlconf())


@functools.lru_cache(maxsize=64)
def _reversed(name: str, prefix: str, urlconf: str | None) -> str:
    return reverse(name, urlconf=urlconf)


@receiver(setting_changed)
def _urls_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":  # as Django's own URL caches are cleared (tests only)
        _reversed.cache_clear()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """`{{ refund.amount|money:payment.currency }}` -> 'EUR 1,234.50'."""
    if amount is None:
        return "—"
    return money_.format_amount(amount, currency)


@register.filter
def humanize_code(value: str) -> str:
    """Stripe's codes as words: "product_not_received" -> "Product not received"."""
    return str(value or "").replace("_", " ").capitalize()


register.filter("dispute_badge", tables.dispute_badge)


@register.filter
def attention_count(count: int) -> str:
    """A "Needs attention" count: `1,000+` past the cap the selectors count up to."""
    if count > selectors.ATTENTION_CAP:
        return f"{selectors.ATTENTION_CAP:,}+"
    return f"{count:,}"


@register.filter
def get_item(mapping: dict, key: str) -> object:
    return mapping.get(key) if mapping else None
