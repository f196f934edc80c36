"""Site-wide response headers that belong to no single app."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers

# Pages and answers that carry customers' personal and financial data: the back-office (its CSV
# exports included), the admin and the API. Nothing under them may be kept by a browser's or a
# proxy's cache, where the next person at a shared computer, or behind the proxy, would find it.
NO_STORE_PREFIXES = ("/backoffice/", "/admin/", "/api/")


class NoStoreMiddleware:
    """`Cache-Control: no-store` (with Django's never_cache headers) on NO_STORE_PREFIXES,
    whatever the status: error pages and redirects under them too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith(NO_STORE_PREFIXES):
            add_never_cache_headers(response)
        return response
