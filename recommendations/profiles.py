"""Profile settings as the engine needs them, read from the database."""

import logging
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from django.db import transaction

from recommendations.defaults import DEFAULT_PROFILES
from recommendations.engine import Band, ProfileRule, validate_bands
from recommendations.errors import RecommendationError
from recommendations.models import BAND_ORDER, Profile, ProfileBand, ProfileName
from recommendations.selectors import profiles_with_bands

logger = logging.getLogger(__name__)


class LoadedRules(NamedTuple):
    rules: dict[str, ProfileRule]
    # When the most recently changed of the profiles read was changed.
    updated_at: datetime


def profile_rules_load() -> LoadedRules:
    """The four profiles as the engine needs them, in a fixed order.

    A profile that has gone missing is put back with its defaults (and
    logged); bands that fail validation, which only a write past the admin
    can cause, stop the run with an error that names the profile.
    """
    profiles = {profile.name: profile for profile in profiles_with_bands()}
    missing = [str(name) for name in ProfileName if name not in profiles]
    if missing:
        _profiles_restore_defaults(missing)
        profiles = {profile.name: profile for profile in profiles_with_bands()}

    rules = {}
    for name in ProfileName:
        bands = sorted(
            profiles[name].bands.all(), key=lambda band: BAND_ORDER.index(band.state)
        )
        errors = validate_bands((band.state, band.lower, band.upper) for band in bands)
        if errors:
            raise RecommendationError(f"Profile {name} is misconfigured: {errors[0]}")
        rules[str(name)] = ProfileRule(
            name=str(name),
            floor=profiles[name].floor,
            bands=tuple(
                Band(
                    state=band.state,
                    lower=Fraction(band.lower),
                    upper=None if band.upper is None else Fraction(band.upper),
                )
                for band in bands
            ),
        )
    return LoadedRules(
        rules=rules, updated_at=max(profile.updated_at for profile in profiles.values())
    )


@transaction.atomic
def _profiles_restore_defaults(names: list[str]) -> None:
    for name in names:
        floor, bands = DEFAULT_PROFILES[name]
        profile, _ = Profile.objects.get_or_create(name=name, defaults={"floor": floor})
        profile.bands.all().delete()
        ProfileBand.objects.bulk_create(
            ProfileBand(
                profile=profile,
                state=state,
                lower=Decimal(lower),
                upper=None if upper is None else Decimal(upper),
            )
            for state, lower, upper in bands
        )
    logger.warning(
        "Recommendation profiles restored to defaults", extra={"profiles": names}
    )
