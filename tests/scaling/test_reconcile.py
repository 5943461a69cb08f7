"""The safety net: nothing stays stuck past its deadline or its instance."""

from datetime import timedelta

import pytest
from django.utils import timezone

from instances.models import ModelInstance
from scaling.services import autoscale_instances, reconcile
from tests.factories import (
    ModelInstanceFactory,
    ReadyInstanceFactory,
    WorkRequestFactory,
)
from workrequests.models import WorkRequest
from workrequests.services import lease_key

Status = WorkRequest.Status
Reason = ModelInstance.TerminationReason

pytestmark = pytest.mark.django_db


def _on_instance(instance, status, **fields):
    work_request = WorkRequestFactory(
        model=instance.model, status=status, instance=instance, **fields
    )
    ModelInstance.objects.filter(pk=instance.pk).update(
        lease_key=lease_key(work_request)
    )
    return work_request


def test_a_job_past_its_deadline_fails_and_its_instance_is_stopped(model):
    instance = ReadyInstanceFactory(model=model)
    work_request = _on_instance(
        instance,
        Status.PROCESSING,
        deadline_at=timezone.now() - timedelta(seconds=1),
        heartbeat_at=timezone.now(),
    )

    reconcile()

    work_request.refresh_from_db()
    instance.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert (
        work_request.reason == f"The job did not finish within {model.job_timeout} s."
    )
    assert instance.desired_state == ModelInstance.DesiredState.STOPPED
    assert instance.lease_key == ""


def test_an_instance_never_ready_by_the_deadline_requeues_then_fails(model, settings):
    settings.WORK_REQUEST_RETRIES = 1
    instance = ModelInstanceFactory(model=model, state=ModelInstance.State.STARTING)
    work_request = _on_instance(
        instance, Status.SCHEDULING, deadline_at=timezone.now() - timedelta(seconds=1)
    )

    reconcile()

    work_request.refresh_from_db()
    instance.refresh_from_db()
    assert instance.desired_state == ModelInstance.DesiredState.STOPPED
    assert instance.termination_reason == Reason.READY_TIMEOUT
    assert work_request.attempts == 1
    # Queued again, then placed on a fresh instance by the same tick.
    assert work_request.status == Status.SCHEDULING
    assert work_request.instance_id != instance.pk
    assert work_request.reason == ""

    ModelInstance.objects.filter(pk=work_request.instance_id).update(
        state=ModelInstance.State.STARTING
    )
    WorkRequest.objects.filter(pk=work_request.pk).update(
        deadline_at=timezone.now() - timedelta(seconds=1)
    )
    reconcile()

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    expected = model.schedule_timeout + model.ready_timeout
    assert work_request.reason == f"No model instance became ready within {expected} s."


def test_a_killed_instance_requeues_its_request_with_the_reason(model, settings):
    settings.WORK_REQUEST_RETRIES = 0
    instance = ReadyInstanceFactory(model=model)
    work_request = _on_instance(
        instance, Status.PROCESSING, heartbeat_at=timezone.now()
    )
    ModelInstance.objects.filter(pk=instance.pk).update(
        state=ModelInstance.State.FAILED, termination_reason=Reason.OOM_KILLED
    )

    reconcile()

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.reason == "The model ran out of memory (its limit is 1Gi)."


def test_a_ready_instance_whose_run_was_lost_is_run_again(
    model, django_capture_on_commit_callbacks
):
    instance = ReadyInstanceFactory(model=model)
    work_request = _on_instance(
        instance, Status.SCHEDULING, deadline_at=timezone.now() - timedelta(seconds=1)
    )

    report = reconcile()

    work_request.refresh_from_db()
    assert work_request.status == Status.SCHEDULING
    assert work_request.deadline_at > timezone.now()
    assert work_request.pk in report.dispatch.runs


def test_a_request_whose_worker_stopped_reporting_is_requeued(model, settings):
    settings.WORK_REQUEST_STALL_TIMEOUT = 60
    instance = ReadyInstanceFactory(model=model)
    work_request = _on_instance(
        instance,
        Status.PROCESSING,
        heartbeat_at=timezone.now() - timedelta(seconds=61),
        deadline_at=timezone.now() + timedelta(hours=1),
    )

    reconcile()

    work_request.refresh_from_db()
    assert work_request.attempts == 1
    assert work_request.status in (Status.QUEUED, Status.SCHEDULING)


def test_reconcile_leaves_healthy_work_alone(model):
    instance = ReadyInstanceFactory(model=model)
    work_request = _on_instance(
        instance,
        Status.PROCESSING,
        heartbeat_at=timezone.now(),
        deadline_at=timezone.now() + timedelta(hours=1),
    )

    report = reconcile()

    work_request.refresh_from_db()
    assert work_request.status == Status.PROCESSING
    assert report.requeued_or_failed == []


def test_autoscaling_keeps_the_minimum_and_stops_idle_instances(model):
    model.min_instances = 2
    model.max_instances = 3
    model.idle_timeout = 60
    model.save()
    long_ago = timezone.now() - timedelta(minutes=5)
    old = [ReadyInstanceFactory(model=model, last_used_at=long_ago) for _ in range(2)]
    busy = ReadyInstanceFactory(
        model=model, last_used_at=long_ago, lease_key="work-request:1"
    )

    report = autoscale_instances()

    assert len(report.stopped) == 1
    wanted = ModelInstance.objects.filter(
        desired_state=ModelInstance.DesiredState.RUNNING
    )
    assert wanted.count() == 2
    assert busy in wanted
    assert len({o.pk for o in old} & set(wanted.values_list("pk", flat=True))) == 1


def test_autoscaling_starts_warm_instances_for_the_minimum(model):
    model.min_instances = 2
    model.save()

    report = autoscale_instances()
    again = autoscale_instances()

    assert len(report.started) == 2
    assert again.started == []
    assert ModelInstance.objects.filter(model=model, lease_key="").count() == 2


def test_autoscaling_stops_idle_instances_of_a_disabled_model(model):
    instance = ReadyInstanceFactory(model=model, last_used_at=timezone.now())
    model.enabled = False
    model.save()

    autoscale_instances()

    instance.refresh_from_db()
    assert instance.desired_state == ModelInstance.DesiredState.STOPPED


def test_a_model_that_cannot_start_fails_its_request_without_a_retry(model):
    instance = ModelInstanceFactory(
        model=model,
        state=ModelInstance.State.FAILED,
        termination_reason=Reason.CRASHED,
    )
    work_request = _on_instance(instance, Status.SCHEDULING)

    reconcile()

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.attempts == 0
    assert work_request.reason == "The model could not be started."
    assert ModelInstance.objects.filter(model=model).count() == 1


def test_an_instance_lost_by_its_agent_requeues_its_request(model):
    instance = ReadyInstanceFactory(model=model)
    work_request = _on_instance(
        instance, Status.PROCESSING, heartbeat_at=timezone.now()
    )
    ModelInstance.objects.filter(pk=instance.pk).update(
        state=ModelInstance.State.FAILED, termination_reason=Reason.LOST
    )

    reconcile()

    work_request.refresh_from_db()
    assert work_request.attempts == 1
    assert work_request.status in (Status.QUEUED, Status.SCHEDULING)
