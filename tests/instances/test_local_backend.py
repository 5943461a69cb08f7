import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from instances.backends.base import BackendError, Phase
from instances.backends.local import LocalBackend
from instances.client import ModelClient
from tests.instances.conftest import call_later, make_spec, wait_for

MEBIBYTE = 2**20


def start_ready(backend, name, **spec_fields):
    handle = backend.start(make_spec(name, **spec_fields))
    observation = wait_for(lambda: (o := backend.status(handle)).ready and o)
    return handle, observation


@pytest.mark.slow
def test_it_starts_a_server_that_becomes_ready_and_stops(backend, log_dir):
    handle, observation = start_ready(backend, "echo-1")

    assert observation.phase == Phase.RUNNING
    assert observation.endpoint == f"http://127.0.0.1:{handle['port']}"
    assert backend.endpoint(handle) == observation.endpoint
    assert observation.details["process"]["pid"] == handle["pid"]
    with ModelClient(observation.endpoint, timeout=5) as client:
        records = client.run(["CCO", "C"], timeout=5)
    assert records == [{"value": "CCO"}, {"value": "C"}]
    process = psutil.Process(handle["pid"])
    assert process.cmdline()[1:4] == ["-m", "models_registry.serving", "--entrypoint"]
    assert os.getpgid(handle["pid"]) == os.getpgid(0)

    backend.stop(handle)

    assert not psutil.pid_exists(handle["pid"]) or process.status() == "zombie"
    stopped = backend.status(handle)
    assert stopped.phase == Phase.EXITED
    assert stopped.termination_reason == ""
    assert stopped.details["process"]["exit_code"] == 0
    assert [event["kind"] for event in backend.events(handle)] == ["started", "stopped"]
    assert any("Serving model fake-echo" in line for line in backend.logs(handle))
    assert (log_dir / "echo-1.log").exists()


@pytest.mark.slow
def test_it_treats_a_second_stop_as_done(backend):
    handle, _ = start_ready(backend, "echo-twice")

    backend.stop(handle)
    backend.stop(handle)

    kinds = [event["kind"] for event in backend.events(handle)]
    assert kinds == ["started", "stopped"]


def test_it_refuses_a_model_without_entrypoint(backend, log_dir):
    with pytest.raises(BackendError, match="needs the kubernetes backend"):
        backend.start(make_spec("image-only", function=""))

    assert not (log_dir / "image-only.log").exists()


def test_it_refuses_a_memory_limit_that_is_not_a_quantity(backend):
    with pytest.raises(BackendError, match="memory limit cannot be read"):
        backend.start(make_spec("bad-limit", memory="lots"))

    assert backend.tracked_handles() == []


def test_it_reports_a_handle_without_process_as_missing(backend):
    observation = backend.status({})

    assert observation.phase == Phase.MISSING
    assert backend.metrics({}) is None
    assert backend.logs({}) == []
    assert backend.events({}) == []
    assert backend.endpoint({}) == ""


@pytest.mark.slow
def test_it_kills_an_instance_over_its_memory_limit(backend):
    handle, observation = start_ready(backend, "hog-1", function="hog", memory="128Mi")
    limit = 128 * MEBIBYTE

    call_later(observation.endpoint, ["400"])
    killed = wait_for(lambda: backend.sample(), timeout=15, every=0.1)

    assert killed == ["hog-1"]
    assert not psutil.pid_exists(handle["pid"])
    exited = backend.status(handle)
    assert exited.phase == Phase.EXITED
    assert exited.termination_reason == "OOMKilled"
    assert "memory limit of 128 MiB" in exited.message
    summary = backend.metrics(handle)
    assert summary.oom_killed is True
    assert summary.memory_max > limit
    assert summary.sample_count >= 2
    assert summary.ended_at is not None
    kinds = [event["kind"] for event in backend.events(handle)]
    assert kinds == ["started", "oom_killed", "exited"]


@pytest.mark.slow
def test_it_reports_a_process_killed_from_outside_as_crashed(backend):
    handle, _ = start_ready(backend, "victim")

    os.kill(handle["pid"], signal.SIGKILL)
    observation = wait_for(
        lambda: (o := backend.status(handle)).phase == Phase.EXITED and o
    )

    assert observation.termination_reason == "Crashed"
    assert "killed by signal 9 (SIGKILL)" in observation.message
    assert observation.details["process"]["exit_code"] == -9
    assert any("Serving model" in line for line in observation.details["log_tail"])
    assert backend.events(handle)[-1]["kind"] == "exited"
    assert backend.events(handle)[-1]["exit_code"] == -9


