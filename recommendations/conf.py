"""The recommendations settings that need more than an environment reader.

The caps are Kubernetes quantities, and quantities are parsed by the model
registry, which settings cannot import; they are checked when the app loads
(`RecommendationsConfig.ready`), so a bad value stops every process at start
with a message naming the variable.
"""

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from models_registry.quantities import QuantityError, cpu_millicores, memory_mebibytes
from recommendations.engine import Caps


def caps() -> Caps:
    """The configured largest allocations: millicores and MiB."""
    return Caps(
        cpu=_cap("RECOMMENDATIONS_MAX_CPU", cpu_millicores),
        memory=_cap("RECOMMENDATIONS_MAX_MEMORY", memory_mebibytes),
    )


def _cap(name: str, parse: Callable[[str], Decimal]) -> Fraction | None:
    text = getattr(settings, name)
    if text is None:
        return None
    try:
        value = parse(text)
    except QuantityError as error:
        raise ImproperlyConfigured(f"{name}: {error}")
    if value < 1:
        raise ImproperlyConfigured(
            f"{name} must be at least 1m (CPU) or 1Mi (memory), not {text!r}."
        )
    return Fraction(value)
