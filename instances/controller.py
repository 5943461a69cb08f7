"""The instance controller: makes each instance row what it is asked to be.

Web and workers write what they want (a new row, `desired_state`); one pass
of `sync_instances` looks at every live row of one backend, starts, watches
and stops the real thing through the backend, and writes back what it saw.
The local agent runs a pass several times a second.

Every state write is a conditional update from the state that was read, so
that a stop requested at the same moment (which only touches
`desired_state`) is seen by the next pass instead of being overwritten, and
two passes that overlap cannot both act on one transition.
"""

import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from instances.backends.base import (
    BackendError,
    InstanceBackend,
    InstanceSpec,
    Observation,
    Phase,
)
from instances.backends.local import LocalBackend
from instances.client import ModelClient
from instances.metrics import (
    instance_metrics_persist_final,
    instance_metrics_refresh_live,
)
from instances.models import InstanceEvent, ModelInstance
from instances.selectors import instances_started, instances_to_sync
from instances.services import instance_record_event
from models_registry.services import model_report_version

logger = logging.getLogger(__name__)

State = ModelInstance.State
Desired = ModelInstance.DesiredState
Reason = ModelInstance.TerminationReason
Kind = InstanceEvent.Kind

_EXIT_EVENTS: dict[str, str] = {
    Reason.OOM_KILLED: Kind.OOM_KILLED,
    Reason.CRASHED: Kind.CRASHED,
}


def sync_instances(*, backend: InstanceBackend, now: datetime | None = None) -> int:
    """One pass over the live instances of `backend`; returns how many moved.

    A backend failure on one instance is logged and the pass goes on with the
    next; database errors are left to the caller, which retries the whole
    pass later.
    """
    now = now or timezone.now()
    moved = 0
    for instance in instances_to_sync(backend_name=backend.name):
        try:
            moved += _sync_one(instance, backend=backend, now=now)
        except BackendError as error:
            logger.warning(
                "Instance backend call failed",
                extra={"instance": instance.name, "error": str(error)},
            )
        except DatabaseError:
            raise
        except Exception:
            # One instance the controller cannot handle must not stop the
            # others from being looked after.
            logger.exception("Instance sync failed", extra={"instance": instance.name})
    return moved


def _sync_one(
    instance: ModelInstance, *, backend: InstanceBackend, now: datetime
) -> bool:
    if instance.state == State.REQUESTED:
        if instance.desired_state == Desired.STOPPED:
            return _stop_unstarted(instance, now=now)
        return _start(instance, backend=backend, now=now)
    if instance.state == State.STOPPING:
        return _stop(instance, backend=backend, now=now)

    observation = _observe(instance, backend=backend)
    if observation.phase == Phase.EXITED:
        return _fail_exited(instance, observation, backend=backend, now=now)
    if observation.phase == Phase.MISSING:
        return _fail(
            instance,
            backend=backend,
            now=now,
            reason=Reason.LOST,
            kind=Kind.LOST,
            message=observation.message or "Its backend has no trace of it.",
            details=observation.details,
        )
    if instance.desired_state == Desired.STOPPED:
        return _stop(instance, backend=backend, now=now)

    if instance.state == State.STARTING:
        if observation.ready:
            return _mark_ready(instance, observation, now=now)
        started_at = instance.started_at or instance.requested_at
        deadline = started_at + timedelta(seconds=instance.model.ready_timeout)
        if now >= deadline:
            backend.stop(instance.handle)
            return _fail(
                instance,
                backend=backend,
                now=now,
                reason=Reason.READY_TIMEOUT,
                kind=Kind.TIMED_OUT,
                message=(
                    "It did not answer /healthz within its ready timeout of "
                    f"{instance.model.ready_timeout} s."
                ),
                details=observation.details,
            )
    instance_metrics_refresh_live(instance=instance, backend=backend)
    return False


def _observe(instance: ModelInstance, *, backend: InstanceBackend) -> Observation:
    """The backend's status, saving the handle when the backend added to it."""
    before = dict(instance.handle)
    observation = backend.status(instance.handle)
    if instance.handle != before:
        ModelInstance.objects.filter(pk=instance.pk).update(handle=instance.handle)
    return observation


