"""A recommendation run over 1,000 models x 100 persisted instances each.

Prints how long a full run takes (claim, aggregate, compute, store) and how
many SQL queries it makes, then the same count with only 100 of the models
enabled, to show that the count does not grow with models or instances, and
what building the API's overview of all models costs. Target: under 5 s.

The data set (models `bench-rec-0000` to `bench-rec-0999`, each with 100
finished instances and their final metrics) is bulk-inserted once into the
benchmark database and reused by later runs.
"""

import random
import statistics
import sys
import time
from datetime import timedelta

from common import report, setup_django

MODELS = 1000
PER_MODEL = 100
PREFIX = "bench-rec-"
SMALL = 100
REPEAT = 3
MIB = 2**20


def ensure_data() -> str:
    from django.db import transaction
    from django.utils import timezone

    from instances.models import InstanceMetrics, ModelInstance
    from models_registry.models import Model

    bench_models = Model.objects.filter(id__startswith=PREFIX)
    metrics = InstanceMetrics.objects.filter(model__id__startswith=PREFIX, final=True)
    if bench_models.count() == MODELS and metrics.count() == MODELS * PER_MODEL:
        bench_models.update(enabled=True)
        return "reused"

    rng = random.Random(5)
    now = timezone.now()
    resources = {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    }
    with transaction.atomic():
        InstanceMetrics.objects.filter(model__id__startswith=PREFIX).delete()
        ModelInstance.objects.filter(model__id__startswith=PREFIX).delete()
        bench_models.delete()
        models = Model.objects.bulk_create(
            Model(
                id=f"{PREFIX}{index:04d}",
                title=f"Benchmark model {index}",
                image="modelhub/bench",
                tag="1.0",
                k8s_resources=resources,
            )
            for index in range(MODELS)
        )
        for model in models:
            instances = ModelInstance.objects.bulk_create(
                ModelInstance(
                    model=model,
                    name=f"{model.id}-{number:03d}",
                    backend="local",
                    state=ModelInstance.State.STOPPED,
                    image="modelhub/bench:1.0",
                    allocation=resources,
                    requested_at=now - timedelta(hours=number + 1),
                    stopped_at=now - timedelta(hours=number),
                )
                for number in range(PER_MODEL)
            )
            InstanceMetrics.objects.bulk_create(
                _metrics(instance, rng, resources) for instance in instances
            )
    return "created"


def _metrics(instance, rng, resources):
    from decimal import Decimal

    from instances.models import InstanceMetrics

    cpu_max = rng.randint(100, 1500)
    memory_max = rng.randint(100, 1100)
    return InstanceMetrics(
        instance=instance,
        model_id=instance.model_id,
        allocation=resources,
        sample_count=600,
        cpu_min=Decimal(rng.randint(1, 90)),
        cpu_max=Decimal(cpu_max),
        cpu_mean=Decimal(cpu_max // 2),
        cpu_p95=Decimal(cpu_max),
        memory_min=rng.randint(50, 100) * MIB,
        memory_max=memory_max * MIB,
        memory_mean=memory_max * MIB // 2,
        memory_p95=memory_max * MIB,
        oom_killed=rng.random() < 0.02,
        final=True,
        started_at=instance.requested_at,
        ended_at=instance.stopped_at,
    )


def full_run() -> tuple[float, int, int]:
    """One run of every enabled model: seconds, queries and models profiled."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommendations.models import RecommendationRun
    from recommendations.services import RunParameters, run_execute, run_start

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        run = run_start(
            trigger=RecommendationRun.Trigger.SCHEDULE, parameters=RunParameters()
        )
        finished = run_execute(run_id=run.pk)
        elapsed = time.perf_counter() - started
    assert finished is not None and finished.state == RecommendationRun.State.SUCCEEDED
    return elapsed, len(queries), finished.models_profiled


def overview() -> tuple[float, int, int]:
    """Building GET /api/recommendations/'s body: seconds, queries, models."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from recommendations.api import entry_data
    from recommendations.selectors import engine_state, model_entries

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        engine_state()
        body = {entry.model.pk: entry_data(entry) for entry in model_entries()}
        elapsed = time.perf_counter() - started
    return elapsed, len(queries), len(body)


def main() -> int:
    setup_django()
    from models_registry.models import Model
    from recommendations.models import RecommendationRun

    started = time.perf_counter()
    data = ensure_data()
    prepared = time.perf_counter() - started
    others = Model.objects.filter(enabled=True).exclude(id__startswith=PREFIX).count()
    runs_before = set(RecommendationRun.objects.values_list("id", flat=True))

    try:
        full_run()  # warm up connections and caches
        timings = []
        for _ in range(REPEAT):
            elapsed, queries, profiled = full_run()
            timings.append(elapsed)
        seconds, queries_used, api_models = overview()

        bench_models = Model.objects.filter(id__startswith=PREFIX).order_by("id")
        small_ids = list(bench_models.values_list("id", flat=True)[:SMALL])
        bench_models.exclude(id__in=small_ids).update(enabled=False)
        _, small_queries, small_profiled = full_run()
    finally:
        Model.objects.filter(id__startswith=PREFIX).update(enabled=True)
        RecommendationRun.objects.exclude(id__in=runs_before).delete()

    report(
        "Recommendation run",
        [
            ("data set", f"{MODELS} models x {PER_MODEL} persisted instances ({data})"),
            ("other enabled models in the database", str(others)),
            ("preparing the data set", f"{prepared:.1f} s"),
            (
                f"full run, {profiled} models (median of {REPEAT})",
                f"{statistics.median(timings):.2f} s (best {min(timings):.2f} s)",
            ),
            (f"SQL queries, {profiled} models", str(queries)),
            (f"SQL queries, {small_profiled} models", str(small_queries)),
            (
                f"API overview of {api_models} models",
                f"{seconds:.2f} s, {queries_used} SQL queries",
            ),
            ("target", "under 5 s; queries independent of models and instances"),
        ],
    )
    return 0 if statistics.median(timings) < 5 else 1


if __name__ == "__main__":
    sys.exit(main())
