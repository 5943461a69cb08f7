"""Applying a recommendation: writing its values into a model's resources.

The values always come from the stored recommendation, never from whoever
asks, and only while the allocation it was measured against still holds.
"""

import copy
import logging
from typing import Any

from django.db import transaction

from models_registry.models import Model
from models_registry.quantities import (
    QuantityError,
    cpu_millicores,
    format_cpu,
    format_memory,
    memory_mebibytes,
)
from models_registry.services import model_set_resources
from recommendations.errors import RecommendationConflict, RecommendationError
from recommendations.models import (
    PROFILE_TARGETS,
    ModelRecommendation,
    ProfileName,
    RecommendationApplication,
)

logger = logging.getLogger(__name__)

Status = ModelRecommendation.Status
_PARSERS = {"cpu": cpu_millicores, "memory": memory_mebibytes}
_FORMATTERS = {"cpu": format_cpu, "memory": format_memory}
_PART_LABELS = {
    ("requests", "cpu"): "CPU request",
    ("limits", "cpu"): "CPU limit",
    ("requests", "memory"): "memory request",
    ("limits", "memory"): "memory limit",
}


def profiles_checked(names: list[str] | None) -> list[str]:
    """Profile names in their fixed order, defaulting to all four."""
    if names is None:
        return [str(name) for name in ProfileName]
    unknown = [name for name in names if name not in ProfileName.values]
    if unknown:
        raise RecommendationError(
            f"Unknown profile {unknown[0]!r}; choose from "
            + ", ".join(ProfileName.values)
            + ".",
            field="profiles",
        )
    if not names:
        raise RecommendationError("Choose at least one profile.", field="profiles")
    return [str(name) for name in ProfileName if name in names]


@transaction.atomic
def recommendation_apply(
    *, model: Model, user: Any, profiles: list[str] | None = None
) -> RecommendationApplication:
    """Write the latest recommended values of `profiles` into the model.

    The values come from the stored recommendation, never from the caller.
    Refused when there is no usable recommendation, when the allocation has
    changed since it was computed (other than by applying this same
    recommendation, so its profiles can be applied one at a time), or when
    the result would leave a request above its limit.
    """
    names = profiles_checked(profiles)
    locked = Model.objects.select_for_update().get(pk=model.pk)
    recommendation = (
        ModelRecommendation.objects.select_for_update()
        .filter(model=locked, is_latest=True)
        .first()
    )
    _check_applicable(recommendation)
    assert recommendation is not None

    old = copy.deepcopy(locked.k8s_resources)
    _check_unchanged(_expected_allocation(recommendation), old)
    new = copy.deepcopy(old)
    for name in names:
        section, resource = PROFILE_TARGETS[name]
        value = recommendation.profiles[name]["recommended_value"]
        new[section][resource] = _FORMATTERS[resource](value)
    _check_requests_within_limits(new)

    model_set_resources(model=locked, k8s_resources=new)
    application = RecommendationApplication.objects.create(
        recommendation=recommendation,
        model=locked,
        applied_by=user if getattr(user, "is_authenticated", False) else None,
        profiles=names,
        old_resources=old,
        new_resources=new,
    )
    model.refresh_from_db()
    logger.info(
        "Recommendation applied",
        extra={"model": model.pk, "profiles": names, "application": application.pk},
    )
    return application


def _check_applicable(recommendation: ModelRecommendation | None) -> None:
    if recommendation is None:
        raise RecommendationConflict(
            "This model has no recommendation yet; run it first."
        )
    if recommendation.status != Status.OK:
        status = recommendation.get_status_display().lower()
        raise RecommendationConflict(
            f"There is nothing to apply: {status}. {recommendation.reason}"
        )


def _same_amount(resource: str, first: Any, second: Any) -> bool:
    try:
        return bool(_PARSERS[resource](first) == _PARSERS[resource](second))
    except QuantityError:
        return False


def _expected_allocation(recommendation: ModelRecommendation) -> dict[str, Any]:
    """The allocation as the recommendation, and its own applies, left it."""
    last = recommendation.applications.order_by("-applied_at", "-id").first()
    return last.new_resources if last else recommendation.allocation


def _check_unchanged(expected: dict[str, Any], current: dict[str, Any]) -> None:
    for section, resource in PROFILE_TARGETS.values():
        before = expected.get(section, {}).get(resource)
        now = current.get(section, {}).get(resource)
        if not _same_amount(resource, before, now):
            label = _PART_LABELS[section, resource]
            raise RecommendationConflict(
                f"The {label} changed from {before} to {now} after this "
                "recommendation was computed; run the model again before "
                "applying it."
            )


def _check_requests_within_limits(resources: dict[str, Any]) -> None:
    for resource in ("cpu", "memory"):
        request = resources["requests"][resource]
        limit = resources["limits"][resource]
        try:
            above = _PARSERS[resource](request) > _PARSERS[resource](limit)
        except QuantityError:
            continue
        if above:
            raise RecommendationConflict(
                f"This would set the {resource} request ({request}) above its limit "
                f"({limit}); apply the {resource} limit as well, or change it first."
            )
