"""`manage.py settle_refunds`: the sweep of refunds Stripe has not confirmed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.context import audit_context
from payments import services


class Command(BaseCommand):
    help = (
        "Settle every refund Stripe has not confirmed once no send of it can still be in flight, "
        "whatever the payment's age: find it among Stripe's refunds of its PaymentIntent, or "
        "send it again with its own idempotency key (never twice). Prints every refund settled."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with audit_context(actor_label="settle_refunds (command)"):
            settled, waiting = services.refunds_settle_unanswered()
        for line in settled:
            self.stdout.write(line)
        for line in waiting:
            self.stderr.write(line)
        self.stdout.write(
            self.style.SUCCESS(f"Settled {len(settled)} refund(s); {len(waiting)} still waiting.")
        )
        if waiting:
            raise CommandError(f"{len(waiting)} refund(s) still wait for Stripe; run it again.")
