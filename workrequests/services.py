"""Writes to work requests: submit, cancel, complete, fail, queue again.

A request moves `QUEUED → SCHEDULING → PROCESSING → COMPLETED`, or ends
`FAILED` (with a reason written for the person who asked) or `CANCELLED`.
Every move is a conditional update from the status that was read, so two
processes acting on the same request at once cannot both win.
"""

import logging
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.identity import Owner
from accounts.models import AnonymousIdentity, User
from config.errors import ConflictError, DomainError
from instances.models import ModelInstance
from instances.services import instance_release
from models_registry.models import Model
from workrequests.cache import CacheHits, cache_lookup, cache_store_results
from workrequests.models import ResultChunk, WorkRequest, WorkRequestInputs
from workrequests.parsing import ParsedInputs, decode_upload, parse_list, parse_text

logger = logging.getLogger(__name__)

Status = WorkRequest.Status


class WorkRequestError(DomainError):
    pass


class WorkRequestConflict(ConflictError):
    pass


# --- Submission -----------------------------------------------------------


def model_for_submission(model_id: Any) -> Model:
    """The model a submission names, if it exists and is enabled."""
    if not isinstance(model_id, str) or not model_id:
        raise WorkRequestError("Choose a model.", field="model")
    model = Model.objects.filter(pk=model_id).first()
    if model is None:
        shown = model_id if len(model_id) <= 64 else model_id[:64] + "…"
        raise WorkRequestError(f"There is no model called {shown!r}.", field="model")
    if not model.enabled:
        raise WorkRequestError(
            f"The model {model_id!r} is not available at the moment.", field="model"
        )
    return model


def parse_submission(
    *,
    model: Model,
    inputs: list[object] | None = None,
    text: str | None = None,
    upload: bytes | None = None,
) -> ParsedInputs:
    """Read inputs from exactly one of a list, pasted text or a file's bytes."""
    given = [source for source in (inputs, text, upload) if source is not None]
    if len(given) != 1:
        raise WorkRequestError(
            "Give the inputs one way: a list, pasted text or a file.", field="inputs"
        )

    if inputs is not None:
        if not isinstance(inputs, list):
            raise WorkRequestError("Inputs must be a list of strings.", field="inputs")
        return parse_list(inputs, limit=model.input_limit)
    if upload is not None:
        check_upload_size(len(upload))
        decoded, error = decode_upload(upload)
        if error is not None:
            raise WorkRequestError(str(error), field="file")
        text = decoded
    assert text is not None
    return parse_text(text, limit=model.input_limit)


def check_upload_size(size: int) -> None:
    """Refuse a file over the limit; callers check before reading it."""
    if size > settings.INPUT_MAX_UPLOAD_BYTES:
        raise WorkRequestError(
            f"The file is larger than {settings.INPUT_MAX_UPLOAD_BYTES} bytes.",
            field="file",
        )


def work_request_submit(
    *,
    owner: Owner,
    model_id: Any,
    inputs: list[object] | None = None,
    text: str | None = None,
    upload: bytes | None = None,
    cache_opt_in: bool = False,
) -> WorkRequest:
    """Validate and queue a request; the dispatcher is woken once it is saved.

    Nothing is written unless every input is acceptable.
    """
    model = model_for_submission(model_id)
    parsed = parse_submission(model=model, inputs=inputs, text=text, upload=upload)
    if not parsed.is_valid:
        field = "file" if upload is not None else "inputs"
        raise WorkRequestError(parsed.error_summary(), field=field)
    if cache_opt_in and not owner.is_registered:
        raise WorkRequestError(
            "Only registered users can share their results with the cache.",
            field="cache_opt_in",
        )

    with transaction.atomic():
        version = model.cache_version
        hits = _cache_hits(model, version, parsed.inputs)
        complete = len(hits.positions) == len(parsed.inputs)
        now = timezone.now()
        work_request = WorkRequest.objects.create(
            **owner.as_filter(),
            model=model,
            input_count=len(parsed.inputs),
            cache_opt_in=cache_opt_in,
            model_version=version,
            cached_count=len(hits.positions),
            done_count=len(hits.positions),
            submitted_at=now,
            status=Status.COMPLETED if complete else Status.QUEUED,
            finished_at=now if complete else None,
        )
        WorkRequestInputs.objects.create(
            work_request=work_request, inputs=parsed.inputs
        )
        if hits.positions:
            ResultChunk.objects.create(
                work_request=work_request,
                source=ResultChunk.Source.CACHE,
                positions=hits.positions,
                records=hits.records,
            )
        if not complete:
            transaction.on_commit(_wake_dispatcher, robust=True)

    logger.info(
        "Work request completed from the cache"
        if complete
        else "Work request submitted",
        extra={
            "work_request": work_request.pk,
            "model": model.id,
            "inputs": len(parsed.inputs),
            "cached": len(hits.positions),
        },
    )
    return work_request


