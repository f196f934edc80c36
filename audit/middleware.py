"""Makes the request being served known to `audit_record`, wherever in a service it is called."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import audit_context


class AuditContextMiddleware:
    """After AuthenticationMiddleware (the user) and before the views: every entry written while
    a request is served records its user and its client address (config.client_ip)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with audit_context(request=request):
            return self.get_response(request)
