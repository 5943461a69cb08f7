"""Reads of instances."""

from django.db.models import QuerySet

from instances.models import ModelInstance
from models_registry.models import Model

State = ModelInstance.State


def instances_alive(*, model: Model) -> QuerySet[ModelInstance]:
    """Instances of `model` that exist or will: not ending, not ended."""
    return ModelInstance.objects.filter(
        model=model,
        state__in=(State.REQUESTED, State.STARTING, State.READY),
        desired_state=ModelInstance.DesiredState.RUNNING,
    )


def instance_capacity_left(*, model: Model) -> int:
    """How many more instances `model` may have before reaching its maximum."""
    return max(0, model.max_instances - instances_alive(model=model).count())


def instances_to_sync(*, backend_name: str) -> QuerySet[ModelInstance]:
    """The instances of a backend that its controller still has to look after.

    The model and the live metrics row come along: every pass reads the
    model's timeouts and the metrics row's age for each instance.
    """
    return (
        ModelInstance.objects.filter(
            backend=backend_name, state__in=ModelInstance.ACTIVE_STATES
        )
        .select_related("model", "metrics")
        .order_by("requested_at", "pk")
    )


def instances_started(*, backend_name: str) -> QuerySet[ModelInstance]:
    """Instances of a backend that have (or had) something running."""
    return (
        ModelInstance.objects.filter(
            backend=backend_name,
            state__in=(State.STARTING, State.READY, State.STOPPING),
        )
        .select_related("model")
        .order_by("requested_at", "pk")
    )
