from django.db import migrations

ADMIN_GROUP = "admin"


def create_admin_group(apps, schema_editor):
    # Membership of this group is the admin role (see accounts/roles.py);
    # operators grant it in the admin, so the group must exist from the start.
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=ADMIN_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_api_tokens_and_unique_usernames"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(create_admin_group, migrations.RunPython.noop),
    ]
