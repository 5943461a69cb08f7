"""Writes for recommendations: starting runs and computing them.

A run is claimed (`run_start`) before it is computed (`run_execute`): the
claim is the row that holds the one-run-at-a-time lock, so a second claim
fails at once with the current state, wherever it comes from. A run of all
models is computed in a worker; a run of one model right away. Applying a
recommendation is in `recommendations.apply`.
"""

import logging
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from models_registry.models import Model
from models_registry.quantities import QuantityError, memory_mebibytes
from recommendations.conf import caps
from recommendations.engine import Caps, ProfileRule, Usage, recommend_model
from recommendations.errors import (
    RecommendationConflict,
    RecommendationError,
    RunInProgress,
)
from recommendations.models import ModelRecommendation, RecommendationRun
from recommendations.profiles import profile_rules_load
from recommendations.selectors import (
    ProfiledUsage,
    models_profiled,
    run_current,
    run_stale_before,
    usage_by_model,
)

logger = logging.getLogger(__name__)

Run = RecommendationRun
Status = ModelRecommendation.Status
MAX_LIMIT = 1000


@dataclass(frozen=True)
class RunParameters:
    """Which instances a run profiles: ended in [since, until), newest `limit`."""

    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def checked(self) -> "RunParameters":
        """These parameters with the default limit filled in, or an error."""
        limit = (
            settings.RECOMMENDATIONS_INSTANCE_LIMIT
            if self.limit is None
            else self.limit
        )
        minimum = settings.RECOMMENDATIONS_MIN_INSTANCES
        if not minimum <= limit <= MAX_LIMIT:
            raise RecommendationError(
                f"limit must be between {minimum} (the fewest instances a "
                f"recommendation needs) and {MAX_LIMIT}.",
                field="limit",
            )
        if self.since and self.until and self.since >= self.until:
            raise RecommendationError("since must be before until.", field="since")
        return RunParameters(since=self.since, until=self.until, limit=limit)


# --- Runs -----------------------------------------------------------------


