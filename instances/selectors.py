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
