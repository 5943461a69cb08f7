from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.utils import timezone

from models_registry.models import Model


def _empty_dict() -> dict[str, Any]:
    return {}


class ModelInstance(models.Model):
    """One running copy of a model: a local process or a Kubernetes pod.

    Web and workers write what they want (`desired_state`, a lease); the
    backend's controller (the local agent, or the Kubernetes sync tick) makes
    it so and writes back what it observes (`state`, `endpoint`, timings).
    """

    class State(models.TextChoices):
        REQUESTED = "REQUESTED", "Requested"
        STARTING = "STARTING", "Starting"
        READY = "READY", "Ready"
        STOPPING = "STOPPING", "Stopping"
        STOPPED = "STOPPED", "Stopped"
        FAILED = "FAILED", "Failed"

    class DesiredState(models.TextChoices):
        RUNNING = "RUNNING", "Running"
        STOPPED = "STOPPED", "Stopped"

    class TerminationReason(models.TextChoices):
        IDLE = "Idle", "Stopped after its idle timeout"
        REQUESTED = "Requested", "Stopped on request"
        OOM_KILLED = "OOMKilled", "Went over its memory limit"
        CRASHED = "Crashed", "Exited unexpectedly"
        FAILED_TO_START = "FailedToStart", "Could not be started"
        SCHEDULE_TIMEOUT = "ScheduleTimeout", "Was not started in time"
        READY_TIMEOUT = "ReadyTimeout", "Did not become ready in time"
        LOST = "Lost", "Lost track of by its backend"
        AGENT_SHUTDOWN = "AgentShutdown", "Stopped because its agent shut down"

    ACTIVE_STATES = (State.REQUESTED, State.STARTING, State.READY, State.STOPPING)
    TERMINAL_STATES = (State.STOPPED, State.FAILED)

    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="instances")
    name = models.CharField(max_length=100, unique=True)
    backend = models.CharField(max_length=20)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.REQUESTED
    )
    desired_state = models.CharField(
        max_length=10, choices=DesiredState.choices, default=DesiredState.RUNNING
    )
    termination_reason = models.CharField(
        max_length=20, choices=TerminationReason.choices, blank=True
    )
    reason = models.TextField(blank=True, help_text="Details of the last failure.")
    image = models.CharField(max_length=400)
    allocation = models.JSONField(
        default=_empty_dict, help_text="The k8s_resources this instance runs with."
    )
    model_version = models.CharField(max_length=128, blank=True)
    endpoint = models.CharField(max_length=255, blank=True)
    handle = models.JSONField(
        default=_empty_dict,
        blank=True,
        help_text="What the backend needs to find the instance again.",
    )
    lease_key = models.CharField(
        max_length=100,
        blank=True,
        help_text="Who is using the instance; blank while it is idle.",
    )
    leased_at = models.DateTimeField(null=True, blank=True)
    jobs_run = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [
            models.Index(fields=["model", "state"], name="instance_model_state"),
            models.Index(fields=["backend", "state"], name="instance_backend_state"),
            models.Index(fields=["stopped_at"], name="instance_stopped_at"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def is_idle(self) -> bool:
        """Ready, wanted, and leased to nobody."""
        return (
            self.state == self.State.READY
            and self.desired_state == self.DesiredState.RUNNING
            and not self.lease_key
        )

    def idle_since(self) -> datetime | None:
        if not self.is_idle:
            return None
        return self.last_used_at or self.ready_at

    def is_idle_past(self, seconds: int, now: datetime | None = None) -> bool:
        """True when idle for at least `seconds`, counted from its last job.

        An instance that never ran a job counts from when it became ready.
        """
        since = self.idle_since()
        if since is None:
            return False
        return (now or timezone.now()) - since >= timedelta(seconds=seconds)


class InstanceEvent(models.Model):
    """One thing that happened to an instance, with a dump of its state then."""

    class Kind(models.TextChoices):
        REQUESTED = "REQUESTED", "Requested"
        CREATED = "CREATED", "Created"
        CREATION_FAILED = "CREATION_FAILED", "Creation failed"
        ADOPTED = "ADOPTED", "Adopted after an agent restart"
        READY = "READY", "Ready"
        VERSION_REPORTED = "VERSION_REPORTED", "Version reported"
        LEASED = "LEASED", "Leased"
        JOB_SUBMITTED = "JOB_SUBMITTED", "Job submitted"
        JOB_COMPLETED = "JOB_COMPLETED", "Job completed"
        JOB_FAILED = "JOB_FAILED", "Job failed"
        RELEASED = "RELEASED", "Released"
        STOP_REQUESTED = "STOP_REQUESTED", "Stop requested"
        TIMED_OUT = "TIMED_OUT", "Timed out"
        OOM_KILLED = "OOM_KILLED", "OOMKilled"
        CRASHED = "CRASHED", "Crashed"
        LOST = "LOST", "Lost"
        STOPPED = "STOPPED", "Stopped"

    instance = models.ForeignKey(
        ModelInstance, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    message = models.TextField(blank=True)
    correlation = models.CharField(
        max_length=100,
        blank=True,
        help_text="What the event concerns, such as a lease.",
    )
    details = models.JSONField(default=_empty_dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["instance", "created_at"], name="event_instance_time"),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} {self.kind}"


class InstanceMetrics(models.Model):
    """What an instance used, summarised from its samples.

    CPU is a rate in millicores (CPU-seconds used per second, times 1000),
    never a cumulative counter; memory is resident bytes. The row is updated
    while the instance runs and marked `final` when it ends; only final rows
    feed recommendations.
    """

    instance = models.OneToOneField(
        ModelInstance, on_delete=models.CASCADE, related_name="metrics"
    )
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="+")
    allocation = models.JSONField(default=_empty_dict)
    sample_count = models.PositiveIntegerField(default=0)
    cpu_min = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    cpu_max = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    cpu_mean = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    cpu_p95 = models.DecimalField(max_digits=12, decimal_places=3, default=0)
    memory_min = models.BigIntegerField(default=0)
    memory_max = models.BigIntegerField(default=0)
    memory_mean = models.BigIntegerField(default=0)
    memory_p95 = models.BigIntegerField(default=0)
    oom_killed = models.BooleanField(default=False)
    final = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "instance metrics"
        indexes = [
            models.Index(
                fields=["model", "final", "ended_at"], name="metrics_model_final"
            ),
        ]

    def __str__(self) -> str:
        return f"metrics of {self.instance_id}"