def _start(instance: ModelInstance, *, backend: InstanceBackend, now: datetime) -> bool:
    model = instance.model
    if now >= instance.requested_at + timedelta(seconds=model.schedule_timeout):
        return _fail(
            instance,
            backend=backend,
            now=now,
            reason=Reason.SCHEDULE_TIMEOUT,
            kind=Kind.TIMED_OUT,
            message=f"It was not started within {model.schedule_timeout} s.",
        )

    spec = InstanceSpec(
        name=instance.name,
        model_id=model.id,
        image=instance.image,
        entrypoint=model.entrypoint,
        port=model.port,
        allocation=instance.allocation,
        execution_mode=model.execution_mode,
        labels={"model": model.id, "instance": instance.name},
    )
    try:
        handle = backend.start(spec)
    except BackendError as error:
        return _fail(
            instance,
            backend=backend,
            now=now,
            reason=Reason.FAILED_TO_START,
            kind=Kind.CREATION_FAILED,
            message=str(error),
            details={"spec": asdict(spec)},
        )

    started = _move(
        instance,
        from_state=State.REQUESTED,
        to_state=State.STARTING,
        only_if_wanted=True,
        started_at=now,
        handle=handle,
    )
    if not started:
        # A stop arrived while the process was being started; nothing will
        # ever look at this handle again, so the process ends here.
        backend.stop(handle)
        if not _stop_unstarted(instance, now=now):
            instance_record_event(
                instance=instance,
                kind=Kind.STOPPED,
                message="Stopped at once: the stop came while it was being started.",
                details={"handle": handle},
            )
        return False

    _record(
        instance,
        Kind.CREATED,
        backend=backend,
        message=f"Started by the {backend.name} backend.",
        details={"spec": asdict(spec), "handle": handle},
    )
    logger.info(
        "Instance started", extra={"instance": instance.name, "model": model.id}
    )
    return True


def _mark_ready(
    instance: ModelInstance, observation: Observation, *, now: datetime
) -> bool:
    ready = _move(
        instance,
        from_state=State.STARTING,
        to_state=State.READY,
        ready_at=now,
        endpoint=observation.endpoint,
    )
    if not ready:
        return False
    seconds = (now - (instance.started_at or instance.requested_at)).total_seconds()
    instance_record_event(
        instance=instance,
        kind=Kind.READY,
        message=f"Answered /healthz {seconds:.2f} s after it was started.",
        details={"endpoint": observation.endpoint, **observation.details},
    )
    logger.info(
        "Instance ready",
        extra={"instance": instance.name, "seconds_to_ready": round(seconds, 3)},
    )
    _take_version(instance, endpoint=observation.endpoint)
    _announce_change(instance)
    return True


def _take_version(instance: ModelInstance, *, endpoint: str) -> None:
    """Store the version the instance reports, and follow it on the model."""
    with ModelClient(endpoint, timeout=settings.MODEL_HTTP_TIMEOUT) as client:
        version = client.version(instance.model.id)
    if not version:
        return
    version = version.strip()[:128]
    ModelInstance.objects.filter(pk=instance.pk).update(model_version=version)
    instance.model_version = version
    previous = instance.model.version
    if model_report_version(model=instance.model, version=version):
        instance_record_event(
            instance=instance,
            kind=Kind.VERSION_REPORTED,
            message=f"Reported version {version}.",
            details={"version": version, "previous": previous},
        )


def _stop_unstarted(instance: ModelInstance, *, now: datetime) -> bool:
    stopped = _move(
        instance,
        from_state=State.REQUESTED,
        to_state=State.STOPPED,
        stopped_at=now,
        termination_reason=instance.termination_reason or Reason.REQUESTED,
    )
    if stopped:
        instance_record_event(
            instance=instance, kind=Kind.STOPPED, message="Stopped before it started."
        )
        _announce_change(instance)
    return stopped


def _stop(instance: ModelInstance, *, backend: InstanceBackend, now: datetime) -> bool:
    if instance.state != State.STOPPING and not _move(
        instance, from_state=instance.state, to_state=State.STOPPING
    ):
        return False

    backend.stop(instance.handle)
    reason = instance.termination_reason or Reason.REQUESTED
    stopped = _move(
        instance,
        from_state=State.STOPPING,
        to_state=State.STOPPED,
        stopped_at=now,
        termination_reason=reason,
    )
    if not stopped:
        return False
    instance_metrics_persist_final(instance=instance, backend=backend, now=now)
    _record(
        instance,
        Kind.STOPPED,
        backend=backend,
        message=ModelInstance.TerminationReason(reason).label + ".",
    )
    logger.info("Instance stopped", extra={"instance": instance.name, "reason": reason})
    _announce_change(instance)
    return True


def _fail_exited(
    instance: ModelInstance,
    observation: Observation,
    *,
    backend: InstanceBackend,
    now: datetime,
) -> bool:
    reason = observation.termination_reason or Reason.CRASHED
    return _fail(
        instance,
        backend=backend,
        now=now,
        reason=reason,
        kind=_EXIT_EVENTS.get(reason, Kind.CRASHED),
        message=observation.message or "It exited.",
        details=observation.details,
    )


