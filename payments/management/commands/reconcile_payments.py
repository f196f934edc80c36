"""`manage.py reconcile_payments [--since 3d]`: repair what missed webhooks left stale."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from audit.context import audit_context
from payments import services
from payments.stripe_client import PaymentProviderError


def parse_since(value: str) -> datetime:
    """'3d', '12h', '30m' ago, or an ISO date/time."""
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if match:
        unit = {"d": "days", "h": "hours", "m": "minutes"}[match[2]]
        return timezone.now() - timedelta(**{unit: int(match[1])})
    parsed = parse_datetime(value) or parse_datetime(f"{value}T00:00:00")
    if parsed is None:
        raise CommandError(f"--since {value!r}: use 3d, 12h, 30m or an ISO date like 2026-11-01.")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)


class Command(BaseCommand):
    help = (
        "Ask Stripe for every PaymentIntent created since --since (default 3d) and its refunds, "
        "and bring our payments and refunds up to date. Prints every change."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", default="3d", help="3d, 12h, 30m or an ISO date/time")

    def handle(self, *args: Any, since: str, **options: Any) -> None:
        start = parse_since(since)
        with (
            tqdm(desc="PaymentIntents", unit="pi", file=self.stderr._out) as bar,
            audit_context(actor_label="reconcile_payments (command)"),
        ):
            try:
                checked, changes, errors = services.payments_reconcile(
                    since=start, progress=bar.update
                )
            except PaymentProviderError as exc:  # listing itself failed: nothing was checked
                raise CommandError(f"Stripe: {exc.user_message}") from exc
        for line in changes:
            self.stdout.write(line)
        for line in errors:
            self.stderr.write(line)
        self.stdout.write(
            self.style.SUCCESS(
                f"Checked {checked} payments since {start:%Y-%m-%d %H:%M}; {len(changes)} changed."
            )
        )
        if errors:
            raise CommandError(f"{len(errors)} payment(s) could not be checked; run it again.")
