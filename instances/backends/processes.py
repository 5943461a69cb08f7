"""Reading and summarising what a local process and its children use.

The local backend keeps, for each instance, a `Usage` fed by `tree_reading`
every sampling interval; these helpers know psutil and the kernel's process
accounting, and nothing of instances.
"""

import math
import os
import signal
import time
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from instances.backends.base import UsageSummary

# Past this many samples of one instance (a bit over a day at one a second),
# every other sample is dropped; min, max and mean stay exact, the 95th
# percentile is then taken from the thinned samples.
MAX_SAMPLES = 100_000
# Environment variables that hold the platform's own secrets; model code
# needs none of them, so the child does not get them.
_SECRET_MARKERS = ("SECRET", "PASSWORD", "TOKEN", "DATABASE_URL", "REDIS_URL")


@dataclass
class Reading:
    monotonic: float
    cpu_seconds: float
    rss: int


@dataclass
class Usage:
    """The samples of one instance, with exact running min, max and sums."""

    cpu: array = field(default_factory=lambda: array("d"))
    memory: array = field(default_factory=lambda: array("q"))
    cpu_min: float = math.inf
    cpu_max: float = 0.0
    cpu_sum: float = 0.0
    cpu_count: int = 0
    memory_min: int = 0
    memory_max: int = 0
    memory_sum: int = 0
    memory_count: int = 0

    def add_cpu(self, millicores: float) -> None:
        self.cpu_min = min(self.cpu_min, millicores)
        self.cpu_max = max(self.cpu_max, millicores)
        self.cpu_sum += millicores
        self.cpu_count += 1
        self.cpu.append(millicores)
        if len(self.cpu) > MAX_SAMPLES:
            self.cpu = self.cpu[::2]

    def add_memory(self, rss: int) -> None:
        self.memory_min = rss if self.memory_count == 0 else min(self.memory_min, rss)
        self.memory_max = max(self.memory_max, rss)
        self.memory_sum += rss
        self.memory_count += 1
        self.memory.append(rss)
        if len(self.memory) > MAX_SAMPLES:
            self.memory = self.memory[::2]

    def summary(
        self, *, started_at: datetime, ended_at: datetime | None, oom_killed: bool
    ) -> UsageSummary:
        """Min, max, mean and 95th percentile (nearest rank) of the samples."""
        cpu = sorted(self.cpu)
        memory = sorted(self.memory)
        return UsageSummary(
            sample_count=self.memory_count,
            cpu_min=millicores(self.cpu_min if self.cpu_count else 0.0),
            cpu_max=millicores(self.cpu_max),
            cpu_mean=millicores(
                self.cpu_sum / self.cpu_count if self.cpu_count else 0.0
            ),
            cpu_p95=millicores(nearest_rank(cpu, 95) if cpu else 0.0),
            memory_min=self.memory_min,
            memory_max=self.memory_max,
            memory_mean=(
                round(self.memory_sum / self.memory_count) if self.memory_count else 0
            ),
            memory_p95=int(nearest_rank(memory, 95)) if memory else 0,
            started_at=started_at,
            ended_at=ended_at,
            oom_killed=oom_killed,
        )


def child_environment() -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not any(marker in name.upper() for marker in _SECRET_MARKERS)
    }
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def tree_reading(process: psutil.Process) -> Reading:
    """CPU-seconds and resident bytes of `process` and its descendants.

    A process's waited-for children are counted through its `children_*`
    times, so CPU used by short-lived helpers is not lost.
    """
    at = time.monotonic()
    with process.oneshot():
        times = process.cpu_times()
        rss = process.memory_info().rss
        descendants = process.children(recursive=True)
    cpu = times.user + times.system + times.children_user + times.children_system
    for child in descendants:
        try:
            with child.oneshot():
                child_times = child.cpu_times()
                rss += child.memory_info().rss
        except psutil.Error:
            continue
        cpu += (
            child_times.user
            + child_times.system
            + child_times.children_user
            + child_times.children_system
        )
    return Reading(at, cpu, rss)


def process_gone(process: psutil.Process) -> bool:
    """True when the process has ended (a zombie has, bar its parent's wait)."""
    try:
        return not process.is_running() or process.status() in (
            psutil.STATUS_ZOMBIE,
            psutil.STATUS_DEAD,
        )
    except psutil.Error:
        return True


def kill_tree(process: psutil.Process) -> None:
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        members = [process]
    for member in members:
        try:
            member.kill()
        except psutil.Error:
            continue


def process_dump(process: psutil.Process) -> dict[str, Any]:
    try:
        with process.oneshot():
            times = process.cpu_times()
            memory = process.memory_info()
            return {
                "pid": process.pid,
                "cmdline": process.cmdline(),
                "status": process.status(),
                "create_time": process.create_time(),
                "rss": memory.rss,
                "vms": memory.vms,
                "cpu_user": times.user,
                "cpu_system": times.system,
                "num_threads": process.num_threads(),
            }
    except psutil.Error as error:
        return {"pid": process.pid, "error": type(error).__name__}


def crash_message(exit_code: int | None, log_tail: list[str]) -> str:
    if exit_code is None:
        how = "The process ended (its exit code is unknown)."
    elif exit_code < 0:
        number = -exit_code
        how = f"The process was killed by signal {number} ({signal_name(number)})."
    else:
        how = f"The process exited with code {exit_code}."
    if not log_tail:
        return how
    return how + " Last log lines:\n" + "\n".join(log_tail[-5:])


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"


def tail_lines(path: Path, count: int) -> list[str]:
    """The last `count` lines of a file, read backwards from its end."""
    block = 8192
    with path.open("rb") as file:
        file.seek(0, os.SEEK_END)
        position = file.tell()
        data = b""
        while position > 0 and data.count(b"\n") <= count:
            step = min(block, position)
            position -= step
            file.seek(position)
            data = file.read(step) + data
    lines = data.decode("utf-8", errors="replace").splitlines()
    return lines[-count:]


def nearest_rank(ordered: Any, percentile: int) -> float:
    rank = max(1, math.ceil(percentile / 100 * len(ordered)))
    return float(ordered[rank - 1])


def millicores(value: float) -> Decimal:
    if not math.isfinite(value):
        value = 0.0
    return Decimal(str(round(value, 3)))
