"""The demo seeder writes exactly the rows it always wrote, on both databases; on PostgreSQL it
streams them in with COPY and leaves the schema exactly as the migrations made it."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection

from payments import demo_data, selectors
from payments.models import DashboardSummary, Payment, Refund, StripeWebhookEvent
from scripts.bench.dashboard import live_currencies, live_daily_volume, live_period
from shop.models import CustomUser, Order
from tests.payments.seed_digest import digest

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# The digests of what the seeder wrote before it learned COPY (bulk_create in batches, the same
# on SQLite and PostgreSQL), for the default demo's 240 payments and for 3,000.
DIGEST_240 = "6a97823ffe4e45e21b95136b6c877523f4b42204f596359d1f32547f5b2c69ad"
DIGEST_3000 = "eefde9d0bfed66eedd2d86e8b56c4d73f28a0744dfa5ab64fa1848f4406ac677"
SEEDED_TABLES = ["shop_order", "payments_payment", "payments_refund", "payments_stripewebhookevent"]


def customers_for(payments: int) -> list[CustomUser]:
    demo_data.ensure_users()
    return demo_data.extra_customers(demo_data.extra_customer_count(payments))


def schema() -> dict[str, list]:
    """The seeded tables' indexes and constraints, by name and definition."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE tablename = ANY(%s) ORDER BY 1, 2",
            [SEEDED_TABLES],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), "
            "condeferrable, condeferred, convalidated FROM pg_constraint "
            "WHERE conrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [SEEDED_TABLES],
        )
        constraints = cursor.fetchall()
    return {"indexes": indexes, "constraints": constraints}


def test_the_default_demo_is_the_same_data_as_before():
    added = demo_data.seed_payments(240, customers_for(240), now=NOW)
    assert added == 240
    assert digest(NOW) == DIGEST_240


def test_a_larger_seed_is_the_same_data_as_before():
    demo_data.seed_payments(3000, customers_for(3000), now=NOW)
    assert digest(NOW) == DIGEST_3000
    assert Refund.objects.count() > 300
    assert StripeWebhookEvent.objects.filter(status="failed").exists()


def test_growing_in_two_steps_adds_the_same_rows_as_one_step():
    customers = customers_for(3000)
    assert demo_data.seed_payments(1000, customers, now=NOW) == 1000
    assert demo_data.seed_payments(3000, customers, now=NOW) == 2000
    assert demo_data.seed_payments(3000, customers, now=NOW) == 0
    assert digest(NOW) == DIGEST_3000


@pytest.mark.postgres
def test_after_a_copy_seed_the_schema_is_exactly_what_migrate_made():
    migrated = schema()
    assert any(
        "gin_trgm_ops" not in d and "varchar_pattern_ops" in d for _, _, d in migrated["indexes"]
    )  # the search indexes are among them
    assert not Payment.objects.exists()  # empty tables: their indexes are built after the load
    demo_data.seed_payments(500, customers_for(500), now=NOW)
    assert schema() == migrated
    with connection.cursor() as cursor:
        for model in (Order, Payment, Refund, StripeWebhookEvent):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT (SELECT max(id) FROM {table}), "  # noqa: S608 (our table names)
                f"(SELECT last_value FROM {table}_id_seq)"
            )
            max_id, last_value = cursor.fetchone()
            assert last_value >= max_id, table
    # The sequences really are past the seeded ids: the app's next order and payment fit.
    order = Order.objects.create(user=CustomUser.objects.get(username="alice"), total=1)
    assert order.pk > Order.objects.exclude(pk=order.pk).order_by("-pk").first().pk


def triggers() -> list[tuple[str, str, str]]:
    """The seeded tables' triggers and whether each is enabled ('O') or not ('D')."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgrelid::regclass::text = ANY(%s) ORDER BY 1, 2",
            [SEEDED_TABLES],
        )
        return cursor.fetchall()


def assert_dashboard_says_what_the_rows_say() -> None:
    """The dashboard's figures (its summary and deltas) equal the live aggregates over the rows
    (scripts/bench/dashboard.py, the dashboard's queries from before the summary)."""
    for days in (1, 7, 30, 90):
        assert selectors.dashboard_period(days=days, now=NOW) == live_period(days=days, now=NOW)
    for currency in live_currencies(days=30, now=NOW):
        ours = selectors.dashboard_daily_volume(currency=currency, now=NOW)
        assert ours == live_daily_volume(currency=currency, now=NOW), currency


@pytest.mark.postgres
def test_a_copy_seed_into_empty_tables_leaves_the_dashboard_exact_and_its_triggers_on():
    before = triggers()
    assert before and all(enabled == "O" for _, _, enabled in before)
    # Left from a TRUNCATE (which fires no trigger): totals of payments that are gone.
    stale = datetime(2026, 11, 1, 9, tzinfo=UTC)
    DashboardSummary.objects.create(
        kind="payment",
        bucket=stale,
        currency="EUR",
        status="succeeded",
        n=7,
        amount=700,
        amount_refunded=0,
    )
    demo_data.seed_payments(1500, customers_for(1500), now=NOW)
    assert Refund.objects.exists()
    assert triggers() == before
    assert_dashboard_says_what_the_rows_say()
    # The triggers count what comes next again: a seed into tables that are no longer empty,
    # and an update of the app's.
    demo_data.seed_payments(2000, customers_for(2000), now=NOW)
    assert Payment.objects.filter(status="failed").update(status=Payment.Status.SUCCEEDED)
    assert_dashboard_says_what_the_rows_say()
    assert Payment.objects.count() == 2000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_rebuild_refuses_to_run_outside_a_transaction():
    from payments.services.dashboard import dashboard_rebuilt_after_load

    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="transaction"), dashboard_rebuilt_after_load():
        pass
    assert all(enabled == "O" for _, _, enabled in triggers())


@pytest.mark.postgres
def test_a_failed_copy_seed_leaves_schema_and_rows_as_they_were():
    migrated, triggers_before = schema(), triggers()
    ghost = CustomUser(pk=10**9, username="ghost")  # never saved: the foreign keys refuse it
    with pytest.raises(IntegrityError):
        demo_data.seed_payments(300, [*customers_for(300), ghost], now=NOW)
    assert schema() == migrated
    assert triggers() == triggers_before
    assert not Payment.objects.exists()
    assert not Order.objects.exists()
    assert not StripeWebhookEvent.objects.exists()


def test_the_seeded_orders_and_payments_point_at_each_other():
    demo_data.seed_payments(100, customers_for(100), now=NOW)
    for payment in Payment.objects.select_related("order"):
        assert payment.order.current_payment_id == payment.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_seeders_at_once_add_the_payments_once():
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    customers = customers_for(400)

    def seed() -> int:
        try:
            return demo_data.seed_payments(400, customers, now=NOW)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        added = sorted(pool.map(lambda _: seed(), range(2)))
    assert added == [0, 400]  # the second waited for the first's lock, then found its rows
    assert Payment.objects.count() == Order.objects.count() == 400
    assert StripeWebhookEvent.objects.filter(stripe_event_id__endswith="_0").count() == 400
