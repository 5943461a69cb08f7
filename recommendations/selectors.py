"""Reads for recommendations: usage per model, runs, the engine state.

Everything here is for the admin role; callers check the role first (the
API's permission class, the page's decorator).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from django.conf import settings
from django.db.models import (
    BooleanField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from instances.models import InstanceMetrics
from models_registry.models import Model
from recommendations.models import (
    EngineStateName,
    ModelRecommendation,
    Profile,
    RecommendationRun,
)

_MEBIBYTE = 2**20


@dataclass(frozen=True)
class EngineState:
    """`state`, the run going on (if any) and the last runs that ended."""

    state: str
    run: RecommendationRun | None
    last_run: RecommendationRun | None
    last_succeeded: RecommendationRun | None

    @property
    def last_run_at(self) -> datetime | None:
        """When the last successful run finished: the figures' age."""
        return self.last_succeeded.finished_at if self.last_succeeded else None


@dataclass(frozen=True)
class ProfiledUsage:
    """What one model's profiled instances used, from the aggregate query.

    CPU figures are millicores (rates), memory figures MiB. `oom_limits`
    holds, per OOMKilled instance, the memory limit it ran with as written
    in its allocation (None where it recorded none).
    """

    instances: int
    cpu_min: Fraction
    cpu_max: Fraction
    memory_min: Fraction
    memory_max: Fraction
    first_ended_at: datetime | None
    last_ended_at: datetime | None
    oom_limits: tuple[str | None, ...]


@dataclass(frozen=True)
class ModelEntry:
    """One model on the page and in the API, with its latest recommendation."""

    model: Model
    recommendation: ModelRecommendation | None
    outdated: bool

    @property
    def needs_attention(self) -> bool:
        if self.recommendation is None:
            return True
        return self.outdated or self.recommendation.needs_attention


def models_profiled() -> QuerySet[Model]:
    """The models a run covers: the enabled ones."""
    return Model.objects.filter(enabled=True)


def models_for_recommendations() -> QuerySet[Model]:
    """Every model an admin may ask about, enabled or not."""
    return Model.objects.all()


