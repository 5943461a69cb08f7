from django.db import models
from django.utils import timezone

from instances.models import ModelInstance
from models_registry.models import Model


class ScalingDecision(models.Model):
    """Why the platform started or stopped an instance, for operators to audit."""

    class Action(models.TextChoices):
        START = "START", "Start"
        STOP = "STOP", "Stop"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="+")
    instance = models.ForeignKey(
        ModelInstance, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=5, choices=Action.choices)
    reason = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["model", "created_at"], name="decision_model_time")
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.model_id}"