def _cache_hits(model: Model, version: str, inputs: list[str]) -> CacheHits:
    if not model.cache_enabled:
        return CacheHits(positions=[], records=[])
    return cache_lookup(model=model, version=version, inputs=inputs)


def _wake_dispatcher() -> None:
    current_app.send_task(settings.DISPATCH_TASK)


def work_request_cancel(*, work_request: WorkRequest) -> WorkRequest:
    """Cancel a request that has not ended; its instance is given back."""
    now = timezone.now()
    cancelled = WorkRequest.objects.filter(
        pk=work_request.pk, status__in=WorkRequest.ACTIVE_STATUSES
    ).update(status=Status.CANCELLED, reason="Cancelled by its owner.", finished_at=now)
    work_request.refresh_from_db()
    if not cancelled:
        raise WorkRequestConflict(
            f"This request has already ended ({work_request.get_status_display()})."
        )

    if work_request.instance_id:
        _give_back_instance(work_request, ran_job=False)
    logger.info("Work request cancelled", extra={"work_request": work_request.pk})
    return work_request


# --- Ending ---------------------------------------------------------------


def lease_key(work_request: WorkRequest) -> str:
    return f"work-request:{work_request.pk}"


def work_request_complete(*, work_request: WorkRequest) -> bool:
    """Mark a request whose every input has a result COMPLETED."""
    now = timezone.now()
    version = work_request.model_version
    if work_request.instance_id:
        instance = ModelInstance.objects.get(pk=work_request.instance_id)
        version = instance.model_version or version
    completed = WorkRequest.objects.filter(
        pk=work_request.pk, status__in=WorkRequest.ACTIVE_STATUSES
    ).update(
        status=Status.COMPLETED,
        done_count=F("input_count"),
        finished_at=now,
        deadline_at=None,
        model_version=version,
        reason="",
    )
    work_request.refresh_from_db()
    if work_request.instance_id:
        _give_back_instance(work_request, ran_job=True)
    if completed:
        logger.info("Work request completed", extra={"work_request": work_request.pk})
        _share_with_cache(work_request, version)
    return bool(completed)


def _share_with_cache(work_request: WorkRequest, version: str) -> None:
    """Cache an opted-in request's computed results; never fails the request.

    The results are already stored for their owner, so a failed write to the
    cache only costs later requests a cache hit.
    """
    if not work_request.cache_opt_in or not work_request.model.cache_enabled:
        return
    inputs = WorkRequestInputs.objects.get(work_request=work_request).inputs
    try:
        with transaction.atomic():
            stored = cache_store_results(
                work_request=work_request, inputs=inputs, version=version
            )
    except DatabaseError:
        logger.warning(
            "Results not written to the cache",
            extra={"work_request": work_request.pk},
            exc_info=True,
        )
        return
    logger.info(
        "Results written to the cache",
        extra={"work_request": work_request.pk, "results": stored},
    )


def work_request_fail(*, work_request: WorkRequest, reason: str) -> bool:
    failed = WorkRequest.objects.filter(
        pk=work_request.pk, status__in=WorkRequest.ACTIVE_STATUSES
    ).update(
        status=Status.FAILED,
        reason=reason,
        finished_at=timezone.now(),
        deadline_at=None,
    )
    work_request.refresh_from_db()
    if work_request.instance_id:
        _give_back_instance(work_request, ran_job=False)
    if failed:
        logger.info("Work request failed", extra={"work_request": work_request.pk})
    return bool(failed)