def _persisted_metrics(
    *,
    model_ids: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> QuerySet[InstanceMetrics]:
    # Only final rows: an instance still running has a partial summary, and
    # a model that was switched off is not profiled.
    metrics = InstanceMetrics.objects.filter(final=True, model__enabled=True)
    if model_ids is not None:
        metrics = metrics.filter(model_id__in=model_ids)
    if since is not None:
        metrics = metrics.filter(ended_at__gte=since)
    if until is not None:
        metrics = metrics.filter(ended_at__lt=until)
    return metrics


def _newest_per_model(
    metrics: QuerySet[InstanceMetrics], limit: int
) -> QuerySet[Any, Any]:
    """The ids of each model's `limit` newest rows, as one windowed subquery."""
    ranked = metrics.annotate(
        position=Window(
            RowNumber(),
            partition_by=[F("model_id")],
            order_by=[F("ended_at").desc(nulls_last=True), F("id").desc()],
        )
    )
    return ranked.filter(position__lte=limit).values("id")


def usage_by_model(
    *,
    model_ids: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int,
) -> dict[str, ProfiledUsage]:
    """Per model id, what its newest `limit` persisted instances used.

    Two queries whatever the number of models and instances: one aggregate
    over the windowed selection, one for the few OOMKilled rows in it.
    """
    newest = _newest_per_model(
        _persisted_metrics(model_ids=model_ids, since=since, until=until), limit
    )
    selected = InstanceMetrics.objects.filter(id__in=Subquery(newest))
    totals = (
        selected.values("model_id")
        .order_by("model_id")
        .annotate(
            instances=Count("id"),
            cpu_min_usage=Min("cpu_min"),
            cpu_max_usage=Max("cpu_max"),
            memory_min_usage=Min("memory_min"),
            memory_max_usage=Max("memory_max"),
            first_ended=Min("ended_at"),
            last_ended=Max("ended_at"),
        )
    )
    oom_limits: dict[str, list[str | None]] = {}
    for model_id, allocation in selected.filter(oom_killed=True).values_list(
        "model_id", "allocation"
    ):
        oom_limits.setdefault(model_id, []).append(_memory_limit_text(allocation))

    return {
        row["model_id"]: ProfiledUsage(
            instances=row["instances"],
            cpu_min=Fraction(row["cpu_min_usage"]),
            cpu_max=Fraction(row["cpu_max_usage"]),
            memory_min=Fraction(row["memory_min_usage"], _MEBIBYTE),
            memory_max=Fraction(row["memory_max_usage"], _MEBIBYTE),
            first_ended_at=row["first_ended"],
            last_ended_at=row["last_ended"],
            oom_limits=tuple(oom_limits.get(row["model_id"], ())),
        )
        for row in totals
    }


def _memory_limit_text(allocation: object) -> str | None:
    if not isinstance(allocation, dict):
        return None
    limits = allocation.get("limits")
    if not isinstance(limits, dict) or not isinstance(limits.get("memory"), str):
        return None
    text: str = limits["memory"]
    return text


def profiles_with_bands() -> list[Profile]:
    return list(Profile.objects.prefetch_related("bands"))


def _run_timeout() -> timedelta:
    return timedelta(seconds=settings.RECOMMENDATIONS_RUN_TIMEOUT)


def run_stale_before(*, now: datetime | None = None) -> datetime:
    """A running run whose heartbeat is older than this has been abandoned."""
    return (now or timezone.now()) - _run_timeout()


def run_current(*, now: datetime | None = None) -> RecommendationRun | None:
    """The run going on now, if any; an abandoned one does not count."""
    return (
        RecommendationRun.objects.filter(
            state=RecommendationRun.State.RUNNING,
            heartbeat_at__gte=run_stale_before(now=now),
        )
        .select_related("started_by", "model")
        .first()
    )


def run_last_finished(*, succeeded_only: bool = False) -> RecommendationRun | None:
    runs = RecommendationRun.objects.filter(state__in=RecommendationRun.FINISHED_STATES)
    if succeeded_only:
        runs = runs.filter(state=RecommendationRun.State.SUCCEEDED)
    return runs.select_related("started_by", "model").order_by("-finished_at").first()


def _outdated_expression() -> ExpressionWrapper:
    """Per model: its latest recommendation is missing or no longer holds.

    It no longer holds once the model's allocation changed or an instance's
    metrics became final after it was computed, or once a profile's settings
    changed after the run read them. Needs the annotations of `_with_latest`.
    """
    newer_metrics = InstanceMetrics.objects.filter(
        model_id=OuterRef("pk"), final=True, updated_at__gt=OuterRef("computed_at")
    )
    newer_settings = Profile.objects.filter(updated_at__gt=OuterRef("settings_at"))
    return ExpressionWrapper(
        Q(computed_at__isnull=True)
        | Q(
            resources_changed_at__isnull=False,
            resources_changed_at__gt=F("computed_at"),
        )
        | Exists(newer_metrics)
        | Exists(newer_settings),
        output_field=BooleanField(),
    )


def _with_latest(models: QuerySet[Model]) -> QuerySet[Model]:
    latest = ModelRecommendation.objects.filter(model_id=OuterRef("pk"), is_latest=True)
    return models.annotate(
        computed_at=Subquery(latest.values("computed_at")[:1]),
        settings_at=Subquery(latest.values("run__settings_updated_at")[:1]),
    )


def models_outdated_exist() -> bool:
    return (
        _with_latest(models_profiled())
        .annotate(outdated=_outdated_expression())
        .filter(outdated=True)
        .exists()
    )


def engine_state(*, now: datetime | None = None) -> EngineState:
    """Running, up to date or outdated, with the runs that say so."""
    run = run_current(now=now)
    last_run = run_last_finished()
    last_succeeded = (
        last_run
        if last_run is None or last_run.state == RecommendationRun.State.SUCCEEDED
        else run_last_finished(succeeded_only=True)
    )
    if run is not None:
        state = EngineStateName.RUNNING
    elif last_succeeded is None or models_outdated_exist():
        state = EngineStateName.OUTDATED
    else:
        state = EngineStateName.UP_TO_DATE
    return EngineState(
        state=state, run=run, last_run=last_run, last_succeeded=last_succeeded
    )


def model_entries(*, models: QuerySet[Model] | None = None) -> list[ModelEntry]:
    """Each model with its latest recommendation and whether that is outdated.

    Two queries however many models: the annotated models, and their latest
    recommendations with the runs that made them.
    """
    annotated = _with_latest(models if models is not None else models_profiled())
    rows = list(annotated.annotate(outdated=_outdated_expression()).order_by("id"))
    latest = {
        recommendation.model_id: recommendation
        for recommendation in ModelRecommendation.objects.filter(
            is_latest=True, model_id__in=[model.pk for model in rows]
        ).select_related("run")
    }
    return [
        ModelEntry(
            model=model, recommendation=latest.get(model.pk), outdated=model.outdated
        )
        for model in rows
    ]


def recommendation_latest(*, model: Model) -> ModelRecommendation | None:
    return ModelRecommendation.objects.filter(model=model, is_latest=True).first()
