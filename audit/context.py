"""Who is acting, for entries written far from the view: the request being served (set by
`audit.middleware.AuditContextMiddleware`) or the job being run (`audit_context(actor_label=...)`
around a Celery task's or a management command's work).

A context variable, so that each request (a thread, or an asyncio task) sees only its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class AuditContext:
    # The request, not its user: the user is read when an entry is written, so that a DRF token
    # user (authenticated in the view, after every middleware) is seen too.
    request: HttpRequest | None = None
    # A job's name ("reconcile (scheduled)"), for entries with no person behind them.
    actor_label: str = ""


_current: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)


def current() -> AuditContext | None:
    return _current.get()


@contextmanager
def audit_context(*, request: HttpRequest | None = None, actor_label: str = "") -> Iterator[None]:
    token = _current.set(AuditContext(request=request, actor_label=actor_label))
    try:
        yield
    finally:
        _current.reset(token)
