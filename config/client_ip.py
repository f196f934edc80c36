"""Who the client is, behind the documented proxies; and what a locked-out login is answered.

One rule for every limit (DRF's throttles use the same through REST_FRAMEWORK["NUM_PROXIES"]):
with NUM_PROXIES=0 the client is REMOTE_ADDR; behind N proxies it is the address the outermost
proxy saw, the N-th entry from the end of X-Forwarded-For. Entries before it are whatever the
client sent, so rotating them changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str:
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = int(settings.NUM_PROXIES)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    addresses = [part.strip() for part in str(forwarded).split(",") if part.strip()]
    if not addresses:
        return remote
    return addresses[-min(proxies, len(addresses))]


def lockout_message() -> str:
    minutes = round(float(settings.AXES_COOLOFF_TIME) * 60)
    return (
        f"Too many failed sign-in attempts for this account from your address. Try again in "
        f"{minutes} minutes, or ask an administrator to unlock it."
    )


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """django-axes' answer to a locked-out login: JSON in the API's error shape for the API,
    a page in the site's layout for the login forms. 429: the client is sending too many."""
    message = lockout_message()
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"error": {"status": 429, "code": "locked_out", "message": message, "fields": {}}},
            status=429,
        )
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
