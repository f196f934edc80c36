"""The two back-office roles: Finance (sees everything, may refund) and Support (sees, never refunds)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

VIEW = [
    ("payments", "view_payment"),
    ("payments", "view_refund"),
    ("payments", "view_stripewebhookevent"),
    ("shop", "view_order"),
    ("shop", "view_customuser"),
]
ROLES = {
    "Finance": [*VIEW, ("payments", "add_refund")],
    "Support": VIEW,
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after `migrate` finishes; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in codenames:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0001_initial"),
        ("shop", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
