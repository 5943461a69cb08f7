"""The interface every instance backend implements.

A backend turns an `InstanceSpec` into something running (a local process, a
Kubernetes pod) and answers questions about it through an opaque `handle`: a
JSON-serialisable dict the backend returns from `start` and that is stored on
the instance row, so any process can find the instance again. Backends know
nothing of Django models; the controller in `instances.controller` moves data
between them and the database.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol


@dataclass(frozen=True)
class InstanceSpec:
    name: str
    model_id: str
    image: str
    entrypoint: str
    port: int
    allocation: dict[str, dict[str, str]]
    execution_mode: str = "SYNC"
    labels: dict[str, str] = field(default_factory=dict)


class Phase(Enum):
    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"
    MISSING = "missing"


@dataclass(frozen=True)
class Observation:
    """What the backend sees of an instance right now."""

    phase: Phase
    ready: bool = False
    endpoint: str = ""
    # When the instance has exited: a `ModelInstance.TerminationReason` value
    # and a sentence for operators.
    termination_reason: str = ""
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UsageSummary:
    """What an instance used. CPU in millicores (a rate), memory in bytes."""

    sample_count: int
    cpu_min: Decimal
    cpu_max: Decimal
    cpu_mean: Decimal
    cpu_p95: Decimal
    memory_min: int
    memory_max: int
    memory_mean: int
    memory_p95: int
    started_at: datetime | None
    ended_at: datetime | None
    oom_killed: bool = False


class BackendError(Exception):
    """The backend could not do what was asked; the message says why."""


class InstanceBackend(Protocol):
    name: str

    def start(self, spec: InstanceSpec) -> dict[str, Any]:
        """Create the instance and return its handle. Raises BackendError."""

    def status(self, handle: dict[str, Any]) -> Observation:
        """What the instance is doing now.

        A backend may add to `handle` what it learns on the way (the local
        backend's port); the controller saves the handle when it changed.
        """

    def stop(self, handle: dict[str, Any]) -> None:
        """End the instance. Stopping one that is already gone is not an error."""

    def logs(self, handle: dict[str, Any], *, tail: int = 200) -> list[str]: ...

    def events(self, handle: dict[str, Any]) -> list[dict[str, Any]]:
        """What the platform underneath recorded about the instance."""

    def metrics(self, handle: dict[str, Any]) -> UsageSummary | None: ...

    def endpoint(self, handle: dict[str, Any]) -> str:
        """The base URL the model protocol is served on."""