@pytest.mark.slow
def test_it_reports_an_entrypoint_that_cannot_be_imported_as_crashed(backend):
    handle = backend.start(make_spec("broken", function="missing_function"))

    observation = wait_for(
        lambda: (o := backend.status(handle)).phase == Phase.EXITED and o
    )

    assert observation.termination_reason == "Crashed"
    assert "exited with code 2" in observation.message
    assert "has no function named missing_function" in observation.message


@pytest.mark.slow
def test_it_measures_cpu_as_a_rate_not_a_counter(backend):
    busy, busy_observation = start_ready(backend, "busy", function="spin")
    start_ready(backend, "idle")
    call_later(busy_observation.endpoint, ["3.5"])
    time.sleep(0.5)
    process = psutil.Process(busy["pid"])

    backend.sample()
    used_before, since = sum(process.cpu_times()[:2]), time.monotonic()
    for _ in range(3):
        time.sleep(0.8)
        backend.sample()
    used = sum(process.cpu_times()[:2]) - used_before
    share = used / (time.monotonic() - since) * 1000

    busy_rates = list(backend._tracked["busy"].usage.cpu)[-3:]
    idle_rates = list(backend._tracked["idle"].usage.cpu)[-3:]
    # A spinning thread uses one core, 1000m, on an idle machine; with other
    # work running it gets less, so the rates are held to the share the
    # kernel says it had. A counter would instead grow by ~800 per sample.
    assert abs(sum(busy_rates) / 3 - share) < 150, (busy_rates, share)
    assert all(250 <= rate <= 1150 for rate in busy_rates), busy_rates
    assert max(busy_rates) - min(busy_rates) < 400, busy_rates
    assert all(rate < 100 for rate in idle_rates), idle_rates
    summary = backend.metrics(busy)
    assert 250 <= summary.cpu_max <= 1150
    assert summary.cpu_min <= summary.cpu_mean <= summary.cpu_p95 <= summary.cpu_max


@pytest.mark.slow
def test_it_summarises_an_instance_that_lived_less_than_one_sample(backend):
    handle, _ = start_ready(backend, "brief")

    backend.stop(handle)

    summary = backend.metrics(handle)
    assert summary.sample_count == 2
    assert 5 * MEBIBYTE < summary.memory_min <= summary.memory_max < 200 * MEBIBYTE
    assert summary.cpu_max > 0
    assert summary.started_at < summary.ended_at
    assert summary.oom_killed is False


@pytest.mark.slow
def test_it_adopts_a_running_instance_started_by_another_agent(backend, log_dir):
    handle, _ = start_ready(backend, "orphan")
    successor = LocalBackend(log_dir=log_dir)
    try:
        adopted = successor.adopt(dict(handle), allocation=make_spec("x").allocation)

        assert adopted is True
        observation = successor.status(dict(handle))
        assert observation.ready is True
        successor.sample()
        assert successor.metrics(handle).sample_count == 3
        successor.stop(handle)
        assert successor.status(handle).phase == Phase.EXITED
    finally:
        successor.stop_many(successor.tracked_handles())
    assert backend.events(handle)[-1]["kind"] == "stopped"


@pytest.mark.slow
def test_it_does_not_adopt_a_process_that_reused_the_pid(backend, log_dir):
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        handle = {
            "name": "ghost",
            "pid": stranger.pid,
            "create_time": psutil.Process(stranger.pid).create_time(),
            "port_file": str(log_dir / "ghost.port"),
            "log_path": str(log_dir / "ghost.log"),
        }
        assert backend.adopt(handle, allocation={}) is False

        reused = {**handle, "create_time": handle["create_time"] - 100}
        assert backend.adopt(reused, allocation={}) is False
        assert backend.status(reused).phase == Phase.EXITED
        backend.stop(reused)
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


@pytest.mark.slow
def test_it_stops_a_server_that_ignores_sigterm(backend):
    backend.stop_timeout = 0.5
    handle, _ = start_ready(backend, "stubborn")
    os.kill(handle["pid"], signal.SIGSTOP)

    started = time.monotonic()
    backend.stop(handle)

    assert time.monotonic() - started < 2.5
    assert not psutil.pid_exists(handle["pid"])
    assert backend.events(handle)[-1] == {
        **backend.events(handle)[-1],
        "kind": "stopped",
        "killed": True,
    }


def test_it_reads_only_the_last_lines_of_a_long_log(backend, log_dir):
    log_dir.mkdir(parents=True)
    path = log_dir / "long.log"
    path.write_text("".join(f"line {number}\n" for number in range(50_000)))

    lines = backend.logs({"log_path": str(path)}, tail=3)

    assert lines == ["line 49997", "line 49998", "line 49999"]
    assert backend.logs({"log_path": str(path)}, tail=0) == []
    assert backend.logs({"log_path": str(log_dir / "absent.log")}) == []
