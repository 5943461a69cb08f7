"""Recommendations: profile settings, runs, their per-model results, applies.

A *profile* compares one usage figure with one part of a model's allocation
(`cpu_min` is the smallest CPU use against the CPU request, and so on). Its
bands and its floor are rows here, edited in the admin, so operators can tune
them without a release. A *run* computes every enabled model (or one) and
stores one `ModelRecommendation` per model; the newest per model is flagged
`is_latest` and is what the API, the page and "apply" read.
"""

from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from models_registry.models import Model


def _empty_dict() -> dict[str, Any]:
    return {}


def _empty_list() -> list[Any]:
    return []


class ProfileName(models.TextChoices):
    CPU_MIN = "cpu_min", "CPU request (smallest usage)"
    CPU_MAX = "cpu_max", "CPU limit (largest usage)"
    MEMORY_MIN = "memory_min", "Memory request (smallest usage)"
    MEMORY_MAX = "memory_max", "Memory limit (largest usage)"


class EngineStateName(models.TextChoices):
    """The engine as a whole: a run is going on, or the figures hold, or not."""

    RUNNING = "running", "Running"
    UP_TO_DATE = "up_to_date", "Up to date"
    OUTDATED = "outdated", "Outdated"


class BandState(models.TextChoices):
    VERY_UNDER = "very_under", "Very under"
    UNDER = "under", "Under"
    RECOMMENDED = "recommended", "Recommended"
    OVER = "over", "Over"
    VERY_OVER = "very_over", "Very over"


# Bands run from the lowest usage percentage to the highest in this order.
BAND_ORDER = tuple(BandState)

# Which part of `k8s_resources` each profile is measured against and, when
# applied, rewrites.
PROFILE_TARGETS: dict[str, tuple[str, str]] = {
    ProfileName.CPU_MIN: ("requests", "cpu"),
    ProfileName.CPU_MAX: ("limits", "cpu"),
    ProfileName.MEMORY_MIN: ("requests", "memory"),
    ProfileName.MEMORY_MAX: ("limits", "memory"),
}


class Profile(models.Model):
    """How one profile classifies usage and the least it may recommend."""

    name = models.CharField(
        primary_key=True, max_length=10, choices=ProfileName.choices
    )
    floor = models.PositiveIntegerField(
        validators=[MinValueValidator(1)],
        help_text="The smallest recommended value: millicores for CPU, MiB for memory. "
        "It raises the recommended value only, never the range.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def resource(self) -> str:
        return PROFILE_TARGETS[self.name][1]

    @property
    def unit(self) -> str:
        return "m" if self.resource == "cpu" else "Mi"


class ProfileBand(models.Model):
    """Usage from `lower` % (included) up to `upper` % (excluded) of allocation.

    The last band has no upper bound. Together a profile's bands must cover
    0 % upwards with no gap or overlap, in `BAND_ORDER`.
    """

    profile = models.ForeignKey(Profile, on_delete=models.CASCADE, related_name="bands")
    state = models.CharField(max_length=12, choices=BandState.choices)
    lower = models.DecimalField(
        "from %", max_digits=8, decimal_places=3, validators=[MinValueValidator(0)]
    )
    upper = models.DecimalField(
        "below %",
        max_digits=8,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Blank for the last band, which has no upper bound.",
    )

    class Meta:
        ordering = ["profile", "lower"]
        constraints = [
            models.UniqueConstraint(
                fields=["profile", "state"], name="recommendations_band_state_once"
            ),
        ]

    def __str__(self) -> str:
        upper = "up" if self.upper is None else f"{self.upper}"
        return f"{self.profile_id} {self.state} {self.lower} to {upper}"


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class RecommendationRun(models.Model):
    """One computation of recommendations, for all enabled models or for one.

    At most one run is `running` at any time, across every process and
    machine, because the database refuses a second row in that state (see the
    constraint below). A run whose heartbeat is older than
    RECOMMENDATIONS_RUN_TIMEOUT is taken to have crashed and stops blocking
    new runs.
    """

    State = RunState

    class Trigger(models.TextChoices):
        USER = "user", "A user"
        SCHEDULE = "schedule", "The nightly schedule"

    class Scope(models.TextChoices):
        ALL = "all", "All enabled models"
        MODEL = "model", "One model"

    FINISHED_STATES = (State.SUCCEEDED, State.FAILED)

    trigger = models.CharField(max_length=10, choices=Trigger.choices)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    scope = models.CharField(max_length=5, choices=Scope.choices)
    model = models.ForeignKey(
        Model, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    since = models.DateTimeField(null=True, blank=True)
    until = models.DateTimeField(null=True, blank=True)
    limit = models.PositiveIntegerField()
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.RUNNING
    )
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    models_profiled = models.PositiveIntegerField(default=0)
    settings_updated_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the profile settings the run used were last changed.",
    )
    error = models.TextField(
        blank=True, help_text="What went wrong, for operators; never shown to users."
    )

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # The run lock. It must outlive the request that starts a run (the
            # run itself happens later in a worker), work between machines,
            # and work on the embedded SQLite stack where the cache is
            # per-process memory; a partial unique index on the run table does
            # all three, and a second start fails at INSERT time.
            models.UniqueConstraint(
                fields=["state"],
                condition=models.Q(state="running"),
                name="recommendations_one_run_at_a_time",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "finished_at"], name="run_state_finished"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.state})"


