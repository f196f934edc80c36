"""Celery tasks: Stripe's webhooks applied off the request path, and the scheduled jobs.

Each task is a thin shell around one service, which stays the place of every write and Stripe
call. Every task may run twice, or on two hosts at once: applying an event is exactly-once under
its row lock; the sweeps claim each row they act on; reconcile runs under an advisory lock.
A 429 or an unreachable Stripe is retried with exponential back-off and jitter, never dropped.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from audit.context import audit_context
from payments import queue, services
from payments.services.common import exclusive
from payments.stripe_client import ProviderUnavailable, RateLimited

logger = logging.getLogger(__name__)

# Stripe busy or unreachable: try the whole job again later (back-off 2 s, 4 s, ... 10 min).
_STRIPE_TRANSIENT = (RateLimited, ProviderUnavailable)
_RETRY = {
    "autoretry_for": _STRIPE_TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": None,
}


@shared_task(**_RETRY)
def webhook_events_drain() -> int:
    """Apply every due webhook event (exactly once each: a copy that finds one applied stops),
    then, if a retry falls due within a minute, come back for it then."""
    applied = services.webhook_events_apply_due()
    queue.drain_finished()
    # What arrived while finishing found the drain still awake: look once more.
    applied += services.webhook_events_apply_due()
    next_due = services.webhook_events_next_due()
    if next_due is not None:
        wait = (next_due - timezone.now()).total_seconds()
        if wait < 60:
            queue.webhook_events_drain(countdown=max(wait, 0.0))
    return applied


@shared_task(**_RETRY)
def webhook_events_sweep() -> int:
    """The stale-event sweep: wake a drain if any event is overdue (a lost wake-up, a worker
    killed with events claimed, Redis down when they arrived)."""
    cutoff = timezone.now() - timedelta(
        seconds=float(settings.PAYMENTS_EVENT_REQUEUE_AFTER_SECONDS)
    )
    overdue = services.webhook_events_next_due()
    if overdue is not None and overdue <= cutoff:
        logger.warning("webhook events overdue since %s: waking a drain", overdue.isoformat())
        queue.webhook_events_drain()
        return 1
    return 0


@shared_task(**_RETRY)
def refunds_settle() -> int:
    """The sweep of refunds Stripe has not confirmed (each claimed before it is settled)."""
    with audit_context(actor_label="refund sweep (scheduled)"):
        settled, waiting = services.refunds_settle_unanswered()
    for line in settled:
        logger.info("sweep: %s", line)
    for line in waiting:
        logger.warning("sweep: %s", line)
    return len(settled)


@shared_task(**_RETRY)
def payments_reconcile_recent() -> int:
    """Reconcile the last PAYMENTS_RECONCILE_DAYS days with Stripe, once at a time everywhere."""
    with exclusive("payments.reconcile") as mine:
        if not mine:
            logger.info("reconcile: already running elsewhere")
            return 0
        since = timezone.now() - timedelta(days=float(settings.PAYMENTS_RECONCILE_DAYS))
        with audit_context(actor_label="reconcile (scheduled)"):
            checked, changes, errors = services.payments_reconcile(since=since)
    for line in changes:
        logger.info("reconcile: %s", line)
    for line in errors:
        logger.warning("reconcile: %s", line)
    logger.info("reconcile: checked %d payments, %d changed", checked, len(changes))
    return len(changes)


@shared_task(**_RETRY)
def dashboard_summary_compact() -> int:
    """Fold the dashboard's deltas into its summary (safe when two hosts run it at once), then
    vacuum the two small tables so that the reads never scan the folded rows' dead versions."""
    folded = services.dashboard_summary_compact()
    services.dashboard_tables_vacuum()
    return folded
