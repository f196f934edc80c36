"""Finance may read the audit trail (the Audit page, the payment's audit timeline, the admin's
list). Support does not: the trail is the record of what the people who move money did, from
which address, and answering customers needs none of it."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Finance")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="audit", codename="view_auditentry")
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Finance").first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="audit", codename="view_auditentry")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        ("payments", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