def run_start(
    *,
    trigger: str,
    parameters: RunParameters,
    user: Any = None,
    model: Model | None = None,
) -> RecommendationRun:
    """Claim the run lock with a new run; RunInProgress when another holds it."""
    parameters = parameters.checked()
    assert parameters.limit is not None
    now = timezone.now()
    _runs_release_abandoned(now=now)
    try:
        with transaction.atomic():
            run = Run.objects.create(
                trigger=trigger,
                started_by=user if getattr(user, "is_authenticated", False) else None,
                scope=Run.Scope.MODEL if model else Run.Scope.ALL,
                model=model,
                since=parameters.since,
                until=parameters.until,
                limit=parameters.limit,
                state=Run.State.RUNNING,
                started_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        raise RunInProgress(run=run_current())
    logger.info(
        "Recommendation run started",
        extra={"run": run.pk, "scope": run.scope, "trigger": trigger},
    )
    return run


def _runs_release_abandoned(*, now: datetime) -> None:
    released = Run.objects.filter(
        state=Run.State.RUNNING, heartbeat_at__lt=run_stale_before(now=now)
    ).update(
        state=Run.State.FAILED,
        finished_at=now,
        error="Abandoned: no heartbeat within RECOMMENDATIONS_RUN_TIMEOUT "
        f"({settings.RECOMMENDATIONS_RUN_TIMEOUT} s); its worker probably stopped.",
    )
    if released:
        logger.warning(
            "Abandoned recommendation run released", extra={"runs": released}
        )


def run_execute(*, run_id: int) -> RecommendationRun | None:
    """Compute a claimed run and store its results; None if it is not running.

    Safe to call twice for one run (a redelivered task): only the first to
    finish stores results. A failure marks the run failed and is re-raised.
    """
    now = timezone.now()
    if not Run.objects.filter(pk=run_id, state=Run.State.RUNNING).update(
        heartbeat_at=now
    ):
        logger.info(
            "Recommendation run not running; nothing to do", extra={"run": run_id}
        )
        return None
    run = Run.objects.get(pk=run_id)

    try:
        results = _compute(run=run, computed_at=now)
        return _finish(run=run, results=results)
    except Exception as error:
        logger.exception("Recommendation run failed", extra={"run": run_id})
        _fail(run_id=run_id, error=f"{type(error).__name__}: {error}")
        raise


def _compute(
    *, run: RecommendationRun, computed_at: datetime
) -> list[ModelRecommendation]:
    rules, run.settings_updated_at = profile_rules_load()
    largest = caps()
    models = models_profiled().only("id", "k8s_resources").order_by("id")
    model_ids = None
    if run.scope == Run.Scope.MODEL:
        model_ids = [run.model_id] if run.model_id else []
        models = models.filter(pk__in=model_ids)
    usage = usage_by_model(
        model_ids=model_ids, since=run.since, until=run.until, limit=run.limit
    )
    return [
        _model_result(
            run=run,
            model=model,
            usage=usage.get(model.pk),
            rules=rules,
            largest=largest,
            computed_at=computed_at,
        )
        for model in models
    ]


def _model_result(
    *,
    run: RecommendationRun,
    model: Model,
    usage: ProfiledUsage | None,
    rules: dict[str, ProfileRule],
    largest: Caps,
    computed_at: datetime,
) -> ModelRecommendation:
    result = ModelRecommendation(
        run=run,
        model=model,
        is_latest=True,
        allocation=model.k8s_resources,
        computed_at=computed_at,
        instances=usage.instances if usage else 0,
        oom_killed_instances=len(usage.oom_limits) if usage else 0,
        first_ended_at=usage.first_ended_at if usage else None,
        last_ended_at=usage.last_ended_at if usage else None,
    )
    minimum = settings.RECOMMENDATIONS_MIN_INSTANCES
    if usage is None or usage.instances < minimum:
        result.status = Status.NOT_ENOUGH_DATA
        result.reason = (
            f"A recommendation needs at least {minimum} finished instances in the "
            f"window; this model has {result.instances}."
        )
        return result

    try:
        result.profiles = recommend_model(
            rules=rules,
            usage=Usage(
                cpu_min=usage.cpu_min,
                cpu_max=usage.cpu_max,
                memory_min=usage.memory_min,
                memory_max=usage.memory_max,
                oom_limit=_oom_limit(usage.oom_limits, model.k8s_resources),
            ),
            k8s_resources=model.k8s_resources,
            caps=largest,
        )
    except QuantityError as error:
        result.status = Status.INVALID_ALLOCATION
        result.reason = f"The model's resources cannot be read: {error}"
        return result
    result.status = Status.OK
    result.warnings = [
        warning
        for profile in result.profiles.values()
        for warning in profile["warnings"]
    ]
    return result


def _oom_limit(texts: tuple[str | None, ...], k8s_resources: Any) -> Fraction | None:
    """The largest memory limit (MiB) an instance was OOMKilled at.

    An OOMKilled instance that recorded no readable limit is taken to have
    run with the model's current one.
    """
    current = _mebibytes_or_none(k8s_resources.get("limits", {}).get("memory"))
    limits = [_mebibytes_or_none(text) or current for text in texts]
    known = [limit for limit in limits if limit is not None]
    return max(known) if known else None


def _mebibytes_or_none(text: Any) -> Fraction | None:
    try:
        return Fraction(memory_mebibytes(text))
    except QuantityError:
        return None


def _finish(
    *, run: RecommendationRun, results: list[ModelRecommendation]
) -> RecommendationRun | None:
    with transaction.atomic():
        locked = Run.objects.select_for_update().get(pk=run.pk)
        if locked.state != Run.State.RUNNING:
            logger.warning(
                "Recommendation run ended elsewhere; results dropped",
                extra={"run": run.pk, "state": locked.state},
            )
            return None
        ModelRecommendation.objects.filter(
            model_id__in=[result.model_id for result in results], is_latest=True
        ).update(is_latest=False)
        ModelRecommendation.objects.bulk_create(results)
        locked.state = Run.State.SUCCEEDED
        locked.finished_at = timezone.now()
        locked.models_profiled = len(results)
        locked.settings_updated_at = run.settings_updated_at
        locked.save(
            update_fields=[
                "state",
                "finished_at",
                "models_profiled",
                "settings_updated_at",
            ]
        )
    logger.info(
        "Recommendation run finished",
        extra={"run": run.pk, "models": len(results)},
    )
    return locked


def _fail(*, run_id: int, error: str) -> None:
    Run.objects.filter(pk=run_id, state=Run.State.RUNNING).update(
        state=Run.State.FAILED, finished_at=timezone.now(), error=error[:4000]
    )


def _enqueue(run_id: int) -> None:
    from recommendations.tasks import run_recommendations

    try:
        run_recommendations.delay(run_id)
    except Exception:
        logger.error("Recommendation run could not be queued", extra={"run": run_id})
        _fail(
            run_id=run_id, error="Could not be queued: the task broker did not answer."
        )


def recommendations_run_all(
    *, user: Any, parameters: RunParameters
) -> RecommendationRun:
    """Start a run of every enabled model; a worker computes it."""
    run = run_start(trigger=Run.Trigger.USER, user=user, parameters=parameters)
    transaction.on_commit(lambda: _enqueue(run.pk))
    return run


def recommendations_run_model(
    *, user: Any, model: Model, parameters: RunParameters
) -> ModelRecommendation:
    """Compute one model now and return its new recommendation."""
    if not model.enabled:
        raise RecommendationConflict(
            f"{model.pk} is disabled; only enabled models are profiled."
        )
    run = run_start(
        trigger=Run.Trigger.USER, user=user, model=model, parameters=parameters
    )
    run_execute(run_id=run.pk)
    result = ModelRecommendation.objects.filter(run=run, model=model).first()
    if result is None:
        raise RecommendationConflict(
            f"{model.pk} could not be profiled: it was disabled or the run was "
            "stopped while it ran. Try again."
        )
    return result


def recommendations_run_scheduled() -> RecommendationRun | None:
    """The nightly run of all models; skipped while another run is going on."""
    try:
        run = run_start(trigger=Run.Trigger.SCHEDULE, parameters=RunParameters())
    except RunInProgress:
        logger.info("Nightly recommendation run skipped: a run is going on")
        return None
    return run_execute(run_id=run.pk)
