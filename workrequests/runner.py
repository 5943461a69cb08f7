"""Running a scheduled request on its instance, chunk by chunk.

The run task calls `work_request_run` once the dispatcher has given a
request a ready instance. Each chunk's results are stored as they arrive, so
the progress bar moves and a run cut short resumes where it stopped; the
request then ends through the services in `workrequests.services`.
"""

import logging
import math
import time
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from instances.client import ModelCallError, ModelClient, ModelTimedOut
from instances.models import InstanceEvent, ModelInstance
from instances.services import instance_record_event, instance_stop
from models_registry.models import Model
from workrequests.models import ResultChunk, WorkRequest, WorkRequestInputs
from workrequests.results import done_positions
from workrequests.services import (
    lease_key,
    work_request_complete,
    work_request_fail,
    work_request_lost_instance,
)

logger = logging.getLogger(__name__)

Status = WorkRequest.Status


def work_request_run(*, work_request_id: int) -> None:
    """Run a scheduled request on its ready instance, chunk by chunk.

    Does nothing unless the request is SCHEDULING on a READY instance, so
    running it twice at once, or late, is harmless. Inputs that already have
    results (from the cache, or from an attempt cut short) are not sent again.
    """
    work_request = (
        WorkRequest.objects.select_related("model", "instance")
        .filter(pk=work_request_id)
        .first()
    )
    if work_request is None or work_request.status != Status.SCHEDULING:
        return
    instance = work_request.instance
    if instance is None or instance.state != ModelInstance.State.READY:
        return

    model = work_request.model
    now = timezone.now()
    deadline = now + timedelta(seconds=model.job_timeout)
    started = WorkRequest.objects.filter(
        pk=work_request.pk, status=Status.SCHEDULING, instance=instance
    ).update(
        status=Status.PROCESSING,
        processing_at=now,
        instance_ready_at=max(
            instance.ready_at or now, work_request.scheduled_at or now
        ),
        heartbeat_at=now,
        deadline_at=deadline,
    )
    if not started:
        return
    work_request.refresh_from_db()
    _drop_other_version_hits(work_request, instance)

    inputs = WorkRequestInputs.objects.get(work_request=work_request).inputs
    done = done_positions(work_request)
    pending = [position for position in range(len(inputs)) if position not in done]
    instance_record_event(
        instance=instance,
        kind=InstanceEvent.Kind.JOB_SUBMITTED,
        correlation=lease_key(work_request),
        details={"inputs": len(pending)},
    )

    run_started = time.monotonic()
    try:
        _run_chunks(work_request, instance, inputs, pending, deadline)
    except ModelCallError as error:
        _fail_job(work_request, instance, error)
        return
    except Exception:
        # Whatever went wrong on our side, the request must not stay
        # PROCESSING until its deadline: it fails now and the instance is
        # given back.
        logger.exception(
            "Work request run failed", extra={"work_request": work_request.pk}
        )
        work_request_fail(
            work_request=work_request,
            reason="The hub could not finish this request (an internal error).",
        )
        return

    instance_record_event(
        instance=instance,
        kind=InstanceEvent.Kind.JOB_COMPLETED,
        correlation=lease_key(work_request),
        details={
            "inputs": len(pending),
            "seconds": round(time.monotonic() - run_started, 3),
        },
    )
    work_request_complete(work_request=work_request)


def _drop_other_version_hits(
    work_request: WorkRequest, instance: ModelInstance
) -> None:
    """Compute again the inputs answered from another version's cache.

    The cache was read under the version the model had at submission; when
    the instance reports another one, those answers are dropped so that a
    request's results all come from the version it records.
    """
    reported = instance.model_version
    if not work_request.cached_count or reported in ("", work_request.model_version):
        return

    with transaction.atomic():
        ResultChunk.objects.filter(
            work_request=work_request, source=ResultChunk.Source.CACHE
        ).delete()
        WorkRequest.objects.filter(pk=work_request.pk).update(
            done_count=F("done_count") - F("cached_count"), cached_count=0
        )
    work_request.refresh_from_db()
    logger.info(
        "Cached results of another model version dropped",
        extra={"work_request": work_request.pk, "version": reported},
    )


def _run_chunks(
    work_request: WorkRequest,
    instance: ModelInstance,
    inputs: list[str],
    pending: list[int],
    deadline: datetime,
) -> None:
    model = work_request.model
    size = settings.WORK_REQUEST_CHUNK_SIZE
    with ModelClient(instance.endpoint, timeout=settings.MODEL_HTTP_TIMEOUT) as client:
        for start in range(0, len(pending), size):
            positions = pending[start : start + size]
            started = time.monotonic()
            records = _call_with_retries(
                client, model, instance, [inputs[p] for p in positions], deadline
            )
            duration_ms = round((time.monotonic() - started) * 1000)
            if not _store_chunk(work_request, positions, records, duration_ms):
                return


def _call_with_retries(
    client: ModelClient,
    model: Model,
    instance: ModelInstance,
    chunk: list[str],
    deadline: datetime,
) -> list[dict[str, Any]]:
    attempt = 0
    while True:
        remaining = (deadline - timezone.now()).total_seconds()
        if remaining <= 0:
            raise ModelTimedOut(f"The job did not finish within {model.job_timeout} s.")
        try:
            if model.execution_mode == Model.ExecutionMode.ASYNC:
                return client.run_job(
                    chunk,
                    timeout=remaining,
                    poll_interval=settings.MODEL_ASYNC_POLL_INTERVAL,
                )
            return client.run(chunk, timeout=remaining)
        except ModelCallError as error:
            attempt += 1
            if not error.transient or attempt > settings.WORK_REQUEST_CHUNK_RETRIES:
                raise
            instance.refresh_from_db(fields=["state"])
            if instance.state != ModelInstance.State.READY:
                raise
            time.sleep(min(2.0, 0.25 * 2**attempt))


def _store_chunk(
    work_request: WorkRequest,
    positions: list[int],
    records: list[dict[str, Any]],
    duration_ms: int,
) -> bool:
    """Keep a chunk's results; False when the request stopped processing."""
    with transaction.atomic():
        advanced = WorkRequest.objects.filter(
            pk=work_request.pk, status=Status.PROCESSING
        ).update(
            done_count=F("done_count") + len(positions), heartbeat_at=timezone.now()
        )
        if not advanced:
            return False
        ResultChunk.objects.create(
            work_request=work_request,
            source=ResultChunk.Source.MODEL,
            positions=positions,
            records=[_storable(record) for record in records],
            duration_ms=duration_ms,
        )
    return True


def _storable(value: Any) -> Any:
    """`value` with every NaN and infinity, however deep, made empty.

    JSON has neither, and the database refuses a document that holds one.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_storable(item) for item in value]
    return value


def _fail_job(
    work_request: WorkRequest, instance: ModelInstance, error: ModelCallError
) -> None:
    instance.refresh_from_db()
    instance_record_event(
        instance=instance,
        kind=InstanceEvent.Kind.JOB_FAILED,
        message=str(error),
        correlation=lease_key(work_request),
    )
    if instance.state in ModelInstance.TERMINAL_STATES:
        work_request_lost_instance(work_request=work_request, instance=instance)
        return
    if isinstance(error, ModelTimedOut):
        instance_stop(instance=instance, message="The job ran past its deadline.")
    work_request_fail(work_request=work_request, reason=str(error))
