"""The one place that wakes the Celery worker (payments.tasks), after the commit.

The event table is the queue (a transactional outbox): an event to apply is a row that is due
(`next_attempt_at`). Waking the worker only tells it to look; it then claims due rows itself.
So a wake-up that is lost (Redis down, the process killed after the commit) delays an event
until the next one or the periodic sweep, and never loses it; and intake pays for a wake-up
only when the worker is not already draining (one Redis SET NX otherwise).

With no broker configured (CELERY_BROKER_URL unset: the demo) nothing is queued: `inline()` is
true and callers do the work in the request, as the demo always has.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

# Set while a drain is queued or running: new events need no wake-up of their own then.
DRAIN_KEY = "payments:webhook-drain-awake"
DRAIN_KEY_SECONDS = 30  # a drain killed while holding it is covered by the sweep


def inline() -> bool:
    """No worker: work runs in the process that asks for it."""
    return bool(settings.CELERY_TASK_ALWAYS_EAGER)


def webhook_events_due() -> None:
    """Events are due: make sure a worker drains them, once the current transaction commits."""
    transaction.on_commit(_wake_drain)


@functools.lru_cache(maxsize=1)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _flag_set() -> bool:
    """Set the "drain awake" flag; False if it was already set. One Redis command on a client
    kept for the process (Django's cache builds a new client per call, costly at webhook rates)."""
    if settings.REDIS_URL:
        return bool(_redis(settings.REDIS_URL).set(DRAIN_KEY, 1, nx=True, ex=DRAIN_KEY_SECONDS))
    return bool(cache.add(DRAIN_KEY, 1, timeout=DRAIN_KEY_SECONDS))


def _wake_drain() -> None:
    try:
        if not _flag_set():
            return  # a drain is already queued or running; it will see these rows
    except Exception:  # Redis is down: wake anyway, or leave it to the sweep
        logger.warning("cache unreachable while waking the webhook drain")
    webhook_events_drain()


def webhook_events_drain(*, countdown: float | None = None) -> None:
    """Queue a drain of the due events now (or in `countdown` seconds), without the debounce."""
    from payments import tasks

    try:
        tasks.webhook_events_drain.apply_async(countdown=countdown)
    except Exception:  # the broker is down: the rows are safe, the sweep wakes a drain later
        logger.warning("could not wake the webhook drain; the sweep will")


def drain_finished() -> None:
    """A drain found nothing left: the next event must wake one again."""
    try:
        if settings.REDIS_URL:
            _redis(settings.REDIS_URL).delete(DRAIN_KEY)
        else:
            cache.delete(DRAIN_KEY)
    except Exception:
        logger.warning("cache unreachable while ending the webhook drain")
