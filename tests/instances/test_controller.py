import logging
import os
import signal
from datetime import timedelta
from unittest import mock

import psutil
import pytest
from django.utils import timezone

from instances.backends.base import BackendError
from instances.controller import sync_instances
from instances.models import InstanceEvent, InstanceMetrics, ModelInstance
from instances.services import instance_request, instance_stop
from tests.instances.conftest import FAKE, call_later, make_model, sync_until

State = ModelInstance.State
Reason = ModelInstance.TerminationReason
Kind = InstanceEvent.Kind
MEBIBYTE = 2**20

pytestmark = pytest.mark.django_db


def kinds(instance):
    return list(instance.events.values_list("kind", flat=True))


@pytest.fixture
def send_task():
    with mock.patch("instances.controller.current_app.send_task") as send_task:
        yield send_task


@pytest.mark.slow
def test_it_starts_a_requested_instance_until_it_is_ready(
    backend, model, send_task, django_capture_on_commit_callbacks, settings
):
    instance = instance_request(model=model)

    with django_capture_on_commit_callbacks(execute=True):
        moved = sync_instances(backend=backend)
    instance.refresh_from_db()

    assert moved == 1
    assert instance.state == State.STARTING
    assert instance.started_at is not None
    assert instance.handle["pid"] > 0
    assert psutil.pid_exists(instance.handle["pid"])
    send_task.assert_not_called()

    with django_capture_on_commit_callbacks(execute=True):
        sync_until(backend, instance, (State.READY,))

    assert instance.endpoint == f"http://127.0.0.1:{instance.handle['port']}"
    assert instance.ready_at >= instance.started_at
    assert instance.model_version == "1.2.3"
    model.refresh_from_db()
    assert model.version == "1.2.3"
    assert kinds(instance) == [
        Kind.REQUESTED,
        Kind.CREATED,
        Kind.READY,
        Kind.VERSION_REPORTED,
    ]
    created = instance.events.get(kind=Kind.CREATED)
    assert created.details["spec"]["entrypoint"] == f"{FAKE}:echo"
    assert created.details["spec"]["allocation"] == instance.allocation
    assert created.details["process"]["pid"] == instance.handle["pid"]
    assert created.details["process"]["cmdline"][2] == "models_registry.serving"
    send_task.assert_called_once_with(settings.INSTANCES_CHANGED_TASK, retry=False)


@pytest.mark.slow
def test_it_reports_a_version_change_only_once(backend, model, send_task):
    model.version = "1.2.3"
    model.save()
    instance = instance_request(model=model)

    sync_until(backend, instance, (State.READY,))

    assert instance.model_version == "1.2.3"
    assert Kind.VERSION_REPORTED not in kinds(instance)


@pytest.mark.slow
def test_it_stops_an_instance_and_keeps_its_final_metrics(backend, model, send_task):
    instance = instance_request(model=model)
    sync_until(backend, instance, (State.READY,))
    pid = instance.handle["pid"]

    assert instance_stop(instance=instance) is True
    sync_until(backend, instance, (State.STOPPED,))

    assert not psutil.pid_exists(pid)
    assert instance.termination_reason == Reason.REQUESTED
    assert instance.stopped_at is not None
    assert kinds(instance)[-2:] == [Kind.STOP_REQUESTED, Kind.STOPPED]
    stopped = instance.events.get(kind=Kind.STOPPED)
    assert stopped.details["process"]["exit_code"] == 0
    assert [event["kind"] for event in stopped.details["backend_events"]] == [
        "started",
        "stopped",
    ]
    metrics = InstanceMetrics.objects.get(instance=instance)
    assert metrics.final is True
    assert metrics.oom_killed is False
    assert metrics.allocation == instance.allocation
    assert metrics.model_id == model.id
    assert metrics.sample_count >= 2
    assert metrics.memory_max > 5 * MEBIBYTE
    assert metrics.started_at is not None and metrics.ended_at is not None


