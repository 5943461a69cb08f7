from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from models_registry.resources import default_k8s_resources, validate_k8s_resources

model_id_validator = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
    "Use lower-case letters, digits and single hyphens, such as rdkit-descriptors "
    "or eos3b5e.",
)


def _default_input_limit() -> int:
    return settings.MODEL_DEFAULT_INPUT_LIMIT


def _default_min_instances() -> int:
    return settings.MODEL_DEFAULT_MIN_INSTANCES


def _default_max_instances() -> int:
    return settings.MODEL_DEFAULT_MAX_INSTANCES


def _default_idle_timeout() -> int:
    return settings.MODEL_DEFAULT_IDLE_TIMEOUT


def _default_schedule_timeout() -> int:
    return settings.MODEL_DEFAULT_SCHEDULE_TIMEOUT


def _default_ready_timeout() -> int:
    return settings.MODEL_DEFAULT_READY_TIMEOUT


def _default_job_timeout() -> int:
    return settings.MODEL_DEFAULT_JOB_TIMEOUT


def _empty_list() -> list[Any]:
    return []


class Model(models.Model):
    """A model users can run: what to start, with what resources, and limits."""

    class ExecutionMode(models.TextChoices):
        SYNC = "SYNC", "Synchronous (/run)"
        ASYNC = "ASYNC", "Asynchronous (/job/submit)"

    id = models.CharField(
        primary_key=True, max_length=64, validators=[model_id_validator]
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    image = models.CharField(
        max_length=255, help_text="Container image, such as ersiliaos/eos3b5e."
    )
    tag = models.CharField(max_length=128, default="latest")
    version = models.CharField(
        max_length=128,
        blank=True,
        help_text="Version results are cached under. Starts as the tag and "
        "follows what instances report in /models/status.",
    )
    entrypoint = models.CharField(
        max_length=255,
        blank=True,
        help_text="For the local backend: the Python callable, as module:function, "
        "that the built-in model server wraps. Blank for image-only models.",
    )
    output_columns = models.JSONField(
        default=_empty_list,
        blank=True,
        help_text="Result columns in the order downloads show them.",
    )
    enabled = models.BooleanField(default=True)
    execution_mode = models.CharField(
        max_length=5, choices=ExecutionMode.choices, default=ExecutionMode.SYNC
    )
    k8s_resources = models.JSONField(
        "Kubernetes resources",
        default=default_k8s_resources,
        validators=[validate_k8s_resources],
        help_text='{"requests": {"cpu": "250m", "memory": "256Mi"}, '
        '"limits": {"cpu": "1", "memory": "1Gi"}}',
    )
    resources_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    port = models.PositiveIntegerField(
        default=80, help_text="Port the model server listens on inside its container."
    )
    cache_enabled = models.BooleanField(
        default=True, help_text="Answer inputs already computed from the result cache."
    )
    min_instances = models.PositiveSmallIntegerField(default=_default_min_instances)
    max_instances = models.PositiveSmallIntegerField(
        default=_default_max_instances, validators=[MinValueValidator(1)]
    )
    idle_timeout = models.PositiveIntegerField(
        "idle timeout (s)",
        default=_default_idle_timeout,
        validators=[MinValueValidator(1)],
    )
    input_limit = models.PositiveIntegerField(
        default=_default_input_limit, validators=[MinValueValidator(1)]
    )
    schedule_timeout = models.PositiveIntegerField(
        "schedule timeout (s)",
        default=_default_schedule_timeout,
        validators=[MinValueValidator(1)],
        help_text="How long a new instance may take to be placed and started.",
    )
    ready_timeout = models.PositiveIntegerField(
        "ready timeout (s)",
        default=_default_ready_timeout,
        validators=[MinValueValidator(1)],
        help_text="How long a started instance may take to answer /healthz.",
    )
    job_timeout = models.PositiveIntegerField(
        "job timeout (s)",
        default=_default_job_timeout,
        validators=[MinValueValidator(1)],
        help_text="How long one work request may run on an instance.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_instances__lte=models.F("max_instances")),
                name="models_registry_model_min_le_max_instances",
                violation_error_message=(
                    "Minimum instances cannot exceed maximum instances."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def image_reference(self) -> str:
        return f"{self.image}:{self.tag}"

    @property
    def cache_version(self) -> str:
        """The version results are keyed under: the reported one, else the tag."""
        return self.version or self.tag
