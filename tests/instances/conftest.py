"""Fixtures for the instance tests: fake models and a local backend that cleans up.

Every process a test starts goes through the `backend` fixture (or is
stopped by the test itself), and the fixture stops whatever is still running
when the test ends, so no model server outlives its test.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from instances.backends.base import InstanceSpec
from instances.backends.local import LocalBackend
from instances.controller import sync_instances
from instances.models import ModelInstance
from models_registry.models import Model
from tests.factories import ModelFactory

FAKE = "tests.instances.fake_models"
ALLOCATION = {
    "requests": {"cpu": "100m", "memory": "64Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}


def make_model(**fields: Any) -> Model:
    values: dict[str, Any] = {
        "id": "fake-echo",
        "title": "Echo",
        "image": "modelhub/fake-echo",
        "tag": "0.1",
        "entrypoint": f"{FAKE}:echo",
        "k8s_resources": ALLOCATION,
        "schedule_timeout": 60,
        "ready_timeout": 30,
        "idle_timeout": 60,
        "max_instances": 5,
    }
    values.update(fields)
    return ModelFactory(**values)


def make_spec(
    name: str, *, function: str = "echo", memory: str = "512Mi"
) -> InstanceSpec:
    return InstanceSpec(
        name=name,
        model_id="fake-echo",
        image="modelhub/fake-echo:0.1",
        entrypoint=f"{FAKE}:{function}" if function else "",
        port=80,
        allocation={
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"cpu": "1", "memory": memory},
        },
    )


def wait_for(
    condition: Callable[[], Any], *, timeout: float = 10.0, every: float = 0.05
) -> Any:
    """Call `condition` until it returns something true; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"Still not true after {timeout} s.")


def sync_until(
    backend: LocalBackend,
    instance: ModelInstance,
    states: tuple[str, ...],
    *,
    timeout: float = 10.0,
    sample: bool = False,
) -> ModelInstance:
    """Run controller passes until `instance` reaches one of `states`."""

    def reached() -> ModelInstance | None:
        sync_instances(backend=backend)
        if sample:
            backend.sample()
        instance.refresh_from_db()
        return instance if instance.state in states else None

    return wait_for(reached, timeout=timeout)


def call_later(endpoint: str, inputs: list[str], *, timeout: float = 20.0) -> None:
    """POST /run from a thread; the test does not wait for the answer."""

    def call() -> None:
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(f"{endpoint}/run", json=inputs, timeout=timeout)

    threading.Thread(target=call, daemon=True).start()


@pytest.fixture
def log_dir(tmp_path: Path, settings: Any) -> Path:
    folder = tmp_path / "instances"
    settings.INSTANCE_LOG_DIR = folder
    return folder


@pytest.fixture
def backend(log_dir: Path) -> Iterator[LocalBackend]:
    backend = LocalBackend(log_dir=log_dir)
    yield backend
    backend.stop_many(backend.tracked_handles())


@pytest.fixture
def model(db: Any) -> Model:
    return make_model()
