"""Finance may answer disputes (evidence, accept) and approve or reject another person's refund
awaiting approval; Support sees disputes but does neither."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

FINANCE = ["view_dispute", "respond_to_dispute", "approve_refund"]
SUPPORT = ["view_dispute"]


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("Finance", FINANCE), ("Support", SUPPORT)):
        group, _ = Group.objects.get_or_create(name=name)
        for codename in codenames:
            group.permissions.add(
                Permission.objects.get(content_type__app_label="payments", codename=codename)
            )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("Finance", FINANCE), ("Support", SUPPORT)):
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label="payments", codename__in=codenames
                )
            )


class Migration(migrations.Migration):
    dependencies = [("payments", "0011_disputes_and_refund_approval")]

    operations = [migrations.RunPython(grant, revoke)]
