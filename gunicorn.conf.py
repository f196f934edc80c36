"""gunicorn's settings for this app: `gunicorn config.wsgi -c gunicorn.conf.py`.

A request may wait on Stripe for the Stripe client's worst case (every attempt timing out, and
the back-off between them): the worker timeout is longer than that, so a hung Stripe answers the
API's JSON 503 or the back-office's 503 page, never a killed worker's bare 500. Threads (gthread)
keep one slow request from holding a whole worker. Everything is read from the same environment
(and .env) as the app; the numbers below can be overridden by gunicorn's own flags.
"""

from __future__ import annotations

import os

from config import settings as app
from payments.stripe_client import worst_case_seconds

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(worst_case_seconds(app.STRIPE_TIMEOUT_SECONDS, app.STRIPE_MAX_NETWORK_RETRIES)) + 15
# A restart lets requests finish for this long, then cuts them: a CSV export that could stream
# longer (more rows than BACKOFFICE_EXPORT_STREAM_MAX_ROWS) is prepared in the background instead.
graceful_timeout = 30
keepalive = 5
# Behind NUM_PROXIES proxies, trust their X-Forwarded-* headers (the app decides the client from
# X-Forwarded-For itself: config.client_ip).
forwarded_allow_ips = "*" if app.NUM_PROXIES else "127.0.0.1"
accesslog = "-"
errorlog = "-"