class ModelRecommendation(models.Model):
    """What one run found for one model.

    `profiles` holds one full recommendation object per profile (see
    `recommendations.engine`); it is empty when there was not enough data, or
    when the model's `k8s_resources` could not be read (only possible when
    something wrote them past the registry's validation).
    `allocation` is the model's `k8s_resources` the figures were measured
    against, so that an apply can tell whether they still hold.
    """

    class Status(models.TextChoices):
        OK = "ok", "Recommended"
        NOT_ENOUGH_DATA = "not_enough_data", "Not enough data"
        INVALID_ALLOCATION = "invalid_allocation", "Allocation unreadable"

    run = models.ForeignKey(
        RecommendationRun, on_delete=models.CASCADE, related_name="results"
    )
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="+")
    is_latest = models.BooleanField(default=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.TextField(blank=True)
    instances = models.PositiveIntegerField(default=0)
    oom_killed_instances = models.PositiveIntegerField(default=0)
    first_ended_at = models.DateTimeField(null=True, blank=True)
    last_ended_at = models.DateTimeField(null=True, blank=True)
    allocation = models.JSONField(default=_empty_dict)
    profiles = models.JSONField(default=_empty_dict)
    warnings = models.JSONField(default=_empty_list)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-computed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model"],
                condition=models.Q(is_latest=True),
                name="recommendations_one_latest_per_model",
            ),
        ]
        indexes = [
            models.Index(
                fields=["model", "computed_at"], name="recommendation_model_time"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} ({self.status}, run {self.run_id})"

    @property
    def needs_attention(self) -> bool:
        """True when a profile sits outside its recommended band or was capped."""
        if self.status != self.Status.OK:
            return False
        return bool(self.warnings) or any(
            profile["profile_state"] != BandState.RECOMMENDED
            for profile in self.profiles.values()
        )


class RecommendationApplication(models.Model):
    """Who wrote which recommended values into a model's resources, and when."""

    recommendation = models.ForeignKey(
        ModelRecommendation, on_delete=models.CASCADE, related_name="applications"
    )
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="+")
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    applied_at = models.DateTimeField(default=timezone.now)
    profiles = models.JSONField(default=_empty_list)
    old_resources = models.JSONField(default=_empty_dict)
    new_resources = models.JSONField(default=_empty_dict)

    class Meta:
        ordering = ["-applied_at"]
        indexes = [
            models.Index(fields=["model", "applied_at"], name="application_model_time"),
        ]

    def __str__(self) -> str:
        return f"{self.model_id} at {self.applied_at:%Y-%m-%d %H:%M}"
