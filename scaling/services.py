"""Placing queued work on instances, and keeping every request moving.

`dispatch` claims queued requests oldest first, one per model in turn so a
long queue for one model does not starve the others, and gives each an idle
ready instance of its model or a new one, up to the model's maximum. Runs
start as soon as an instance is ready. `reconcile` is the safety net that a
periodic tick runs: anything past its deadline, or whose instance died, is
queued again or failed with a reason, so no request stays stuck even when a
wake-up message is lost.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from instances.models import ModelInstance
from instances.selectors import instance_capacity_left, instances_alive
from instances.services import (
    instance_lease_idle,
    instance_request,
    instance_stop,
    instances_stop_idle,
)
from models_registry.models import Model
from scaling.models import ScalingDecision
from workrequests.models import WorkRequest
from workrequests.services import (
    lease_key,
    work_request_fail,
    work_request_lost_instance,
    work_request_requeue_or_fail,
)
from workrequests.tasks import run_work_request

logger = logging.getLogger(__name__)

Status = WorkRequest.Status
InstanceState = ModelInstance.State

# A request given an instance that is already ready should start running at
# once; this bounds the wait if the run task is lost.
READY_RUN_GRACE = timedelta(seconds=60)


@dataclass
class DispatchReport:
    placed: list[int] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)


def dispatch(*, now: datetime | None = None) -> DispatchReport:
    """Place as many queued requests as instances allow, and start ready runs."""
    now = now or timezone.now()
    report = DispatchReport()
    report.failed = fail_requests_of_disabled_models()

    waiting = list(
        WorkRequest.objects.filter(status=Status.QUEUED)
        .values("model")
        .annotate(oldest=Min("submitted_at"))
        .order_by("oldest")
        .values_list("model", flat=True)
    )
    models = Model.objects.in_bulk(waiting)
    open_models = [models[model_id] for model_id in waiting if model_id in models]
    while open_models:
        still_open = []
        for model in open_models:
            placed = _place_next(model, now)
            if placed is not None:
                report.placed.append(placed.pk)
                still_open.append(model)
        open_models = still_open

    # Runs start here, once, for requests placed on a ready instance just now
    # and for those whose instance became ready since the last dispatch.
    report.runs = start_ready_runs()
    return report


def _place_next(model: Model, now: datetime) -> WorkRequest | None:
    """Claim the model's oldest queued request and give it an instance.

    Before starting a new instance the model row is locked, so two
    dispatchers cannot both start the one that takes a model past its
    maximum.
    """
    with transaction.atomic():
        work_request = _claim_oldest(model)
        if work_request is None:
            return None

        key = lease_key(work_request)
        instance = instance_lease_idle(model=model, lease_key=key)
        if instance is not None:
            deadline = now + READY_RUN_GRACE
        else:
            _lock_model(model)
            if instance_capacity_left(model=model) == 0:
                transaction.set_rollback(True)
                return None
            instance = instance_request(model=model, lease_key=key)
            _record_decision(
                model, instance, ScalingDecision.Action.START, "queued work"
            )
            deadline = now + timedelta(
                seconds=model.schedule_timeout + model.ready_timeout
            )

        claimed = WorkRequest.objects.filter(
            pk=work_request.pk, status=Status.QUEUED
        ).update(
            status=Status.SCHEDULING,
            instance=instance,
            scheduled_at=now,
            deadline_at=deadline,
            reason="",
        )
        if not claimed:
            transaction.set_rollback(True)
            return None

    logger.info(
        "Work request scheduled",
        extra={"work_request": work_request.pk, "instance": instance.name},
    )
    return work_request


def _claim_oldest(model: Model) -> WorkRequest | None:
    """The model's oldest queued request, held so no other dispatcher takes it.

    PostgreSQL locks the row and skips rows another transaction holds
    (`FOR UPDATE SKIP LOCKED`), so concurrent dispatchers claim different
    requests. SQLite has no row locks, but it runs one writing transaction at
    a time (they begin IMMEDIATE); there the claim is the conditional update
    from QUEUED in `_place_next`, which matches nothing if the row moved on.
    """
    queued = WorkRequest.objects.filter(model=model, status=Status.QUEUED).order_by(
        "submitted_at", "id"
    )
    if connection.features.has_select_for_update_skip_locked:
        queued = queued.select_for_update(skip_locked=True, of=("self",))
    return queued.first()


def _lock_model(model: Model) -> None:
    list(Model.objects.select_for_update().filter(pk=model.pk).values_list("pk"))


def _enqueue_run(work_request_id: int) -> None:
    run_work_request.delay(work_request_id)


def start_ready_runs() -> list[int]:
    """Enqueue a run for every scheduled request whose instance is ready."""
    ready = list(
        WorkRequest.objects.filter(
            status=Status.SCHEDULING, instance__state=InstanceState.READY
        ).values_list("pk", flat=True)
    )
    for work_request_id in ready:
        _enqueue_run(work_request_id)
    return ready


def fail_requests_of_disabled_models() -> list[int]:
    """Fail queued requests whose model was disabled after they were sent."""
    stranded = list(
        WorkRequest.objects.filter(status=Status.QUEUED, model__enabled=False)
    )
    for work_request in stranded:
        work_request_fail(
            work_request=work_request,
            reason="The model was disabled before this request could run.",
        )
    return [work_request.pk for work_request in stranded]


# --- Reconcile ------------------------------------------------------------


@dataclass
class ReconcileReport:
    requeued_or_failed: list[int] = field(default_factory=list)
    dispatch: DispatchReport | None = None


def reconcile(*, now: datetime | None = None) -> ReconcileReport:
    """Move on every active request that is past a deadline or lost its instance."""
    now = now or timezone.now()
    report = ReconcileReport()

    lost = WorkRequest.objects.filter(
        status__in=(Status.SCHEDULING, Status.PROCESSING),
        instance__state__in=ModelInstance.TERMINAL_STATES,
    ).select_related("instance", "instance__model")
    for work_request in lost:
        assert work_request.instance is not None
        work_request_lost_instance(
            work_request=work_request, instance=work_request.instance
        )
        report.requeued_or_failed.append(work_request.pk)

    orphaned = WorkRequest.objects.filter(
        status__in=(Status.SCHEDULING, Status.PROCESSING), instance__isnull=True
    )
    for work_request in orphaned:
        work_request_requeue_or_fail(
            work_request=work_request, reason="The model instance was removed."
        )
        report.requeued_or_failed.append(work_request.pk)

    for work_request in _past_deadline(now):
        _handle_deadline(work_request)
        report.requeued_or_failed.append(work_request.pk)

    stall = now - timedelta(seconds=settings.WORK_REQUEST_STALL_TIMEOUT)
    stalled = WorkRequest.objects.filter(
        status=Status.PROCESSING, heartbeat_at__lt=stall
    )
    for work_request in stalled:
        work_request_requeue_or_fail(
            work_request=work_request,
            reason="The worker running this request stopped reporting progress.",
        )
        report.requeued_or_failed.append(work_request.pk)

    report.dispatch = dispatch(now=now)
    return report


def _past_deadline(now: datetime) -> list[WorkRequest]:
    return list(
        WorkRequest.objects.filter(
            status__in=(Status.SCHEDULING, Status.PROCESSING), deadline_at__lt=now
        ).select_related("model", "instance")
    )


def _handle_deadline(work_request: WorkRequest) -> None:
    model = work_request.model
    instance = work_request.instance
    if work_request.status == Status.PROCESSING:
        if instance is not None:
            instance_stop(instance=instance, message="The job ran past its deadline.")
        work_request_fail(
            work_request=work_request,
            reason=f"The job did not finish within {model.job_timeout} s.",
        )
        return

    if instance is not None and instance.state == InstanceState.READY:
        # Ready but never started: the run task was lost. Start it again.
        WorkRequest.objects.filter(pk=work_request.pk).update(
            deadline_at=timezone.now() + READY_RUN_GRACE
        )
        _enqueue_run(work_request.pk)
        return
    if instance is not None:
        instance_stop(
            instance=instance,
            reason=ModelInstance.TerminationReason.READY_TIMEOUT,
            message="It was not ready by the request's deadline.",
        )
    work_request_requeue_or_fail(
        work_request=work_request,
        reason=(
            "No model instance became ready within "
            f"{model.schedule_timeout + model.ready_timeout} s."
        ),
    )


# --- Instance autoscaling -------------------------------------------------


@dataclass
class AutoscaleReport:
    started: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)


def autoscale_instances() -> AutoscaleReport:
    """Keep each model between its minimum and what its queue needs.

    Idle instances stop after their model's idle timeout, down to the
    minimum; instances of disabled models stop once idle; enabled models with
    a minimum get warm instances started. Queue depth drives scale-up through
    `dispatch`, which asks for an instance per request it cannot place.
    """
    report = AutoscaleReport()
    for instance in instances_stop_idle():
        _record_decision(instance.model, instance, ScalingDecision.Action.STOP, "idle")
        report.stopped.append(instance.name)

    disabled_idle = ModelInstance.objects.filter(
        model__enabled=False,
        state=InstanceState.READY,
        desired_state=ModelInstance.DesiredState.RUNNING,
        lease_key="",
    ).select_related("model")
    for instance in disabled_idle:
        if instance_stop(instance=instance, message="Its model was disabled."):
            _record_decision(
                instance.model, instance, ScalingDecision.Action.STOP, "model disabled"
            )
            report.stopped.append(instance.name)

    for model in Model.objects.filter(enabled=True, min_instances__gt=0):
        with transaction.atomic():
            _lock_model(model)
            missing = model.min_instances - instances_alive(model=model).count()
            for _ in range(max(0, missing)):
                instance = instance_request(model=model)
                _record_decision(
                    model, instance, ScalingDecision.Action.START, "minimum instances"
                )
                report.started.append(instance.name)
    return report


def _record_decision(
    model: Model, instance: ModelInstance, action: str, reason: str
) -> None:
    ScalingDecision.objects.create(
        model=model, instance=instance, action=action, reason=reason
    )
