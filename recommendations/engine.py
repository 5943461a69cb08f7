"""The arithmetic of recommendations, with no database in sight.

Every figure is a `Fraction`, so nothing drifts: 900m at 75 % is exactly
1200m, where floats would say 1200.0000000000002 and round up to 1201m. CPU is
in millicores and is a *rate* (CPU-seconds used per second, times 1000), which
is what instance metrics store; it is compared with millicore allocations
as it is, never divided by a duration. Memory is in MiB (2**20 bytes).

A profile's usage as a percentage of its allocation picks its band (lower
bound included, upper excluded). The recommended value is the allocation at
which usage would sit in the middle of the recommended band, rounded up,
then raised to the profile's floor, then, for `memory_max`, raised above the
limit an instance was OOMKilled at, and finally held under the configured
largest allocation. The recommended range is the allocations at which usage
would sit at the recommended band's upper and lower edges; the floor, the
OOM rule and the cap change the value only, never the range.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

from models_registry.quantities import QuantityError, cpu_millicores, memory_mebibytes
from recommendations.models import BAND_ORDER, PROFILE_TARGETS, BandState, ProfileName

HUNDRED = Fraction(100)
OOM_RATIO = Fraction(6, 5)
OOM_MIN_BUMP_MIB = Fraction(100)
_PARSERS = {"cpu": cpu_millicores, "memory": memory_mebibytes}
_UNITS = {"cpu": "m", "memory": "Mi"}
_CAP_SETTINGS = {
    "cpu": "RECOMMENDATIONS_MAX_CPU",
    "memory": "RECOMMENDATIONS_MAX_MEMORY",
}


@dataclass(frozen=True)
class Band:
    state: str
    lower: Fraction
    upper: Fraction | None

    def contains(self, percentage: Fraction) -> bool:
        if percentage < self.lower:
            return False
        return self.upper is None or percentage < self.upper


@dataclass(frozen=True)
class ProfileRule:
    """One profile's bands (in `BAND_ORDER`, already validated) and floor."""

    name: str
    floor: int
    bands: tuple[Band, ...]

    @property
    def section(self) -> str:
        return PROFILE_TARGETS[self.name][0]

    @property
    def resource(self) -> str:
        return PROFILE_TARGETS[self.name][1]

    @property
    def unit(self) -> str:
        return _UNITS[self.resource]

    @property
    def recommended(self) -> Band:
        return next(band for band in self.bands if band.state == BandState.RECOMMENDED)

    def classify(self, percentage: Fraction) -> str:
        for band in self.bands:
            if band.contains(percentage):
                return band.state
        return self.bands[-1].state


@dataclass(frozen=True)
class Usage:
    """What a model's profiled instances used, taken together.

    `cpu_min` is the smallest of the instances' CPU minimums, `cpu_max` the
    largest of their maximums, and the same for memory. `oom_limit` is the
    largest memory limit (MiB) that one of them was OOMKilled at, if any.
    """

    cpu_min: Fraction
    cpu_max: Fraction
    memory_min: Fraction
    memory_max: Fraction
    oom_limit: Fraction | None = None

    def of(self, profile: str) -> Fraction:
        value: Fraction = getattr(self, profile)
        return value


@dataclass(frozen=True)
class Caps:
    """The largest allocation that may be recommended, per resource (or none)."""

    cpu: Fraction | None = None
    memory: Fraction | None = None

    def of(self, resource: str) -> Fraction | None:
        value: Fraction | None = getattr(self, resource)
        return value


def validate_bands(
    bands: Iterable[tuple[str, Decimal | None, Decimal | None]],
) -> list[str]:
    """Problems with a profile's bands, as sentences; empty when they are fine.

    Bands are `(state, lower, upper)`. There must be one per state; in
    `BAND_ORDER` they start at 0 %, each ends above where it starts, the next
    starts where it ends, and only the last is open-ended.
    """
    by_state: dict[str, tuple[Decimal | None, Decimal | None]] = {}
    for state, lower, upper in bands:
        if state in by_state or state not in BAND_ORDER:
            return [_one_band_per_state()]
        by_state[state] = (lower, upper)
    if set(by_state) != set(BAND_ORDER):
        return [_one_band_per_state()]

    errors = []
    previous: tuple[str, Decimal | None] = ("", Decimal(0))
    for position, state in enumerate(BAND_ORDER):
        lower, upper = by_state[state]
        last = position == len(BAND_ORDER) - 1
        previous_state, previous_upper = previous
        if lower is None:
            errors.append(f"The {state} band needs a lower bound.")
        elif position == 0 and lower != 0:
            errors.append(f"The {state} band must start at 0 %, not at {lower} %.")
        elif position and previous_upper is not None and lower != previous_upper:
            errors.append(
                f"The {state} band must start at {previous_upper} %, where the "
                f"{previous_state} band ends, not at {lower} %."
            )
        if last and upper is not None:
            errors.append(f"The {state} band is the last: leave its upper bound blank.")
        elif not last and upper is None:
            errors.append(
                f"The {state} band needs an upper bound; only the last has none."
            )
        elif not last and lower is not None and upper is not None and upper <= lower:
            errors.append(
                f"The {state} band must end above where it starts ({lower} %), "
                f"not at {upper} %."
            )
        previous = (state, upper)
    return errors


def _one_band_per_state() -> str:
    return "Give exactly one band for each of: " + ", ".join(BAND_ORDER) + "."


