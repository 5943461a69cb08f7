"""Model instances as child processes of the agent, on this machine.

Each instance is the built-in model server (`python -m
models_registry.serving`) wrapping the model's Python callable, listening on
a free 127.0.0.1 port that it writes to a port file once it listens. Its
output goes to `INSTANCE_LOG_DIR/<name>.log`; what this backend does to it
(start, exit, kills) is appended to `<name>.events.jsonl` beside it, so the
web process can show both without talking to the agent.

The child stays in the agent's process group on purpose: when the process
manager ends the agent's group (Ctrl-C under honcho), the instances end with
it instead of lingering. A child that outlives an agent killed on its own is
found again with `adopt` when the next agent starts.

Usage is measured by `sample`, which the agent calls every
`AGENT_SAMPLE_INTERVAL` seconds: CPU as a rate in millicores (CPU-seconds
used between two readings per second of wall time, times 1000), memory as the
resident bytes of the process and its children. The memory limit of the
instance's allocation is enforced from those readings only, so a process can
go over its limit for up to one sampling interval before it is killed; the
kernel does not stop it sooner, as it would in a container with a cgroup
limit.
"""

import contextlib
import json
import logging
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings

from instances.backends.base import (
    BackendError,
    InstanceSpec,
    Observation,
    Phase,
    UsageSummary,
)
from instances.backends.processes import (
    Reading,
    child_environment,
    crash_message,
    kill_tree,
    process_dump,
    process_gone,
    tail_lines,
    tree_reading,
)
from instances.backends.supervised import Supervised
from instances.client import ModelClient
from models_registry.quantities import QuantityError, memory_bytes

logger = logging.getLogger(__name__)

SERVER_MODULE = "models_registry.serving"
LOG_TAIL_LINES = 20
# An ended instance is kept this long so its summary can still be read.
FORGET_AFTER_SECONDS = 600.0
_CREATE_TIME_TOLERANCE = 0.05
MEBIBYTE = 2**20


