"""Finance may replay a failed webhook event (from the back-office); Support may not."""

from django.db import migrations


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perm = Permission.objects.get(
        content_type__app_label="payments", codename="change_stripewebhookevent"
    )
    Group.objects.get(name="Finance").permissions.add(perm)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perm = Permission.objects.get(
        content_type__app_label="payments", codename="change_stripewebhookevent"
    )
    Group.objects.get(name="Finance").permissions.remove(perm)


class Migration(migrations.Migration):
    dependencies = [("payments", "0003_refund_request_token_payment_attempt")]

    operations = [migrations.RunPython(grant, revoke)]
