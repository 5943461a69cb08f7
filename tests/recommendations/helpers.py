"""Data and helpers shared by the recommendations and browser tests."""

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from instances.models import InstanceMetrics, ModelInstance
from recommendations.models import ModelRecommendation
from tests.factories import ModelInstanceFactory

MIB = 2**20

# The allocation of the worked example.
EXAMPLE_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1000m", "memory": "1Gi"},
}
# CPU min/max in millicores and memory min/max in MiB, per instance.
EXAMPLE_INSTANCES = [
    ((20, 700), (100, 600)),
    ((30, 900), (120, 700)),
    ((25, 800), (110, 650)),
]

_minutes_ago = itertools.count(1)


def persisted(
    model: Any,
    *,
    cpu: tuple[Any, Any] = (100, 200),
    memory: tuple[Any, Any] = (100, 200),
    ended_at: datetime | None = None,
    duration: timedelta = timedelta(minutes=10),
    oom_killed: bool = False,
    final: bool = True,
    allocation: dict[str, Any] | None = None,
) -> InstanceMetrics:
    """Make an instance of `model` and its metrics summary.

    `cpu` is (min, max) millicores, `memory` (min, max) MiB. By default the
    instance has ended, a minute earlier than the one made before it;
    `final=False` makes the summary of an instance still running.
    """
    ended_at = ended_at or timezone.now() - timedelta(minutes=next(_minutes_ago))
    instance = ModelInstanceFactory(
        model=model,
        state=ModelInstance.State.STOPPED if final else ModelInstance.State.READY,
        termination_reason=(
            ModelInstance.TerminationReason.OOM_KILLED if oom_killed else ""
        ),
        stopped_at=ended_at if final else None,
    )
    return InstanceMetrics.objects.create(
        instance=instance,
        model=model,
        allocation=allocation if allocation is not None else instance.allocation,
        sample_count=int(duration.total_seconds()),
        cpu_min=Decimal(cpu[0]),
        cpu_max=Decimal(cpu[1]),
        cpu_mean=Decimal(cpu[1]),
        cpu_p95=Decimal(cpu[1]),
        memory_min=int(Decimal(memory[0]) * MIB),
        memory_max=int(Decimal(memory[1]) * MIB),
        memory_mean=int(Decimal(memory[1]) * MIB),
        memory_p95=int(Decimal(memory[1]) * MIB),
        oom_killed=oom_killed,
        final=final,
        started_at=ended_at - duration,
        ended_at=ended_at if final else None,
    )


def latest(model: Any) -> ModelRecommendation:
    return ModelRecommendation.objects.get(model=model, is_latest=True)


def signed_in(user: Any) -> Any:
    # The shared UserFactory sets the password after saving and skips the
    # second save, so the session's password hash would not match the row.
    user.save()
    return user
