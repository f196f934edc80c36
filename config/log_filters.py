"""Logging filters used by settings.LOGGING."""

from __future__ import annotations

import logging


class ClientErrorsWithoutTraceback(logging.Filter):
    """A 4xx logged by Django (`django.request`'s "Forbidden (Permission denied): /backoffice/",
    `django.security`'s bad Host header) is one line: Django attaches the exception that made
    the answer, and its traceback says nothing about a request that was refused as intended.
    5xx records keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
