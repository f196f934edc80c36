"""`{% fixed_url %}` (the menu's links) is `{% url %}`, reversed once per process and prefix."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.urls import clear_script_prefix, set_script_prefix

NAMES = ["backoffice:dashboard", "backoffice:payments", "backoffice:audit", "login", "logout"]


def _both(name: str) -> tuple[str, str]:
    ours = Template("{% load backoffice %}{% fixed_url '" + name + "' %}").render(Context())
    theirs = Template("{% url '" + name + "' %}").render(Context())
    return ours, theirs


@pytest.mark.parametrize("name", NAMES)
def test_the_same_as_url(name):
    ours, theirs = _both(name)
    assert ours == theirs and ours.startswith("/")


def test_under_another_script_prefix_the_links_follow_it():
    before = _both("backoffice:payments")[0]
    set_script_prefix("/shop/")
    try:
        ours, theirs = _both("backoffice:payments")
    finally:
        clear_script_prefix()
    assert ours == theirs == "/shop" + before
    assert _both("backoffice:payments")[0] == before