@pytest.mark.slow
def test_it_fails_an_instance_killed_from_outside_as_crashed(backend, model, send_task):
    instance = instance_request(model=model)
    sync_until(backend, instance, (State.READY,))

    os.kill(instance.handle["pid"], signal.SIGKILL)
    sync_until(backend, instance, (State.FAILED,))

    assert instance.termination_reason == Reason.CRASHED
    assert "killed by signal 9" in instance.reason
    crashed = instance.events.get(kind=Kind.CRASHED)
    assert crashed.details["process"]["exit_code"] == -9
    assert crashed.details["log_tail"]
    metrics = InstanceMetrics.objects.get(instance=instance)
    assert metrics.final is True
    assert metrics.oom_killed is False


@pytest.mark.slow
def test_it_fails_an_instance_that_goes_over_its_memory_limit(backend, db, send_task):
    model = make_model(
        id="fake-hog",
        entrypoint=f"{FAKE}:hog",
        k8s_resources={
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": "128Mi"},
        },
    )
    instance = instance_request(model=model)
    sync_until(backend, instance, (State.READY,))

    call_later(instance.endpoint, ["400"])
    sync_until(backend, instance, (State.FAILED,), sample=True, timeout=15)

    assert instance.termination_reason == Reason.OOM_KILLED
    assert "memory limit of 128 MiB" in instance.reason
    assert kinds(instance)[-1] == Kind.OOM_KILLED
    metrics = InstanceMetrics.objects.get(instance=instance)
    assert metrics.final is True
    assert metrics.oom_killed is True
    assert metrics.memory_max > 128 * MEBIBYTE
    assert metrics.allocation["limits"]["memory"] == "128Mi"


@pytest.mark.slow
def test_it_fails_an_instance_whose_entrypoint_cannot_be_imported(
    backend, db, send_task
):
    model = make_model(id="fake-broken", entrypoint="tests.instances.broken_model:run")
    instance = instance_request(model=model)

    sync_until(backend, instance, (State.FAILED,))

    assert instance.termination_reason == Reason.CRASHED
    assert "exited with code 2" in instance.reason
    assert "dependencies are missing" in instance.reason
    assert kinds(instance) == [Kind.REQUESTED, Kind.CREATED, Kind.CRASHED]
    assert instance.ready_at is None


def test_it_fails_a_model_without_entrypoint_at_once(backend, db, send_task):
    model = make_model(id="image-only", entrypoint="")
    instance = instance_request(model=model)

    sync_instances(backend=backend)
    instance.refresh_from_db()

    assert instance.state == State.FAILED
    assert instance.termination_reason == Reason.FAILED_TO_START
    assert "needs the kubernetes backend" in instance.reason
    assert kinds(instance) == [Kind.REQUESTED, Kind.CREATION_FAILED]
    failed = instance.events.get(kind=Kind.CREATION_FAILED)
    assert failed.details["spec"]["model_id"] == "image-only"
    assert not InstanceMetrics.objects.filter(instance=instance).exists()


def test_it_fails_a_request_not_started_within_its_schedule_timeout(
    backend, model, send_task
):
    instance = instance_request(model=model)
    late = instance.requested_at + timedelta(seconds=model.schedule_timeout)

    sync_instances(backend=backend, now=late)
    instance.refresh_from_db()

    assert instance.state == State.FAILED
    assert instance.termination_reason == Reason.SCHEDULE_TIMEOUT
    assert instance.handle == {}
    assert kinds(instance) == [Kind.REQUESTED, Kind.TIMED_OUT]


@pytest.mark.slow
def test_it_stops_an_instance_not_ready_within_its_ready_timeout(
    backend, db, send_task
):
    model = make_model(
        id="fake-slow-start", entrypoint="tests.instances.slow_import:echo"
    )
    instance = instance_request(model=model)
    sync_instances(backend=backend)
    instance.refresh_from_db()
    assert instance.state == State.STARTING
    pid = instance.handle["pid"]

    sync_instances(backend=backend, now=timezone.now() + timedelta(seconds=29))
    instance.refresh_from_db()
    assert instance.state == State.STARTING

    sync_instances(backend=backend, now=instance.started_at + timedelta(seconds=30))
    instance.refresh_from_db()

    assert instance.state == State.FAILED
    assert instance.termination_reason == Reason.READY_TIMEOUT
    assert "ready timeout of 30 s" in instance.reason
    assert kinds(instance)[-1] == Kind.TIMED_OUT
    assert not psutil.pid_exists(pid)
    assert InstanceMetrics.objects.get(instance=instance).final is True


