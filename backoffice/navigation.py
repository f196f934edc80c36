"""The way back from a payment to the list it was opened from, with that list's filters.

A list's links to a payment carry the list's own path and query as `back`; the payment page's
"← Payments" breadcrumb links there. `back` arrives from the browser, so it is taken only when it
is the path of one of this site's list pages (no scheme, no host, no other page): anything else
falls back to the plain payments list, and the link is rebuilt from the parsed parts, never
echoed. No open redirect, and nothing kept in the session (two tabs keep two ways back).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

from django.http import HttpRequest
from django.urls import reverse

BACK_PARAM = "back"
MAX_BACK_LENGTH = 2000  # far more than any list's filters need; longer is not ours

# The lists a payment can be opened from, and what the breadcrumb calls them.
_LISTS = {
    "backoffice:payments": "Payments",
    "backoffice:refunds": "Refunds",
    "backoffice:webhook_events": "Webhook events",
}


@dataclass(frozen=True)
class BackLink:
    url: str
    label: str


def _list_query(query: str) -> str:
    # Empty filters mean "any": leaving them out keeps the links short.
    return urlencode([(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if v])


def with_back(url: str, request: HttpRequest | None) -> str:
    """`url` (a payment's page) with the way back to the list `request` drew, if any."""
    return url + back_query(request)


def back_query(request: HttpRequest | None) -> str:
    """The query string (`?back=...`, or nothing) that leads from a payment's page back to the
    list `request` drew: the same for every row of the list, so a table builds it once."""
    if request is None:
        return ""
    path = request.path
    query = _list_query(request.META.get("QUERY_STRING", ""))
    back = f"{path}?{query}" if query else path
    if back == reverse("backoffice:payments"):
        return ""  # the breadcrumb's default already
    return f"?{urlencode({BACK_PARAM: back})}"


def back_link(request: HttpRequest) -> BackLink:
    """Where the payment page's breadcrumb leads: the list in `back` if it is one, else the
    payments list."""
    return _parse_back(request.GET.get(BACK_PARAM, "")) or BackLink(
        reverse("backoffice:payments"), _LISTS["backoffice:payments"]
    )


def _parse_back(value: str) -> BackLink | None:
    if not value or len(value) > MAX_BACK_LENGTH:
        return None
    # Only a path on this site: "//host", "/\host" and "https://host" are other sites.
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    for name, label in _LISTS.items():
        if parts.path == reverse(name):
            query = _list_query(parts.query)
            return BackLink(f"{parts.path}?{query}" if query else parts.path, label)
    return None
