"""The Celery app: configured from Django's settings (CELERY_*), tasks in payments.tasks.

Production runs three processes from one codebase (see the README):
`gunicorn config.wsgi -c gunicorn.conf.py`, `celery -A config worker`, `celery -A config beat`.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("payments_backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