def round_half_up(value: Fraction) -> int:
    """The nearest whole number, halves going up: 38.5 is 39, 38.49 is 38."""
    return math.floor(value + Fraction(1, 2))


def percentage_of(usage: Fraction, allocation: Fraction) -> Fraction | None:
    """Usage as an exact percentage of allocation; None for a zero allocation."""
    if allocation == 0:
        return None
    return usage * HUNDRED / allocation


def _rounded_percentage(usage: Fraction, allocation: Fraction) -> int | None:
    percentage = percentage_of(usage, allocation)
    return None if percentage is None else round_half_up(percentage)


def decimal_text(value: Fraction, places: int = 3) -> str:
    """`value` as plain decimal text, to at most `places` decimals: "100.5"."""
    with localcontext() as context:
        context.prec = 60
        number = Decimal(value.numerator) / Decimal(value.denominator)
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return format(number.normalize(), "f")


def parse_allocation(k8s_resources: Mapping[str, Any], rule: ProfileRule) -> Fraction:
    """The part of `k8s_resources` that `rule` is measured against, exactly.

    Raises QuantityError when it is missing or is not a quantity.
    """
    try:
        text = k8s_resources[rule.section][rule.resource]
    except (KeyError, TypeError):
        raise QuantityError(f"{rule.section}.{rule.resource} is missing.")
    return Fraction(_PARSERS[rule.resource](text))


def recommend_profile(
    *,
    rule: ProfileRule,
    usage: Fraction,
    allocation: Fraction,
    cap: Fraction | None = None,
    oom_limit: Fraction | None = None,
) -> dict[str, Any]:
    """The full recommendation object of one profile."""
    unit = rule.unit
    band = rule.recommended
    assert band.upper is not None, "validated bands close the recommended band"
    percentage = percentage_of(usage, allocation)
    if percentage is None:
        state = rule.bands[-1].state if usage > 0 else rule.bands[0].state
    else:
        state = rule.classify(percentage)
    notes: list[str] = []
    warnings: list[str] = []
    value = _recommended_value(
        rule=rule,
        usage=usage,
        cap=cap,
        oom_limit=oom_limit,
        notes=notes,
        warnings=warnings,
    )

    lowest = math.ceil(usage * HUNDRED / band.upper)
    highest = math.floor(usage * HUNDRED / band.lower)
    return {
        "profile": rule.name,
        "unit": unit,
        "profile_state": state,
        "current_value": decimal_text(usage),
        "current_allocation": decimal_text(allocation),
        "current_percentage": None if percentage is None else round_half_up(percentage),
        "recommended_value": value,
        "recommended_min": lowest,
        "recommended_min_percentage": _rounded_percentage(usage, Fraction(lowest)),
        "recommended_max": highest,
        "recommended_max_percentage": _rounded_percentage(usage, Fraction(highest)),
        "recommended_band": {
            "lower": decimal_text(band.lower),
            "upper": decimal_text(band.upper),
        },
        "notes": notes,
        "warnings": warnings,
    }


def _recommended_value(
    *,
    rule: ProfileRule,
    usage: Fraction,
    cap: Fraction | None,
    oom_limit: Fraction | None,
    notes: list[str],
    warnings: list[str],
) -> int:
    """Usage at the middle of the recommended band, then floor, OOM rule, cap."""
    band, unit = rule.recommended, rule.unit
    assert band.upper is not None, "validated bands close the recommended band"
    value = math.ceil(usage * HUNDRED / ((band.lower + band.upper) / 2))
    if value < rule.floor:
        notes.append(
            f"Raised to the {rule.floor}{unit} floor; usage alone asks for "
            f"{value}{unit}."
        )
        value = rule.floor
    if oom_limit is not None and rule.name == ProfileName.MEMORY_MAX:
        value = _apply_oom_rule(value, oom_limit, notes)
    if cap is not None and value > cap:
        capped = math.floor(cap)
        warnings.append(
            f"Capped at {capped}{unit}, the largest {rule.resource} allocation "
            f"allowed ({_CAP_SETTINGS[rule.resource]}); uncapped it would be "
            f"{value}{unit}."
        )
        value = capped
    return value


def _apply_oom_rule(value: int, oom_limit: Fraction, notes: list[str]) -> int:
    # Memory samples are taken every second or so, so the peak that killed an
    # instance is usually missed: the limit it died at is the better figure.
    minimum = math.ceil(max(oom_limit * OOM_RATIO, oom_limit + OOM_MIN_BUMP_MIB))
    limit = f"{decimal_text(oom_limit)}Mi"
    if value < minimum:
        notes.append(
            f"Raised to {minimum}Mi because an instance was OOMKilled at its {limit} "
            f"limit: at least the larger of 1.2 x {limit} and {limit} + 100Mi."
        )
        return minimum
    notes.append(
        f"An instance was OOMKilled at its {limit} limit; {value}Mi is already above "
        f"the {minimum}Mi that calls for."
    )
    return value


def recommend_model(
    *,
    rules: Mapping[str, ProfileRule],
    usage: Usage,
    k8s_resources: Mapping[str, Any],
    caps: Caps,
) -> dict[str, dict[str, Any]]:
    """All four profiles of one model, keyed by profile name.

    Raises QuantityError when the model's allocation cannot be read.
    """
    return {
        name: recommend_profile(
            rule=rule,
            usage=usage.of(name),
            allocation=parse_allocation(k8s_resources, rule),
            cap=caps.of(rule.resource),
            oom_limit=usage.oom_limit,
        )
        for name, rule in rules.items()
    }