def _fail(
    instance: ModelInstance,
    *,
    backend: InstanceBackend,
    now: datetime,
    reason: str,
    kind: str,
    message: str,
    details: dict[str, Any] | None = None,
) -> bool:
    failed = _move(
        instance,
        from_state=instance.state,
        to_state=State.FAILED,
        stopped_at=now,
        termination_reason=reason,
        reason=message,
    )
    if not failed:
        return False
    instance_metrics_persist_final(
        instance=instance,
        backend=backend,
        now=now,
        oom_killed=reason == Reason.OOM_KILLED,
    )
    _record(instance, kind, backend=backend, message=message, details=details)
    logger.info(
        "Instance failed",
        extra={"instance": instance.name, "termination_reason": reason},
    )
    _announce_change(instance)
    return True


def _move(
    instance: ModelInstance,
    *,
    from_state: str,
    to_state: str,
    only_if_wanted: bool = False,
    **changes: Any,
) -> bool:
    """Change the state only if the row is still in `from_state`."""
    rows = ModelInstance.objects.filter(pk=instance.pk, state=from_state)
    if only_if_wanted:
        rows = rows.filter(desired_state=Desired.RUNNING)
    if not rows.update(state=to_state, **changes):
        return False
    instance.state = to_state
    for name, value in changes.items():
        setattr(instance, name, value)
    return True


def _record(
    instance: ModelInstance,
    kind: str,
    *,
    backend: InstanceBackend,
    message: str = "",
    details: dict[str, Any] | None = None,
) -> InstanceEvent:
    """An event with the backend's dump of the instance and its own record."""
    details = dict(details or {})
    if instance.handle:
        if "process" not in details:
            details.update(backend.status(dict(instance.handle)).details)
        details["backend_events"] = backend.events(instance.handle)[-10:]
    return instance_record_event(
        instance=instance, kind=kind, message=message, details=details
    )


def _announce_change(instance: ModelInstance) -> None:
    """Wake the dispatcher once the change is committed; never fail for it."""
    task = settings.INSTANCES_CHANGED_TASK

    def send() -> None:
        try:
            current_app.send_task(task, retry=False)
        except Exception as error:
            logger.warning(
                "Could not enqueue the instances-changed task",
                extra={"task": task, "instance": instance.name, "error": str(error)},
            )

    transaction.on_commit(send)


# --- The agent's start and end ------------------------------------------------


def instances_adopt_or_clean_up(
    *, backend: LocalBackend, now: datetime | None = None
) -> dict[str, int]:
    """Take over the instances an earlier agent left running; fail the rest.

    Run when an agent starts. An instance whose process still runs (same pid,
    same creation time, the model server of this instance) is adopted and
    watched again; any other started instance is gone with its agent and is
    marked Lost, so that its work can be retried.
    """
    now = now or timezone.now()
    counts = {"adopted": 0, "lost": 0}
    for instance in instances_started(backend_name=backend.name):
        if instance.handle and backend.adopt(
            instance.handle, allocation=instance.allocation
        ):
            counts["adopted"] += 1
            _record(
                instance,
                Kind.ADOPTED,
                backend=backend,
                message="Adopted by a restarted agent.",
            )
            logger.info("Instance adopted", extra={"instance": instance.name})
            continue
        if _fail(
            instance,
            backend=backend,
            now=now,
            reason=Reason.LOST,
            kind=Kind.LOST,
            message="Its process was gone when the agent started again.",
        ):
            counts["lost"] += 1
    return counts


def instances_shut_down(*, backend: LocalBackend, now: datetime | None = None) -> int:
    """Stop every instance the agent runs, because the agent is ending.

    All processes are asked to stop at once and share one grace period, so
    the agent can exit promptly however many it runs.
    """
    now = now or timezone.now()
    instances = list(instances_started(backend_name=backend.name))
    backend.stop_many([instance.handle for instance in instances if instance.handle])

    stopped = 0
    for instance in instances:
        if not _move(
            instance,
            from_state=instance.state,
            to_state=State.STOPPED,
            desired_state=Desired.STOPPED,
            stopped_at=now,
            termination_reason=Reason.AGENT_SHUTDOWN,
            reason="The local agent shut down, and its instances with it.",
        ):
            continue
        stopped += 1
        instance_metrics_persist_final(instance=instance, backend=backend, now=now)
        _record(
            instance,
            Kind.STOPPED,
            backend=backend,
            message="Stopped because the local agent shut down.",
        )
        _announce_change(instance)
    return stopped
