"""Indexes for the payments and webhook events searches on PostgreSQL: prefixes of Stripe ids (pattern_ops b-trees,
which serve `LIKE 'pi\\_3M%'` whatever the collation) and parts of a customer's email or name
(pg_trgm GIN indexes on the UPPER() that `icontains` compares). SQLite (the demo) searches the
same way without them."""

from django.db import migrations

INDEXES = [
    "CREATE INDEX IF NOT EXISTS payments_pay_pi_prefix "
    "ON payments_payment (stripe_payment_intent_id varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS payments_pay_charge_prefix "
    "ON payments_payment (stripe_charge_id varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS payments_ref_stripe_prefix "
    "ON payments_refund (stripe_refund_id varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS payments_evt_id_prefix "
    "ON payments_stripewebhookevent (stripe_event_id varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS payments_evt_object_prefix "
    "ON payments_stripewebhookevent (stripe_object_id varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS payments_evt_type_prefix "
    "ON payments_stripewebhookevent (event_type varchar_pattern_ops, received_at DESC)",
    "CREATE INDEX IF NOT EXISTS shop_user_email_trgm "
    "ON shop_customuser USING gin (UPPER(email::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS shop_user_first_name_trgm "
    "ON shop_customuser USING gin (UPPER(first_name::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS shop_user_last_name_trgm "
    "ON shop_customuser USING gin (UPPER(last_name::text) gin_trgm_ops)",
]
NAMES = [
    "payments_pay_pi_prefix",
    "payments_pay_charge_prefix",
    "payments_ref_stripe_prefix",
    "payments_evt_id_prefix",
    "payments_evt_object_prefix",
    "payments_evt_type_prefix",
    "shop_user_email_trgm",
    "shop_user_first_name_trgm",
    "shop_user_last_name_trgm",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for sql in INDEXES:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in NAMES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0014_payment_amount_within_currency_index"),
        ("shop", "0003_order_current_payment"),
    ]

    operations = [migrations.RunPython(create, drop)]
