"""Writes to instances: requesting, leasing, releasing and stopping them.

Web and workers only ever change what is *wanted* here; the backend's
controller (`instances.controller`) starts and stops the real thing.
"""

import logging
import secrets
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from instances.models import InstanceEvent, ModelInstance
from instances.selectors import instances_alive
from models_registry.models import Model

logger = logging.getLogger(__name__)

State = ModelInstance.State
Kind = InstanceEvent.Kind


def instance_record_event(
    *,
    instance: ModelInstance,
    kind: str,
    message: str = "",
    correlation: str = "",
    details: dict[str, Any] | None = None,
) -> InstanceEvent:
    return InstanceEvent.objects.create(
        instance=instance,
        kind=kind,
        message=message,
        correlation=correlation,
        details=details or {},
    )


def _instance_name(model_id: str) -> str:
    # Pod names are DNS labels: at most 63 characters.
    return f"{model_id[:50]}-{secrets.token_hex(4)}"


@transaction.atomic
def instance_request(*, model: Model, lease_key: str = "") -> ModelInstance:
    """Ask the backend for a new instance of `model`, optionally leased already.

    The instance runs with the model's resources as they are now; a later
    change to the model applies to the next instance.
    """
    now = timezone.now()
    instance = ModelInstance.objects.create(
        model=model,
        name=_instance_name(model.id),
        backend=settings.INSTANCE_BACKEND,
        image=model.image_reference,
        allocation=model.k8s_resources,
        lease_key=lease_key,
        leased_at=now if lease_key else None,
        requested_at=now,
    )
    instance_record_event(
        instance=instance,
        kind=Kind.REQUESTED,
        correlation=lease_key,
        details={"image": instance.image, "allocation": instance.allocation},
    )
    logger.info(
        "Instance requested", extra={"instance": instance.name, "model": model.id}
    )
    return instance


def instance_lease_idle(*, model: Model, lease_key: str) -> ModelInstance | None:
    """Lease an idle ready instance of `model` to `lease_key`, if there is one.

    The lease is a conditional update, so two dispatchers can never lease the
    same instance: the one whose update matches no row tries the next.
    """
    candidates = (
        ModelInstance.objects.filter(
            model=model,
            state=State.READY,
            desired_state=ModelInstance.DesiredState.RUNNING,
            lease_key="",
        )
        .order_by(F("last_used_at").desc(nulls_last=True))
        .values_list("pk", flat=True)[:5]
    )
    for pk in candidates:
        # The stop check is repeated here: a stop requested after the
        # candidates were read must not be handed a job.
        leased = ModelInstance.objects.filter(
            pk=pk,
            state=State.READY,
            desired_state=ModelInstance.DesiredState.RUNNING,
            lease_key="",
        ).update(lease_key=lease_key, leased_at=timezone.now())
        if leased:
            instance = ModelInstance.objects.get(pk=pk)
            instance_record_event(
                instance=instance, kind=Kind.LEASED, correlation=lease_key
            )
            return instance
    return None


def instance_release(*, instance_id: int, lease_key: str, ran_job: bool) -> None:
    """End `lease_key`'s lease; the instance becomes idle from now."""
    now = timezone.now()
    changes: dict[str, Any] = {"lease_key": "", "leased_at": None, "last_used_at": now}
    if ran_job:
        changes["jobs_run"] = F("jobs_run") + 1
    released = ModelInstance.objects.filter(pk=instance_id, lease_key=lease_key).update(
        **changes
    )
    if released:
        instance = ModelInstance.objects.get(pk=instance_id)
        instance_record_event(
            instance=instance, kind=Kind.RELEASED, correlation=lease_key
        )


def instance_stop(
    *,
    instance: ModelInstance,
    reason: str = ModelInstance.TerminationReason.REQUESTED,
    message: str = "",
) -> bool:
    """Ask for `instance` to be stopped; False when it is already ending.

    A stop requested before the instance was ever started ends it at once,
    since there is nothing for a backend to stop.
    """
    stoppable = ModelInstance.objects.filter(pk=instance.pk)
    return _request_stop(
        instance=instance, stoppable=stoppable, reason=reason, message=message
    )


def _request_stop(
    *,
    instance: ModelInstance,
    stoppable: QuerySet[ModelInstance],
    reason: str,
    message: str,
) -> bool:
    """Set the stop on `instance` if it is still in `stoppable`, wanted and alive."""
    stopped = stoppable.filter(
        pk=instance.pk, desired_state=ModelInstance.DesiredState.RUNNING
    ).exclude(state__in=ModelInstance.TERMINAL_STATES)
    if not stopped.update(
        desired_state=ModelInstance.DesiredState.STOPPED, termination_reason=reason
    ):
        return False

    ModelInstance.objects.filter(pk=instance.pk, state=State.REQUESTED).update(
        state=State.STOPPED, stopped_at=timezone.now()
    )
    instance.refresh_from_db()
    instance_record_event(
        instance=instance, kind=Kind.STOP_REQUESTED, message=message or reason
    )
    logger.info(
        "Instance stop requested", extra={"instance": instance.name, "reason": reason}
    )
    return True


def instances_stop_idle(*, now: datetime | None = None) -> list[ModelInstance]:
    """Stop instances idle past their model's timeout, down to its minimum.

    Instances that are starting or leased are never stopped here: the stop is
    a conditional update that also requires the instance to be unleased and
    unused since it was read, so one leased in the meantime keeps running.
    """
    now = now or timezone.now()
    stopped = []
    idle = (
        ModelInstance.objects.filter(
            state=State.READY,
            desired_state=ModelInstance.DesiredState.RUNNING,
            lease_key="",
        )
        .select_related("model")
        .order_by(F("last_used_at").asc(nulls_first=True))
    )
    alive_by_model: dict[str, int] = {}
    for instance in idle:
        if not instance.is_idle_past(instance.model.idle_timeout, now):
            continue
        model = instance.model
        if model.id not in alive_by_model:
            alive_by_model[model.id] = instances_alive(model=model).count()
        if alive_by_model[model.id] <= model.min_instances:
            continue
        still_idle = ModelInstance.objects.filter(
            state=State.READY, lease_key="", last_used_at=instance.last_used_at
        )
        if _request_stop(
            instance=instance,
            stoppable=still_idle,
            reason=ModelInstance.TerminationReason.IDLE,
            message="",
        ):
            alive_by_model[model.id] -= 1
            stopped.append(instance)
    return stopped
