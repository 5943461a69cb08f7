"""Seed the four profiles with their default bands and floors.

The values are written out here, not imported, so that this migration keeps
meaning what it meant when it was written.
"""

from decimal import Decimal

from django.db import migrations

CPU_BANDS = (
    ("very_under", "0", "40"),
    ("under", "40", "65"),
    ("recommended", "65", "85"),
    ("over", "85", "95"),
    ("very_over", "95", None),
)
MEMORY_BANDS = (
    ("very_under", "0", "40"),
    ("under", "40", "65"),
    ("recommended", "65", "80"),
    ("over", "80", "90"),
    ("very_over", "90", None),
)
PROFILES = {
    "cpu_min": (10, CPU_BANDS),
    "cpu_max": (200, CPU_BANDS),
    "memory_min": (100, MEMORY_BANDS),
    "memory_max": (300, MEMORY_BANDS),
}


def seed(apps, schema_editor):
    Profile = apps.get_model("recommendations", "Profile")
    ProfileBand = apps.get_model("recommendations", "ProfileBand")
    for name, (floor, bands) in PROFILES.items():
        profile, created = Profile.objects.get_or_create(
            name=name, defaults={"floor": floor}
        )
        if not created:
            continue
        ProfileBand.objects.bulk_create(
            ProfileBand(
                profile=profile,
                state=state,
                lower=Decimal(lower),
                upper=None if upper is None else Decimal(upper),
            )
            for state, lower, upper in bands
        )


def unseed(apps, schema_editor):
    apps.get_model("recommendations", "Profile").objects.filter(
        name__in=PROFILES
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("recommendations", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
