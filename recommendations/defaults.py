"""The profile settings a fresh installation starts with.

The data migration seeds the same values (frozen in its own file, as
migrations must be); `recommendations.services.profile_rules_load` puts back
any profile that has gone missing, such as after a test flushes the tables.
Percentages are of the allocation; floors are millicores (CPU) or MiB.
"""

Bands = tuple[tuple[str, str, str | None], ...]

_CPU_BANDS: Bands = (
    ("very_under", "0", "40"),
    ("under", "40", "65"),
    ("recommended", "65", "85"),
    ("over", "85", "95"),
    ("very_over", "95", None),
)
_MEMORY_BANDS: Bands = (
    ("very_under", "0", "40"),
    ("under", "40", "65"),
    ("recommended", "65", "80"),
    ("over", "80", "90"),
    ("very_over", "90", None),
)

# Profile name: (floor, bands as (state, from %, below %)).
DEFAULT_PROFILES: dict[str, tuple[int, Bands]] = {
    "cpu_min": (10, _CPU_BANDS),
    "cpu_max": (200, _CPU_BANDS),
    "memory_min": (100, _MEMORY_BANDS),
    "memory_max": (300, _MEMORY_BANDS),
}