@pytest.mark.slow
def test_it_never_loses_a_stop_requested_while_starting(backend, model, send_task):
    instance = instance_request(model=model)
    started = []
    real_start = backend.start

    def start_then_stop(spec):
        handle = real_start(spec)
        started.append(handle)
        instance_stop(instance=ModelInstance.objects.get(pk=instance.pk))
        return handle

    with mock.patch.object(backend, "start", side_effect=start_then_stop):
        sync_instances(backend=backend)
    instance.refresh_from_db()

    assert instance.state == State.STOPPED
    assert instance.desired_state == ModelInstance.DesiredState.STOPPED
    assert not psutil.pid_exists(started[0]["pid"])
    assert kinds(instance) == [Kind.REQUESTED, Kind.STOP_REQUESTED, Kind.STOPPED]
    assert instance.events.last().details["handle"]["pid"] == started[0]["pid"]


@pytest.mark.slow
def test_it_stops_an_instance_whose_stop_came_while_it_was_starting(
    backend, model, send_task
):
    instance = instance_request(model=model)
    sync_instances(backend=backend)
    instance.refresh_from_db()
    assert instance.state == State.STARTING

    instance_stop(instance=instance, reason=Reason.IDLE)
    sync_until(backend, instance, (State.STOPPED,))

    assert instance.termination_reason == Reason.IDLE
    assert instance.ready_at is None
    assert not psutil.pid_exists(instance.handle["pid"])


def test_it_fails_an_instance_its_backend_has_no_trace_of(backend, model, send_task):
    instance = instance_request(model=model)
    ModelInstance.objects.filter(pk=instance.pk).update(
        state=State.READY, started_at=timezone.now(), handle={}
    )

    sync_instances(backend=backend)
    instance.refresh_from_db()

    assert instance.state == State.FAILED
    assert instance.termination_reason == Reason.LOST
    assert kinds(instance)[-1] == Kind.LOST


@pytest.mark.slow
def test_it_refreshes_live_metrics_while_an_instance_runs(
    backend, model, send_task, settings
):
    settings.AGENT_METRICS_FLUSH_INTERVAL = 0.1
    instance = instance_request(model=model)
    sync_until(backend, instance, (State.READY,))
    backend.sample()

    sync_instances(backend=backend)
    first = InstanceMetrics.objects.get(instance=instance)
    backend.sample()
    sync_instances(backend=backend)
    unchanged = InstanceMetrics.objects.get(instance=instance)
    settings.AGENT_METRICS_FLUSH_INTERVAL = 0.0
    backend.sample()
    sync_instances(backend=backend)
    refreshed = InstanceMetrics.objects.get(instance=instance)

    assert first.final is False
    assert first.sample_count >= 2
    assert unchanged.sample_count == first.sample_count
    assert refreshed.sample_count == first.sample_count + 2
    assert refreshed.final is False


@pytest.mark.slow
def test_it_logs_a_broker_error_instead_of_raising(
    backend, model, caplog, django_capture_on_commit_callbacks
):
    instance = instance_request(model=model)

    with (
        mock.patch(
            "instances.controller.current_app.send_task",
            side_effect=ConnectionRefusedError("broker down"),
        ),
        caplog.at_level(logging.WARNING, logger="instances.controller"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sync_until(backend, instance, (State.READY,))

    assert instance.state == State.READY
    warnings = [r for r in caplog.records if r.name == "instances.controller"]
    assert [r.getMessage() for r in warnings] == [
        "Could not enqueue the instances-changed task"
    ]
    assert warnings[0].error == "broker down"


def test_it_goes_on_with_other_instances_when_one_backend_call_fails(
    backend, db, send_task, caplog
):
    broken = instance_request(model=make_model(id="first"))
    other = instance_request(model=make_model(id="second", entrypoint=""))

    with mock.patch.object(
        backend, "start", side_effect=[RuntimeError("bug"), BackendError("no")]
    ):
        sync_instances(backend=backend)
    broken.refresh_from_db()
    other.refresh_from_db()

    assert broken.state == State.REQUESTED
    assert other.state == State.FAILED
    assert other.reason == "no"
    assert "Instance sync failed" in caplog.text
