"""Writes of what instances used: the live metrics row and the final one.

The controller calls these as instances run and end; the numbers come from
the backend's `UsageSummary`. Only final rows feed recommendations.
"""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from instances.backends.base import InstanceBackend, UsageSummary
from instances.models import InstanceMetrics, ModelInstance


def instance_metrics_persist_final(
    *,
    instance: ModelInstance,
    backend: InstanceBackend,
    now: datetime,
    oom_killed: bool = False,
) -> None:
    """Keep what the instance used, marked final so recommendations read it.

    An instance that never started has no usage; it gets no row rather than
    one of zeros, which would look like a model that needs nothing.
    """
    summary = backend.metrics(instance.handle) if instance.handle else None
    if summary is None:
        InstanceMetrics.objects.filter(instance=instance).update(
            final=True, ended_at=now, oom_killed=oom_killed
        )
        return
    InstanceMetrics.objects.update_or_create(
        instance=instance,
        defaults={
            **_summary_fields(summary),
            "model_id": instance.model_id,
            "allocation": instance.allocation,
            "oom_killed": summary.oom_killed or oom_killed,
            "final": True,
            "ended_at": summary.ended_at or now,
        },
    )


def instance_metrics_refresh_live(
    *, instance: ModelInstance, backend: InstanceBackend
) -> None:
    """Refresh the running instance's metrics row, at most every flush interval."""
    try:
        current: InstanceMetrics | None = instance.metrics
    except InstanceMetrics.DoesNotExist:
        current = None
    interval = timedelta(seconds=settings.AGENT_METRICS_FLUSH_INTERVAL)
    if current is not None and timezone.now() - current.updated_at < interval:
        return
    summary = backend.metrics(instance.handle)
    if summary is None or summary.sample_count == 0:
        return
    InstanceMetrics.objects.update_or_create(
        instance=instance,
        defaults={
            **_summary_fields(summary),
            "model_id": instance.model_id,
            "allocation": instance.allocation,
            "final": False,
        },
    )


def _summary_fields(summary: UsageSummary) -> dict[str, Any]:
    return {
        "sample_count": summary.sample_count,
        "cpu_min": summary.cpu_min,
        "cpu_max": summary.cpu_max,
        "cpu_mean": summary.cpu_mean,
        "cpu_p95": summary.cpu_p95,
        "memory_min": summary.memory_min,
        "memory_max": summary.memory_max,
        "memory_mean": summary.memory_mean,
        "memory_p95": summary.memory_p95,
        "oom_killed": summary.oom_killed,
        "started_at": summary.started_at,
        "ended_at": summary.ended_at,
    }
