"""Django's form renderer, with its plainest widgets drawn in Python.

A list page's filter form draws a dozen inputs and selects; through the template engine each
`<select>` is one template per `<option>` and each element an `attrs.html` include, about a
fifth of the page's rendering. The templates below are Django's own (django/forms/widgets/),
drawn here to the byte (tests/config/test_form_renderer.py compares both for every kind of
value). DjangoTemplates looks in django/forms/templates before any app, so a project cannot
override these names for it anyway; every other template goes through the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.forms.renderers import DjangoTemplates
from django.template import Context
from django.template.base import render_value_in_context
from django.utils.safestring import SafeData, mark_safe

_CONTEXT = Context(autoescape=True)


def _out(value: Any) -> str:
    """`{{ value }}`: localized and escaped as the template engine does."""
    return render_value_in_context(value, _CONTEXT)


def _formatted(value: Any) -> str:
    """`{{ value|stringformat:'s' }}` (an is_safe filter: safe in, safe out)."""
    text = "%s" % (value,)  # noqa: UP031 (stringformat's own formatting)
    return _out(mark_safe(text) if isinstance(value, SafeData) else text)  # noqa: S308


def _attrs(attrs: Mapping[str, Any]) -> str:
    """django/forms/widgets/attrs.html"""
    parts = []
    for name, value in attrs.items():
        if value is False:
            continue
        parts.append(f" {_out(name)}" if value is True else f' {_out(name)}="{_formatted(value)}"')
    return "".join(parts)


def _input(widget: Mapping[str, Any]) -> str:
    """django/forms/widgets/input.html (and text, date, number, checkbox: includes of it)"""
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return (
        f'<input type="{_out(widget["type"])}" name="{_out(widget["name"])}"{value}'
        f"{_attrs(widget['attrs'])}>"
    )


_OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


def _option(option: Mapping[str, Any]) -> str:
    """django/forms/widgets/select_option.html"""
    return (
        f'<option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
        f"{_out(option['label'])}</option>"
    )


def _select(widget: Mapping[str, Any]) -> str | None:
    """django/forms/widgets/select.html, or None for an option of another template."""
    out = [f'<select name="{_out(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_out(group_name)}">')
        for option in group_choices:
            if option["template_name"] != _OPTION_TEMPLATE:
                return None
            # An included template keeps the newline its file ends with; only the whole is
            # stripped (BaseRenderer.render).
            out.append(f"\n  {_option(option)}\n")
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


_DRAWN: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "django/forms/widgets/text.html": _input,
    "django/forms/widgets/date.html": _input,
    "django/forms/widgets/number.html": _input,
    "django/forms/widgets/checkbox.html": _input,
    "django/forms/widgets/select.html": _select,
}


class FormRenderer(DjangoTemplates):
    """settings.FORM_RENDERER: DjangoTemplates, the widgets above drawn without the engine."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        draw = _DRAWN.get(template_name)
        if draw is not None:
            html = draw(context["widget"])
            if html is not None:
                return mark_safe(html)  # noqa: S308 (every value escaped above)
        return super().render(template_name, context, request)
