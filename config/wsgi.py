"""WSGI entry point: `gunicorn config.wsgi`.

Stripe's webhook is served by a handler of its own, with only the middleware that applies to a
signed POST from no user (settings.WEBHOOK_MIDDLEWARE): Stripe delivers every event there, at
rates no page sees, and sessions, users, messages, CSRF (the view is exempt), CSP (exempt),
htmx and the login lockout do nothing for it but cost time. Every other path is served by
Django's handler with the whole MIDDLEWARE, as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

_site = get_wsgi_application()


class _WebhookHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        whole = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.WEBHOOK_MIDDLEWARE  # read by load_middleware only
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = whole


_webhook = _WebhookHandler()


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == settings.WEBHOOK_PATH:
        return _webhook(environ, start_response)
    return _site(environ, start_response)
