"""Each user's time zone: times are shown (pages, the admin, CSV exports) in the zone of whoever
looks at them, named where they are shown.

A user's `time_zone` is an IANA name ("Europe/Berlin") or blank for the site's TIME_ZONE.
`UserTimeZoneMiddleware` activates it for the request (django.utils.timezone.activate), so the
`date` filter, `timezone.localtime()` / `localdate()` and the date-range filters (whole days)
all follow it; everything is still stored in UTC.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone


@functools.cache
def zone_names() -> frozenset[str]:
    """The zones this system knows (the tz database, or the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def user_time_zone_set(user: Any, name: str) -> None:
    """Show `user` their times in `name` (a validated tz name, or '' for the site's zone)."""
    validate_time_zone(name)
    user.time_zone = name
    user.save(update_fields=["time_zone"])


def sorted_zone_names() -> list[str]:
    return sorted(zone_names())


def validate_time_zone(value: str) -> None:
    """Blank (the site's zone) or a name of the tz database, spelt exactly ("Asia/Tokyo")."""
    if value and value not in zone_names():
        raise ValidationError(
            "Unknown time zone: %(value)s. Use a name such as Europe/Berlin or Asia/Tokyo.",
            code="unknown_time_zone",
            params={"value": value},
        )


def zone_of(user: object) -> zoneinfo.ZoneInfo | None:
    """The zone a user chose, or None for the site's (anonymous, blank, or a name the tz
    database no longer has: the page still renders, in TIME_ZONE)."""
    name = getattr(user, "time_zone", "") or ""
    if not name or name not in zone_names():
        return None
    return zoneinfo.ZoneInfo(name)


def site_zone_name() -> str:
    return str(settings.TIME_ZONE)


class UserTimeZoneMiddleware:
    """After AuthenticationMiddleware: the request is served in the user's zone, and the thread
    goes back to TIME_ZONE afterwards (a worker thread serves the next user next).

    A streamed response (the CSV exports) is iterated after this returns: those views read
    `timezone.get_current_timezone()` while they run and convert with it (backoffice.views.common
    `iso_local`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        zone = zone_of(getattr(request, "user", None))
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
