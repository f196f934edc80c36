"""The site's 400, 403, 404 and 500 answers (config.urls' handler400 ... handler500).

Pages get the back-office's templates (`403.html`, `404.html`, `500.html`), each with a way out;
anything under /api/ keeps the API's one error shape,
`{"error": {"status", "code", "message", "fields"}}`, since its callers read JSON, not HTML.
The 500 answer uses neither the database nor the request's context (either may be what broke),
and falls back to plain text if even its template cannot be rendered.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, HttpResponseServerError, JsonResponse
from django.template import loader
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

_API_ERRORS = {
    400: ("bad_request", "The request could not be understood."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "Not found."),
    500: ("server_error", "Something went wrong on our side. Please try again in a moment."),
}


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def api_error(status: int) -> JsonResponse:
    code, message = _API_ERRORS[status]
    body = {"error": {"status": status, "code": code, "message": message, "fields": {}}}
    return JsonResponse(body, status=status)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(400)
    return defaults.bad_request(request, exception)


@requires_csrf_token
def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(403)
    return defaults.permission_denied(request, exception)


@requires_csrf_token
def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return api_error(404)
    return defaults.page_not_found(request, exception)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return api_error(500)
    try:
        # No request and no context processors: nothing here may touch the database or the
        # session, which may be what failed.
        body = loader.get_template("500.html").render()
    except Exception:  # the page that reports a failure must not fail itself
        logger.exception("Could not render 500.html")
        return HttpResponseServerError(
            "Server error (500). Something went wrong on our side; please try again in a moment.",
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponseServerError(body)
