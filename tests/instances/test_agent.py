import os
import signal
import subprocess
import sys
import time
from io import StringIO
from unittest import mock

import psutil
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection
from django.utils import timezone

from instances import backends
from instances.backends.local import LocalBackend
from instances.controller import instances_adopt_or_clean_up
from instances.models import InstanceEvent, InstanceMetrics, ModelInstance
from instances.services import instance_request, instance_stop
from tests.instances.conftest import make_model, sync_until, wait_for

State = ModelInstance.State
Reason = ModelInstance.TerminationReason
Kind = InstanceEvent.Kind


@pytest.fixture
def process_backend(log_dir):
    """The process-wide backend the command uses, stopped and reset afterwards."""
    backends._backends.clear()
    backend = backends.get_backend()
    yield backend
    backend.stop_many(backend.tracked_handles())
    backends._backends.clear()


@pytest.fixture(autouse=True)
def no_broker():
    with mock.patch("instances.controller.current_app.send_task"):
        yield


def test_it_makes_one_backend_per_process(process_backend):
    assert isinstance(process_backend, LocalBackend)
    assert backends.get_backend() is process_backend


def test_it_refuses_an_unknown_backend_name(settings):
    settings.INSTANCE_BACKEND = "nomad"

    with pytest.raises(ImproperlyConfigured, match="use one of: local"):
        backends.get_backend()


@pytest.mark.django_db
def test_the_agent_refuses_to_run_for_another_backend(settings):
    settings.INSTANCE_BACKEND = "nomad"

    with pytest.raises(CommandError, match="agent only runs instances of the local"):
        call_command("instance_agent", "--once")


@pytest.mark.slow
@pytest.mark.django_db
def test_it_adopts_running_instances_after_an_agent_restart(backend, model, log_dir):
    instance = instance_request(model=model)
    sync_until(backend, instance, (State.READY,))
    waiting = instance_request(model=model)
    successor = LocalBackend(log_dir=log_dir)

    try:
        counts = instances_adopt_or_clean_up(backend=successor)
        waiting.refresh_from_db()
        assert waiting.state == State.REQUESTED
        successor.sample()
        instance_stop(instance=instance)
        sync_until(successor, instance, (State.STOPPED,))
    finally:
        successor.stop_many(successor.tracked_handles())

    assert counts == {"adopted": 1, "lost": 0}
    assert Kind.ADOPTED in instance.events.values_list("kind", flat=True)
    adopted = instance.events.get(kind=Kind.ADOPTED)
    assert adopted.details["process"]["pid"] == instance.handle["pid"]
    metrics = InstanceMetrics.objects.get(instance=instance)
    assert metrics.final is True
    assert metrics.sample_count >= 2


@pytest.mark.django_db
def test_it_marks_an_instance_with_a_dead_or_reused_pid_lost(backend, model, log_dir):
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    dead = instance_request(model=model)
    reused = instance_request(model=model)
    ModelInstance.objects.filter(pk=dead.pk).update(
        state=State.READY,
        handle={"name": dead.name, "pid": finished.pid, "create_time": 1.0},
    )
    ModelInstance.objects.filter(pk=reused.pk).update(
        state=State.STARTING,
        handle={
            "name": reused.name,
            "pid": os.getpid(),
            "create_time": psutil.Process().create_time() - 60,
            "port_file": str(log_dir / f"{reused.name}.port"),
        },
    )

    counts = instances_adopt_or_clean_up(backend=backend)

    assert counts == {"adopted": 0, "lost": 2}
    for instance in (dead, reused):
        instance.refresh_from_db()
        assert instance.state == State.FAILED
        assert instance.termination_reason == Reason.LOST
        assert instance.events.last().kind == Kind.LOST
    assert backend.tracked_handles() == []


@pytest.mark.slow
@pytest.mark.django_db
def test_the_agent_once_starts_requested_instances(process_backend, model):
    instance = instance_request(model=model)
    out = StringIO()

    call_command("instance_agent", "--once", stdout=out)
    instance.refresh_from_db()

    assert instance.state == State.STARTING
    assert psutil.pid_exists(instance.handle["pid"])
    wait_for(lambda: process_backend.status(dict(instance.handle)).ready)
    call_command("instance_agent", "--once", stdout=out)
    instance.refresh_from_db()
    assert instance.state == State.READY
    assert "Adopted 1 running instance(s)" in out.getvalue()


@pytest.mark.django_db
def test_the_agent_outlives_database_errors_and_stops_on_sigterm(
    process_backend, caplog, settings
):
    settings.AGENT_POLL_INTERVAL = 0.01
    calls = []

    def flaky_sync(*, backend):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OperationalError("database is locked")
        signal.raise_signal(signal.SIGTERM)
        return 0

    previous = signal.getsignal(signal.SIGTERM)
    with mock.patch(
        "instances.management.commands.instance_agent.sync_instances", flaky_sync
    ):
        call_command("instance_agent", stdout=StringIO())

    assert len(calls) == 2
    assert "Instance agent database error" in caplog.text
    assert signal.getsignal(signal.SIGTERM) is previous


def _database_url() -> str:
    database = connection.settings_dict
    password = f":{database['PASSWORD']}" if database["PASSWORD"] else ""
    host = database["HOST"] or "127.0.0.1"
    port = database["PORT"] or 5432
    return f"postgres://{database['USER']}{password}@{host}:{port}/{database['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_agent_stops_its_instances_and_exits_on_sigterm(tmp_path):
    model = make_model()
    instance = instance_request(model=model)
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "TEST_DATABASE_URL": _database_url(),
        "MODELHUB_DATA_DIR": str(tmp_path),
        "AGENT_POLL_INTERVAL": "0.05",
        "AGENT_SAMPLE_INTERVAL": "0.2",
    }
    log = (tmp_path / "agent.log").open("wb")
    agent = subprocess.Popen(
        [sys.executable, "manage.py", "instance_agent"],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    pid = None
    try:

        def ready():
            instance.refresh_from_db()
            return instance.state == State.READY

        wait_for(ready, timeout=30, every=0.1)
        pid = instance.handle["pid"]
        assert psutil.Process(pid).ppid() == agent.pid
        time.sleep(0.5)

        started = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        exit_code = agent.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        if pid and psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)
        log.close()

    output = (tmp_path / "agent.log").read_text()
    assert exit_code == 0, output
    assert took < 5
    assert not psutil.pid_exists(pid)
    instance.refresh_from_db()
    assert instance.state == State.STOPPED
    assert instance.termination_reason == Reason.AGENT_SHUTDOWN
    assert instance.desired_state == ModelInstance.DesiredState.STOPPED
    assert "agent shut down" in instance.reason
    assert instance.stopped_at <= timezone.now()
    metrics = InstanceMetrics.objects.get(instance=instance)
    assert metrics.final is True
    assert metrics.sample_count >= 2
    assert "Instance agent stopped; 1 instance(s) stopped with it." in output
