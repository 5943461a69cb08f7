"""The model behind the protocol: loading it, running it, its background jobs.

A model is a callable `FUNCTION(inputs: list[str]) -> list[dict]` returning
one record per input, in the same order. Its module may also define
`OUTPUT_COLUMNS` (a list), `CARD` (a dict) and `VERSION` (reported when no
version is given on the command line). Nothing here knows about HTTP;
`models_registry.serving.server` does.
"""

import importlib
import json
import logging
import math
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("models_registry.serving")

Predict = Callable[[list[str]], list[dict[str, Any]]]

# Finished jobs wait in memory for their result to be fetched; past this many
# the oldest are forgotten and their ids answer 404.
MAX_FINISHED_JOBS = 100
# Jobs queued behind the one running; more are refused with a 503 rather than
# holding an unbounded number of input lists in memory.
MAX_PENDING_JOBS = 16

PENDING, COMPLETED, FAILED = "pending", "completed", "failed"


class EntrypointError(Exception):
    """The `--entrypoint` cannot be loaded; the message says why."""


class ModelFailure(Exception):
    """The callable raised or broke its contract. Details are logged only."""


@dataclass
class Job:
    id: str
    inputs: list[str]
    status: str = PENDING
    body: bytes | None = None


class ModelApp:
    """One model behind the protocol: runs it and keeps its background jobs.

    Calls into the model are serialised by a lock: model code is rarely
    thread-safe, and the hub gives an instance one work request at a time
    anyway. Health and status calls never wait for it.
    """

    def __init__(
        self,
        *,
        model_id: str,
        predict: Predict,
        version: str = "",
        output_columns: list[str] | None = None,
        card: dict[str, Any] | None = None,
        max_finished_jobs: int = MAX_FINISHED_JOBS,
        max_pending_jobs: int = MAX_PENDING_JOBS,
    ) -> None:
        self.model_id = model_id
        self.version = version
        self.predict = predict
        self.output_columns = list(output_columns or [])
        self.card = dict(card or {})
        self.max_finished_jobs = max_finished_jobs
        self.max_pending_jobs = max_pending_jobs
        self._model_lock = threading.Lock()
        self._jobs_lock = threading.Lock()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="job")

    def run(self, inputs: list[str]) -> bytes:
        """The JSON body of the records for `inputs`; raises ModelFailure."""
        if not inputs:
            return b"[]"
        with self._model_lock:
            try:
                records = self.predict(list(inputs))
            except Exception:
                logger.exception("The model raised an error")
                raise ModelFailure()

        if not isinstance(records, list) or len(records) != len(inputs):
            count = len(records) if isinstance(records, list) else "no list of"
            logger.error(
                "The model broke its contract: %s records for %d inputs",
                count,
                len(inputs),
            )
            raise ModelFailure()
        if not all(isinstance(record, dict) for record in records):
            logger.error("The model broke its contract: a record is not a dict")
            raise ModelFailure()
        try:
            return json.dumps(_finite(records), allow_nan=False).encode()
        except (TypeError, ValueError):
            logger.exception("The model returned values JSON cannot carry")
            raise ModelFailure()

    def submit(self, inputs: list[str]) -> Job | None:
        """Queue a background job; None when too many are waiting already."""
        with self._jobs_lock:
            pending = sum(1 for job in self._jobs.values() if job.status == PENDING)
            if pending >= self.max_pending_jobs:
                return None
            job = Job(id=uuid.uuid4().hex, inputs=list(inputs))
            self._jobs[job.id] = job
        self._executor.submit(self._run_job, job)
        return job

    def job(self, job_id: str) -> Job | None:
        with self._jobs_lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _run_job(self, job: Job) -> None:
        try:
            body = self.run(job.inputs)
        except ModelFailure:
            status, body = FAILED, None
        except Exception:
            logger.exception("The job failed unexpectedly")
            status, body = FAILED, None
        else:
            status = COMPLETED

        with self._jobs_lock:
            job.status, job.body, job.inputs = status, body, []
            self._forget_old_jobs()
        logger.info("Job %s %s", job.id, status)

    def _forget_old_jobs(self) -> None:
        finished = [job.id for job in self._jobs.values() if job.status != PENDING]
        for job_id in finished[: max(0, len(finished) - self.max_finished_jobs)]:
            del self._jobs[job_id]


def _finite(value: Any) -> Any:
    """`value` with NaN and infinities as None: JSON has no way to write them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def load_app(*, entrypoint: str, model_id: str, version: str = "") -> ModelApp:
    """Import `module:function` and wrap it; raises EntrypointError."""
    module_name, _, function_name = entrypoint.partition(":")
    if not module_name or not function_name:
        raise EntrypointError(
            f"--entrypoint {entrypoint!r} must look like package.module:function."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise EntrypointError(f"Cannot import {module_name}: {error}.")
    except Exception as error:
        raise EntrypointError(f"{module_name} failed while being imported.") from error
    predict = getattr(module, function_name, None)
    if not callable(predict):
        raise EntrypointError(f"{module_name} has no function named {function_name}.")

    return ModelApp(
        model_id=model_id,
        predict=predict,
        version=version or str(getattr(module, "VERSION", "")),
        output_columns=list(getattr(module, "OUTPUT_COLUMNS", [])),
        card=dict(getattr(module, "CARD", {})),
    )