def work_request_lost_instance(
    *, work_request: WorkRequest, instance: ModelInstance
) -> None:
    """Move on a request whose instance ended under it.

    It is queued again when another instance may well succeed; it fails at
    once when the model itself is the problem (it ran out of memory, or its
    instance died before ever becoming ready), since a new instance with the
    same resources would end the same way.
    """
    work_request_requeue_or_fail(
        work_request=work_request,
        reason=instance_loss_reason(instance),
        retry=_worth_another_instance(instance),
    )


def _worth_another_instance(instance: ModelInstance) -> bool:
    reasons = ModelInstance.TerminationReason
    never_ready = instance.ready_at is None
    hopeless = instance.termination_reason in (
        reasons.OOM_KILLED,
        reasons.FAILED_TO_START,
    ) or (instance.termination_reason == reasons.CRASHED and never_ready)
    return not hopeless


def work_request_requeue_or_fail(
    *, work_request: WorkRequest, reason: str, retry: bool = True
) -> None:
    """Queue a request again after losing its instance, a bounded number of times.

    Results already stored are kept: the next attempt only sends the inputs
    that have none.
    """
    if not retry or work_request.attempts >= settings.WORK_REQUEST_RETRIES:
        work_request_fail(work_request=work_request, reason=reason)
        return

    previous = work_request.instance_id
    requeued = WorkRequest.objects.filter(
        pk=work_request.pk, status__in=(Status.SCHEDULING, Status.PROCESSING)
    ).update(
        status=Status.QUEUED,
        reason=f"Queued again: {reason}",
        attempts=F("attempts") + 1,
        instance=None,
        deadline_at=None,
        heartbeat_at=None,
    )
    if requeued and previous:
        instance_release(
            instance_id=previous, lease_key=lease_key(work_request), ran_job=False
        )
    work_request.refresh_from_db()
    if requeued:
        logger.info(
            "Work request queued again", extra={"work_request": work_request.pk}
        )
        transaction.on_commit(_wake_dispatcher, robust=True)


def _give_back_instance(work_request: WorkRequest, *, ran_job: bool) -> None:
    assert work_request.instance_id is not None
    instance_release(
        instance_id=work_request.instance_id,
        lease_key=lease_key(work_request),
        ran_job=ran_job,
    )


def instance_loss_reason(instance: ModelInstance) -> str:
    """Why a request lost its instance, in words for the person who asked."""
    reasons = ModelInstance.TerminationReason
    if instance.termination_reason == reasons.OOM_KILLED:
        limit = instance.allocation.get("limits", {}).get("memory", "?")
        return f"The model ran out of memory (its limit is {limit})."
    if instance.termination_reason == reasons.READY_TIMEOUT:
        return (
            "The model instance did not become ready within "
            f"{instance.model.ready_timeout} s."
        )
    if instance.termination_reason == reasons.SCHEDULE_TIMEOUT:
        timeout = instance.model.schedule_timeout
        return f"No model instance could be started within {timeout} s."
    if instance.termination_reason == reasons.FAILED_TO_START or (
        instance.termination_reason == reasons.CRASHED and instance.ready_at is None
    ):
        return "The model could not be started."
    if instance.termination_reason in (
        reasons.REQUESTED,
        reasons.IDLE,
        reasons.AGENT_SHUTDOWN,
    ):
        return "The model instance was stopped."
    return "The model instance stopped unexpectedly."


# --- Ownership ------------------------------------------------------------


def work_requests_move_to_user(*, identity: AnonymousIdentity, user: User) -> int:
    """Give every request of an anonymous identity to the account that claimed it.

    One UPDATE, so the owner switches in a single step: a request is never
    without an owner or with two, whatever state it is in.
    """
    moved = WorkRequest.objects.filter(anonymous=identity).update(
        anonymous=None, user=user
    )
    logger.info(
        "Work requests moved to account",
        extra={"identity": str(identity.pk), "user": user.pk, "moved": moved},
    )
    return moved
