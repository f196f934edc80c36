"""`manage.py replay_webhook_events`: apply recorded Stripe events again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.context import audit_context
from payments import services
from payments.models import StripeWebhookEvent


class Command(BaseCommand):
    help = (
        "Re-apply recorded Stripe webhook events: the failed ones (--failed), given event ids "
        "(evt_...), or all of a type (--type). Applying is idempotent, so a replay is safe."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event_ids", nargs="*", help="Stripe event ids (evt_...)")
        parser.add_argument("--failed", action="store_true", help="every failed event")
        parser.add_argument("--type", dest="event_type", help="every event of this type")

    def handle(
        self, *args: Any, event_ids: list[str], failed: bool, event_type: str | None, **options: Any
    ) -> None:
        if not (event_ids or failed or event_type):
            raise CommandError("Say which events: ids, --failed, or --type TYPE.")
        events = StripeWebhookEvent.objects.order_by("stripe_created_at", "pk")
        if event_ids:
            events = events.filter(stripe_event_id__in=event_ids)
            missing = set(event_ids) - set(events.values_list("stripe_event_id", flat=True))
            if missing:
                raise CommandError(f"Unknown event ids: {', '.join(sorted(missing))}")
        if failed:
            events = events.filter(status=StripeWebhookEvent.Status.FAILED)
        if event_type:
            events = events.filter(event_type=event_type)

        outcomes: dict[str, int] = {}
        for pk, stripe_id in list(events.values_list("pk", "stripe_event_id")):
            try:
                with audit_context(actor_label="replay_webhook_events (command)"):
                    row = services.webhook_event_replay(event_id=pk)
                outcome = row.status
            except services.WebhookProcessingFailed:
                outcome = "failed"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            self.stdout.write(f"{stripe_id}: {outcome}")
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
        self.stdout.write(
            self.style.SUCCESS(f"Replayed {sum(outcomes.values())}: {summary or '-'}")
        )
        if outcomes.get("failed"):
            raise CommandError(f"{outcomes['failed']} event(s) still fail: see their errors.")
