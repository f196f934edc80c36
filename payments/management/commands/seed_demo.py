"""`manage.py seed_demo [--payments N]`: demo users, orders, payments, refunds, webhook events."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from payments import demo_data, services
from payments.stripe_client import PaymentProviderError

DEFAULT_PAYMENTS = 240


class Command(BaseCommand):
    help = (
        "Create demo users (printing their credentials), orders, payments, refunds and webhook "
        "events. Safe to run again: it only adds what is missing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--payments",
            type=int,
            default=DEFAULT_PAYMENTS,
            help=f"How many demo payments should exist (default {DEFAULT_PAYMENTS}). "
            "Large numbers (1000000) seed a benchmark-sized database in minutes.",
        )
        parser.add_argument(
            "--live",
            type=int,
            default=0,
            metavar="N",
            help="Also make sure N payments were really paid through Stripe (the offline "
            "stand-in in the demo), so that they can be refunded. Needs Stripe reachable.",
        )
        parser.add_argument(
            "--stand-in",
            action="store_true",
            help="Also bring the demo payments (the first "
            f"{demo_data.STAND_IN_PAYMENTS:,}) into the offline stand-in at STRIPE_API_BASE, "
            "so that refresh and refund work on them. Needs the stand-in running.",
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DEBUG off. The demo users have published passwords.",
        )

    def handle(
        self,
        *args: Any,
        payments: int,
        live: int,
        stand_in: bool,
        allow_production: bool,
        **options: Any,
    ) -> None:
        if payments < 0:
            raise CommandError("--payments must be zero or more.")
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "DEBUG is off: this looks like a real deployment, and the demo users have "
                "published passwords. Pass --allow-production if you really mean it."
            )
        users = demo_data.ensure_users()
        customers = demo_data.extra_customers(demo_data.extra_customer_count(payments))

        with tqdm(
            total=payments,
            desc="payments",
            unit="pay",
            disable=payments < 10_000 or options["verbosity"] < 1,
            file=self.stderr._out,
        ) as bar:
            bar.update(min(payments, demo_data.existing_count()))
            added = demo_data.seed_payments(payments, customers, progress=bar.update)
        open_orders = demo_data.seed_open_orders([users["alice"], users["bob"]])
        # The rows' triggers left the dashboard deltas; fold them now rather than at the first
        # scheduled compaction (the demo has no worker, and a big seed leaves many on SQLite).
        services.dashboard_summary_compact()
        if stand_in:
            try:
                imported, existing = demo_data.seed_stand_in()
            except demo_data.StandInUnavailable as exc:
                raise CommandError(f"Stand-in: {exc} (is the stand-in running?)") from exc
            self.stdout.write(
                f"{imported} demo payments brought into the stand-in "
                f"({existing} were there already): refresh and refund work on them."
            )
        if live:
            try:
                paid = demo_data.seed_live_payments(live, customers)
            except PaymentProviderError as exc:
                raise CommandError(
                    f"Stripe: {exc.user_message} (is the stand-in running?)"
                ) from exc
            self.stdout.write(f"{paid} payments paid through Stripe added (refundable).")

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {added} payments added, {open_orders} unpaid orders added."
            )
        )
        self.stdout.write("Log in with (username / password, role):")
        for demo in demo_data.DEMO_USERS:
            self.stdout.write(f"  {demo.username:<8} / {demo.password:<18} {demo.role}")