class LocalBackend:
    """The `InstanceBackend` for child processes; one per agent process.

    Only the process that started (or adopted) an instance can sample it,
    enforce its memory limit and summarise its usage; any process can ask for
    its status, logs and events from its handle.
    """

    name = "local"

    def __init__(
        self,
        *,
        log_dir: Path | None = None,
        health_timeout: float = 0.5,
        stop_timeout: float = 3.0,
    ) -> None:
        self._log_dir = log_dir
        self.health_timeout = health_timeout
        self.stop_timeout = stop_timeout
        self._tracked: dict[str, Supervised] = {}
        self._lock = threading.RLock()

    @property
    def log_dir(self) -> Path:
        return Path(self._log_dir or settings.INSTANCE_LOG_DIR)

    # --- Lifecycle ----------------------------------------------------------

    def start(self, spec: InstanceSpec) -> dict[str, Any]:
        if not spec.entrypoint:
            raise BackendError(
                f"Model {spec.model_id} has no entrypoint, so it cannot run as a "
                "local process: the local backend runs a Python callable "
                "(module:function) in the built-in model server, and a model "
                "that is only a container image needs the kubernetes backend."
            )
        memory_limit = _memory_limit(spec.allocation)
        log_path = self.log_dir / f"{spec.name}.log"
        port_file = self.log_dir / f"{spec.name}.port"
        command = [
            sys.executable,
            "-m",
            SERVER_MODULE,
            "--entrypoint",
            spec.entrypoint,
            "--model-id",
            spec.model_id,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--port-file",
            str(port_file),
        ]

        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            port_file.unlink(missing_ok=True)
            with log_path.open("ab") as log:
                log.write(f"--- starting {spec.name} at {_now_iso()} ---\n".encode())
                log.flush()
                popen = subprocess.Popen(  # noqa: S603 - our own interpreter
                    command,
                    cwd=settings.BASE_DIR,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=child_environment(),
                    close_fds=True,
                )
        except OSError as error:
            raise BackendError(f"The model server could not be started: {error}.")

        process = psutil.Process(popen.pid)
        try:
            create_time = process.create_time()
            first = tree_reading(process)
        except psutil.Error:
            create_time, first = 0.0, Reading(time.monotonic(), 0.0, 0)
        started_at = datetime.now(UTC)
        tracked = Supervised(
            name=spec.name,
            process=process,
            popen=popen,
            memory_limit=memory_limit,
            started_at=started_at,
            last=first,
        )
        # Only the CPU baseline is kept from this first reading: the process
        # has only just been executed, and its few kilobytes of memory would
        # pass for the model's minimum. Memory is first read once it is ready.
        with self._lock:
            self._tracked[spec.name] = tracked

        handle = {
            "name": spec.name,
            "pid": popen.pid,
            "create_time": create_time,
            "log_path": str(log_path),
            "port_file": str(port_file),
            "port": None,
            "memory_limit": memory_limit,
            "started_at": started_at.isoformat(),
        }
        self._record(handle, "started", pid=popen.pid, cmdline=command)
        logger.info("Local instance started", extra={"instance": spec.name})
        return handle

    def adopt(self, handle: dict[str, Any], *, allocation: dict[str, Any]) -> bool:
        """Take over an instance started by an earlier agent, if it still runs.

        The pid must belong to the same process (same creation time, so a
        reused pid is not mistaken for it) and that process must be the model
        server of this instance (its command line names the port file).
        """
        process = self._find(handle)
        if process is None:
            return False
        try:
            cmdline = process.cmdline()
            reading = tree_reading(process)
        except psutil.Error:
            return False
        if SERVER_MODULE not in cmdline or handle.get("port_file") not in cmdline:
            return False

        try:
            memory_limit = _memory_limit(allocation)
        except BackendError:
            memory_limit = handle.get("memory_limit")
        started_at = _parse_time(handle.get("started_at")) or datetime.now(UTC)
        tracked = Supervised(
            name=handle["name"],
            process=process,
            popen=None,
            memory_limit=memory_limit,
            started_at=started_at,
            last=reading,
        )
        tracked.usage.add_memory(reading.rss)
        with self._lock:
            self._tracked[handle["name"]] = tracked
        self._record(handle, "adopted", pid=process.pid)
        return True

    def status(self, handle: dict[str, Any]) -> Observation:
        """Where the instance is, and a dump of its process.

        Ready means the process runs, has written its port and answered
        `/healthz`. Once an instance this backend tracks has answered, it is
        not asked again: from then on being alive is what counts, which keeps
        the instance's log free of a health check every poll.
        """
        if not handle.get("pid"):
            return Observation(
                phase=Phase.MISSING, message="The backend has no process for it."
            )
        tracked = self._get(handle)
        if tracked is not None:
            self._reap(tracked)
            if tracked.ended:
                return self._ended_observation(tracked, handle)
            process: psutil.Process | None = tracked.process
        else:
            process = self._find(handle)
        if process is None:
            return self._vanished_observation(handle)

        dump = process_dump(process)
        port = self._port(handle)
        if port is None:
            return Observation(phase=Phase.STARTING, details={"process": dump})
        endpoint = f"http://127.0.0.1:{port}"
        ready = bool(tracked and tracked.ready)
        if not ready:
            with ModelClient(endpoint, timeout=self.health_timeout) as client:
                ready = client.healthy()
            if tracked is not None and ready:
                tracked.ready = True
                with contextlib.suppress(psutil.Error):
                    tracked.take_reading()
        return Observation(
            phase=Phase.RUNNING,
            ready=ready,
            endpoint=endpoint,
            details={"process": dump},
        )

    def stop(self, handle: dict[str, Any]) -> None:
        self.stop_many([handle])

    def stop_many(self, handles: list[dict[str, Any]]) -> None:
        """Stop several instances at once: SIGTERM to all, then SIGKILL.

        All of them get the same grace period (`stop_timeout`), so stopping
        ten instances takes as long as stopping one.
        """
        stopping: list[tuple[dict[str, Any], Supervised | None, psutil.Process]] = []
        for handle in handles:
            entry = self._prepare_stop(handle)
            if entry is not None:
                stopping.append((handle, *entry))

        deadline = time.monotonic() + self.stop_timeout
        while stopping and time.monotonic() < deadline:
            if all(self._is_gone(tracked, process) for _, tracked, process in stopping):
                break
            time.sleep(0.05)

        for handle, tracked, process in stopping:
            killed = False
            if not self._is_gone(tracked, process):
                kill_tree(process)
                killed = True
                self._wait_gone(tracked, process, timeout=1.0)
            exit_code = tracked.exit_code if tracked else None
            self._record(handle, "stopped", exit_code=exit_code, killed=killed)
            if killed:
                logger.warning(
                    "Local instance ignored SIGTERM and was killed",
                    extra={"instance": handle.get("name")},
                )

    # --- Observation --------------------------------------------------------

    def logs(self, handle: dict[str, Any], *, tail: int = 200) -> list[str]:
        path = handle.get("log_path")
        if not path or tail <= 0:
            return []
        try:
            return tail_lines(Path(path), tail)
        except FileNotFoundError:
            return []
        except OSError as error:
            raise BackendError(f"The instance's log could not be read: {error}.")

    def events(self, handle: dict[str, Any]) -> list[dict[str, Any]]:
        path = self._events_path(handle)
        if path is None:
            return []
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise BackendError(f"The instance's events could not be read: {error}.")
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events

    def endpoint(self, handle: dict[str, Any]) -> str:
        port = self._port(handle)
        return f"http://127.0.0.1:{port}" if port else ""

    # --- Usage --------------------------------------------------------------

    def sample(self) -> list[str]:
        """Read the usage of every running instance; kill those over limit.

        Returns the names of the instances killed for memory. Between two
        calls an instance can overshoot its limit by whatever it allocates in
        that time, and one that allocates and frees memory within an interval
        is never seen over it.
        """
        killed = []
        with self._lock:
            entries = list(self._tracked.values())
        for tracked in entries:
            self._reap(tracked)
            if tracked.ended or tracked.stopping:
                continue
            try:
                tracked.take_reading()
            except psutil.Error:
                continue
            limit = tracked.memory_limit
            if limit and tracked.last.rss > limit:
                self._kill_for_memory(tracked)
                killed.append(tracked.name)
        self._forget_ended()
        return killed

    def metrics(self, handle: dict[str, Any]) -> UsageSummary | None:
        """The usage summary, for an instance this backend started or adopted.

        An instance that lived less than one sampling interval still has the
        readings taken when it was started and just before it was stopped (or
        the kernel's accounting of its whole life, when it exited on its
        own), so its CPU rate is its CPU time over its lifetime.
        """
        tracked = self._get(handle)
        if tracked is None:
            return None
        return tracked.usage.summary(
            started_at=tracked.started_at,
            ended_at=tracked.ended_at,
            oom_killed=tracked.oom_killed,
        )

    def tracked_handles(self) -> list[dict[str, Any]]:
        """Handles of the instances this backend runs, enough to stop them."""
        with self._lock:
            entries = list(self._tracked.values())
        return [
            {"name": tracked.name, "pid": tracked.process.pid}
            for tracked in entries
            if not tracked.ended
        ]

    # --- Internals ----------------------------------------------------------

    def _get(self, handle: dict[str, Any]) -> Supervised | None:
        with self._lock:
            tracked = self._tracked.get(handle.get("name", ""))
        if tracked is None or tracked.process.pid != handle.get("pid"):
            return None
        return tracked

    def _find(self, handle: dict[str, Any]) -> psutil.Process | None:
        """The live process of `handle`, unless its pid now belongs to another."""
        try:
            process = psutil.Process(int(handle["pid"]))
            create_time = process.create_time()
            status = process.status()
        except (psutil.Error, KeyError, TypeError, ValueError):
            return None
        expected = float(handle.get("create_time") or 0)
        if abs(create_time - expected) > _CREATE_TIME_TOLERANCE:
            return None
        if status in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return None
        return process

    def _port(self, handle: dict[str, Any]) -> int | None:
        """The port, read from the port file the first time and kept in the handle."""
        if handle.get("port"):
            return int(handle["port"])
        path = handle.get("port_file")
        if not path:
            return None
        try:
            text = Path(path).read_text().strip()
        except OSError:
            return None
        if not text.isdigit():
            return None
        handle["port"] = int(text)
        return handle["port"]

    def _reap(self, tracked: Supervised) -> None:
        if tracked.reap() and not tracked.stopping:
            handle = {"name": tracked.name, "pid": tracked.process.pid}
            self._record(
                handle,
                "exited",
                exit_code=tracked.exit_code,
                oom_killed=tracked.oom_killed,
            )

    def _is_gone(self, tracked: Supervised | None, process: psutil.Process) -> bool:
        if tracked is None:
            return process_gone(process)
        self._reap(tracked)
        return tracked.ended

    def _wait_gone(
        self, tracked: Supervised | None, process: psutil.Process, *, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not self._is_gone(tracked, process) and time.monotonic() < deadline:
            time.sleep(0.02)

    def _kill_for_memory(self, tracked: Supervised) -> None:
        rss, limit = tracked.last.rss, tracked.memory_limit or 0
        tracked.oom_killed = True
        kill_tree(tracked.process)
        handle = {"name": tracked.name, "pid": tracked.process.pid}
        self._record(handle, "oom_killed", rss=rss, limit=limit)
        logger.warning(
            "Local instance went over its memory limit and was killed",
            extra={"instance": tracked.name, "rss": rss, "limit": limit},
        )
        self._wait_gone(tracked, tracked.process, timeout=1.0)

    def _prepare_stop(
        self, handle: dict[str, Any]
    ) -> tuple[Supervised | None, psutil.Process] | None:
        tracked = self._get(handle)
        if tracked is not None:
            self._reap(tracked)
            if tracked.ended:
                return None
            process = tracked.process
            tracked.stopping = True
            with contextlib.suppress(psutil.Error):
                tracked.take_reading()
        else:
            found = self._find(handle)
            if found is None:
                return None
            process = found
        with contextlib.suppress(psutil.Error):
            process.send_signal(signal.SIGTERM)
        return tracked, process

    def _ended_observation(
        self, tracked: Supervised, handle: dict[str, Any]
    ) -> Observation:
        details: dict[str, Any] = {
            "process": {
                "pid": tracked.process.pid,
                "exit_code": tracked.exit_code,
                "ended_at": tracked.ended_at.isoformat() if tracked.ended_at else None,
                **tracked.rusage,
            },
            "log_tail": self._safe_logs(handle),
        }
        if tracked.stopping:
            return Observation(
                phase=Phase.EXITED, message="Stopped by its backend.", details=details
            )
        if tracked.oom_killed:
            limit = (tracked.memory_limit or 0) / MEBIBYTE
            return Observation(
                phase=Phase.EXITED,
                termination_reason="OOMKilled",
                message=(
                    f"Killed for going over its memory limit of {limit:.0f} MiB "
                    f"(it used {tracked.usage.memory_max / MEBIBYTE:.0f} MiB)."
                ),
                details=details,
            )
        return Observation(
            phase=Phase.EXITED,
            termination_reason="Crashed",
            message=crash_message(tracked.exit_code, details["log_tail"]),
            details=details,
        )

    def _vanished_observation(self, handle: dict[str, Any]) -> Observation:
        """An instance whose process is gone and that this backend did not track."""
        details: dict[str, Any] = {"log_tail": self._safe_logs(handle)}
        pid = handle.get("pid")
        for event in self.events(handle):
            if event.get("pid") == pid and event.get("kind") == "oom_killed":
                return Observation(
                    phase=Phase.EXITED,
                    termination_reason="OOMKilled",
                    message="Killed for going over its memory limit.",
                    details=details,
                )
        return Observation(
            phase=Phase.EXITED,
            termination_reason="Crashed",
            message=crash_message(None, details["log_tail"]),
            details=details,
        )

    def _safe_logs(self, handle: dict[str, Any]) -> list[str]:
        try:
            return self.logs(handle, tail=LOG_TAIL_LINES)
        except BackendError:
            return []

    def _events_path(self, handle: dict[str, Any]) -> Path | None:
        name = handle.get("name")
        if not name:
            return None
        log_path = handle.get("log_path")
        folder = Path(log_path).parent if log_path else self.log_dir
        return folder / f"{name}.events.jsonl"

    def _record(self, handle: dict[str, Any], kind: str, **fields: Any) -> None:
        path = self._events_path(handle)
        if path is None:
            return
        event = {"at": _now_iso(), "kind": kind, "pid": handle.get("pid"), **fields}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as file:
                file.write(json.dumps(event) + "\n")
        except OSError:
            logger.warning(
                "Could not record a local instance event",
                extra={"instance": handle.get("name"), "kind": kind},
            )

    def _forget_ended(self) -> None:
        cutoff = time.monotonic() - FORGET_AFTER_SECONDS
        with self._lock:
            for name, tracked in list(self._tracked.items()):
                if (
                    tracked.ended_monotonic is not None
                    and tracked.ended_monotonic < cutoff
                ):
                    del self._tracked[name]


def _memory_limit(allocation: dict[str, Any]) -> int | None:
    limits = allocation.get("limits") if isinstance(allocation, dict) else None
    text = limits.get("memory") if isinstance(limits, dict) else None
    if not text:
        return None
    try:
        return memory_bytes(text)
    except QuantityError as error:
        raise BackendError(f"The memory limit cannot be read: {error}")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except (TypeError, ValueError):
        return None
