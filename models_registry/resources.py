"""The shape and rules of a model's `k8s_resources`.

`k8s_resources` is what a model's instances are given, in Kubernetes terms::

    {"requests": {"cpu": "250m", "memory": "256Mi"},
     "limits": {"cpu": "1", "memory": "1Gi"}}

Requests are what the scheduler reserves; limits are the most an instance may
use (going over the memory limit ends it, as Kubernetes' OOM killer would).
"""

from typing import Any

from django.core.exceptions import ValidationError

from models_registry.quantities import QuantityError, cpu_millicores, memory_mebibytes

SECTIONS = ("requests", "limits")
RESOURCES = ("cpu", "memory")
_PARSERS = {"cpu": cpu_millicores, "memory": memory_mebibytes}


def default_k8s_resources() -> dict[str, dict[str, str]]:
    return {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }


def validate_k8s_resources(value: Any) -> None:
    """Check the shape, every quantity, and that no request exceeds its limit."""
    if not isinstance(value, dict) or set(value) != set(SECTIONS):
        raise ValidationError(
            'Give exactly "requests" and "limits", each with "cpu" and "memory".'
        )

    parsed = {}
    errors = []
    for section in SECTIONS:
        amounts = value[section]
        if not isinstance(amounts, dict) or set(amounts) != set(RESOURCES):
            errors.append(f'"{section}" must have exactly "cpu" and "memory".')
            continue
        for resource in RESOURCES:
            try:
                parsed[section, resource] = _PARSERS[resource](amounts[resource])
            except QuantityError as error:
                errors.append(f"{section}.{resource}: {error}")
    if errors:
        raise ValidationError(errors)

    for resource in RESOURCES:
        if parsed["limits", resource] == 0:
            errors.append(f"limits.{resource} must be more than zero.")
        if parsed["requests", resource] > parsed["limits", resource]:
            errors.append(
                f"requests.{resource} ({value['requests'][resource]}) cannot exceed "
                f"limits.{resource} ({value['limits'][resource]})."
            )
    if errors:
        raise ValidationError(errors)
