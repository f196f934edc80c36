"""The viewer's own settings: the time zone their times are shown in (shop.timezones)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from backoffice.views.common import HtmxHttpRequest, staff_user, staff_view
from shop.timezones import (
    site_zone_name,
    sorted_zone_names,
    user_time_zone_set,
    validate_time_zone,
)

FOREIGN_NEXT = "The page to go back to must be a page of this site."


class TimeZoneForm(forms.Form):
    # A CharField with the tz validator, not a ChoiceField: a refused name gets the reason
    # ("Unknown time zone: ..."), not "Select a valid choice".
    time_zone = forms.CharField(
        label="Time zone",
        required=False,
        max_length=64,
        validators=[validate_time_zone],
        widget=forms.Select(attrs={"aria-describedby": "tz-help"}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        widget = self.fields["time_zone"].widget
        assert isinstance(widget, forms.Select)
        widget.choices = [
            ("", f"The site's time zone ({site_zone_name()})"),
            *((name, name) for name in sorted_zone_names()),
        ]


def safe_next(request: HttpRequest, target: str) -> str | None:
    """`target` if it is a path on this site ("/backoffice/payments/?status=failed"), else None:
    never another host, a scheme, or a protocol-relative "//host" path."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or "\\" in target:
        return None
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return None
    return target


@require_http_methods(["GET", "HEAD", "POST"])
@staff_view()
def user_settings(request: HtmxHttpRequest) -> HttpResponse:
    user = staff_user(request)
    here = reverse("backoffice:settings")
    if request.method != "POST":
        # A link from another page brings its path; anything else is dropped, not carried along.
        back = safe_next(request, request.GET.get("next", "")) or ""
        form = TimeZoneForm(initial={"time_zone": user.time_zone, "next": back})
        return _render(request, form, back)
    form = TimeZoneForm(request.POST)
    if not form.is_valid():
        return _render(request, form, safe_next(request, request.POST.get("next", "")), 400)
    target = form.cleaned_data["next"]
    back_to = safe_next(request, target) if target else here
    if back_to is None:
        form.add_error(None, FOREIGN_NEXT)
        return _render(request, form, None, 400)
    user_time_zone_set(user, form.cleaned_data["time_zone"])
    messages.success(request, f"Times are now shown in {user.time_zone or site_zone_name()}.")
    return HttpResponseRedirect(back_to)


def _render(
    request: HttpRequest, form: TimeZoneForm, back: str | None, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "backoffice/settings.html",
        {"form": form, "back": back or "", "site_zone": site_zone_name()},
        status=status,
    )
