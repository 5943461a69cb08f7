from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import AnonymousIdentity
from instances.models import ModelInstance
from models_registry.models import Model


def _empty_list() -> list[Any]:
    return []


class WorkRequest(models.Model):
    """A model and a list of inputs to run it on, owned by one person.

    The owner is a registered user or an anonymous identity, never both. The
    row is also the queue entry: dispatchers claim `QUEUED` rows oldest first.
    """

    class Status(models.TextChoices):
        QUEUED = "QUEUED", "Queued"
        SCHEDULING = "SCHEDULING", "Scheduling"
        PROCESSING = "PROCESSING", "Processing"
        COMPLETED = "COMPLETED", "Completed"
        FAILED = "FAILED", "Failed"
        CANCELLED = "CANCELLED", "Cancelled"

    ACTIVE_STATUSES = (Status.QUEUED, Status.SCHEDULING, Status.PROCESSING)
    TERMINAL_STATUSES = (Status.COMPLETED, Status.FAILED, Status.CANCELLED)

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="work_requests",
    )
    anonymous = models.ForeignKey(
        AnonymousIdentity,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="work_requests",
    )
    model = models.ForeignKey(Model, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    reason = models.TextField(blank=True)
    input_count = models.PositiveIntegerField()
    done_count = models.PositiveIntegerField(default=0)
    cached_count = models.PositiveIntegerField(default=0)
    cache_opt_in = models.BooleanField(default=False)
    model_version = models.CharField(max_length=128, blank=True)
    instance = models.ForeignKey(
        ModelInstance,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    submitted_at = models.DateTimeField(default=timezone.now)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    instance_ready_at = models.DateTimeField(null=True, blank=True)
    processing_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, anonymous__isnull=True)
                    | models.Q(user__isnull=True, anonymous__isnull=False)
                ),
                name="workrequest_exactly_one_owner",
                violation_error_message="A work request has exactly one owner.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="wr_status_submitted"),
            models.Index(
                fields=["model", "status", "submitted_at"],
                name="wr_model_status_submitted",
            ),
            models.Index(fields=["user", "submitted_at"], name="wr_user_submitted"),
            models.Index(
                fields=["anonymous", "submitted_at"], name="wr_anon_submitted"
            ),
            models.Index(fields=["submitted_at"], name="wr_submitted"),
            models.Index(fields=["model", "submitted_at"], name="wr_model_submitted"),
        ]

    def __str__(self) -> str:
        return f"work request {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def progress_percent(self) -> int:
        if self.input_count == 0:
            return 100
        return self.done_count * 100 // self.input_count


class WorkRequestInputs(models.Model):
    """The inputs of a request, apart from the row dispatchers scan and lock."""

    work_request = models.OneToOneField(
        WorkRequest, primary_key=True, on_delete=models.CASCADE, related_name="payload"
    )
    inputs = models.JSONField(default=_empty_list)

    class Meta:
        verbose_name = "work request inputs"
        verbose_name_plural = "work request inputs"

    def __str__(self) -> str:
        return f"inputs of work request {self.work_request_id}"


class ResultChunk(models.Model):
    """Results for some of a request's inputs, by their position in the list.

    A request's results are the union of its chunks: one per chunk the model
    computed, and one for the inputs answered from the result cache. Stored
    as they arrive, so progress survives a restart and nothing is rewritten.
    """

    class Source(models.TextChoices):
        MODEL = "MODEL", "Model"
        CACHE = "CACHE", "Result cache"

    work_request = models.ForeignKey(
        WorkRequest, on_delete=models.CASCADE, related_name="result_chunks"
    )
    source = models.CharField(max_length=5, choices=Source.choices)
    positions = models.JSONField(default=_empty_list)
    records = models.JSONField(default=_empty_list)
    duration_ms = models.PositiveIntegerField(
        default=0, help_text="How long the model took to answer this chunk."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["work_request"], name="chunk_work_request")]

    def __str__(self) -> str:
        return f"{self.source} results of work request {self.work_request_id}"


class CachedResult(models.Model):
    """One input's result from one version of a model, reused across requests.

    The key is the model, the version results were computed by, and the
    SHA-256 (hex) of the trimmed input, so a new model version never answers
    with an old version's results. Rows are written only from requests whose
    owner agreed to share them; `contributor` says who, and is cleared if
    that account is deleted.
    """

    # The unique key below starts with the model, so it serves as its index.
    model = models.ForeignKey(
        Model, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    model_version = models.CharField(max_length=128)
    input_hash = models.CharField(max_length=64)
    record = models.JSONField()
    contributor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "model_version", "input_hash"],
                name="cached_result_key",
            ),
        ]

    def __str__(self) -> str:
        return f"cached result of {self.model_id} {self.model_version}"
