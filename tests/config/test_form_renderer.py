"""The form renderer draws its widgets byte for byte as Django's templates do."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates
from django.http import QueryDict
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from backoffice import filters
from config.form_renderer import FormRenderer

OURS = FormRenderer()
DJANGOS = DjangoTemplates()

ATTRS = [
    {},
    {"required": True, "disabled": False, "placeholder": "<type & \"quote\" 'it'>"},
    {"size": 8, "inputmode": "decimal", "list": "event-types", "aria-describedby": "q-help"},
    {"class": mark_safe("a&amp;b"), "data-x": 0, "data-y": None},
]
VALUES = [None, "", "plain", "<b>&\"'</b>", mark_safe("<i>safe</i>"), 5, Decimal("1.50"), 0]


@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize("value", VALUES)
@pytest.mark.parametrize(
    "widget",
    [
        forms.TextInput,
        forms.NumberInput,
        lambda attrs: forms.DateInput(attrs={"type": "date", **attrs}, format="%Y-%m-%d"),
        forms.CheckboxInput,
    ],
)
def test_inputs_are_drawn_as_djangos_templates_draw_them(widget, value, attrs):
    w = widget(attrs=attrs)
    assert w.render("f", value, renderer=OURS) == w.render("f", value, renderer=DJANGOS)


def test_a_date_and_a_checked_box_too():
    date = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    box = forms.CheckboxInput()
    for widget, value in [(date, dt.date(2026, 12, 2)), (box, True), (box, False), (box, "on")]:
        assert widget.render("f", value, renderer=OURS) == widget.render(
            "f", value, renderer=DJANGOS
        )


CHOICES = [
    [("", "Any"), ("succeeded", "Succeeded"), ("failed", 'Failed <now> & "then"')],
    [(1, "one"), (2, gettext_lazy("two")), (3, mark_safe("<b>three</b>"))],
    [("Cards", [("visa", "Visa"), ("mc", "Mastercard")]), ("other", "Other"), ("", "Any")],
    [],
]


@pytest.mark.parametrize("attrs", ATTRS)
@pytest.mark.parametrize("choices", CHOICES)
@pytest.mark.parametrize("value", [None, "", "failed", 2, "mc", ["visa"]])
def test_selects_are_drawn_as_djangos_templates_draw_them(choices, value, attrs):
    w = forms.Select(attrs=attrs, choices=choices)
    assert w.render("status", value, renderer=OURS) == w.render("status", value, renderer=DJANGOS)


def test_other_widgets_still_go_through_the_templates():
    for w in [forms.Textarea(), forms.RadioSelect(choices=[("a", "A")]), forms.SelectMultiple()]:
        assert w.render("f", "a", renderer=OURS) == w.render("f", "a", renderer=DJANGOS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filterset", "query"),
    [
        (filters.PaymentFilter, "status=failed&currency=JPY&q=%3Cx%3E&amount_min=1.5&method=card"),
        (filters.PaymentFilter, "created_from=2026-12-01&created_to=nonsense&disputed=yes"),
        (filters.RefundFilter, "status=failed&reason=duplicate"),
        (filters.WebhookEventFilter, "event_type=charge&status=failed&show_ignored=on"),
        (filters.DisputeFilter, "due_within=7&reason=fraudulent"),
        (filters.AuditFilter, "action=refund_created&payment=12"),
    ],
)
def test_the_back_offices_filter_forms_are_the_same_html(filterset, query):
    form = filterset(QueryDict(query)).form
    ours = "".join(str(field.as_widget()) for field in form)
    form.renderer = DJANGOS
    theirs = "".join(str(field.as_widget()) for field in form)
    assert ours == theirs
    assert "<select" in ours or "<input" in ours
