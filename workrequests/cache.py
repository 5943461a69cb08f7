"""The per-input result cache: reuse what a model version already computed.

Read at submission for every request of a model whose cache is enabled,
whoever asks: the inputs found are stored as the request's `CACHE` chunk,
so the runner only sends the others, and a request answered in full never
needs an instance. Written after a successful job, only from requests whose
owner opted in to share their results (registered users only).

A result is cached under the model version that computed it, and looked up
under the model's current version (`Model.cache_version`), so a new version
starts with an empty cache. Rows that carry an `error` are not cached: an
error may come from a passing fault inside the model, and a cache would
serve it forever.
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Sum

from accounts.roles import is_admin
from config.errors import DomainError
from models_registry.models import Model
from workrequests.models import CachedResult, ResultChunk, WorkRequest

logger = logging.getLogger(__name__)


class ResultCacheError(DomainError):
    pass


class ResultCacheForbidden(ResultCacheError):
    http_status = 403


@dataclass(frozen=True)
class CacheHits:
    positions: list[int]
    records: list[dict[str, Any]]


@dataclass(frozen=True)
class CacheSummary:
    model_id: str
    enabled: bool
    version: str
    size: int
    size_current_version: int
    lookups: int
    hits: int

    @property
    def hit_rate(self) -> float | None:
        """Hits per input looked up, from 0 to 1; None before any lookup."""
        if not self.lookups:
            return None
        return self.hits / self.lookups

    @property
    def hit_percent(self) -> float | None:
        return None if self.hit_rate is None else self.hit_rate * 100


def input_hash(value: str) -> str:
    return hashlib.sha256(value.strip().encode()).hexdigest()


def cache_lookup(*, model: Model, version: str, inputs: list[str]) -> CacheHits:
    """Every position whose input is cached under `version`, in one query.

    Repeated inputs are answered at each of their positions.
    """
    hashes = [input_hash(value) for value in inputs]
    found = dict(
        CachedResult.objects.filter(
            model=model, model_version=version, input_hash__in=set(hashes)
        ).values_list("input_hash", "record")
    )
    positions = [position for position, key in enumerate(hashes) if key in found]
    return CacheHits(positions=positions, records=[found[hashes[p]] for p in positions])


def cache_store_results(
    *, work_request: WorkRequest, inputs: list[str], version: str
) -> int:
    """Cache what the model computed for an opted-in request; return how many.

    Inputs cached already (by this or any request) are left as they are.
    """
    if not work_request.cache_opt_in or not version:
        return 0

    rows: dict[str, CachedResult] = {}
    chunks = ResultChunk.objects.filter(
        work_request=work_request, source=ResultChunk.Source.MODEL
    ).values_list("positions", "records")
    for positions, records in chunks:
        for position, record in zip(positions, records, strict=True):
            if record.get("error"):
                continue
            key = input_hash(inputs[position])
            rows.setdefault(
                key,
                CachedResult(
                    model_id=work_request.model_id,
                    model_version=version,
                    input_hash=key,
                    record=record,
                    contributor_id=work_request.user_id,
                ),
            )
    CachedResult.objects.bulk_create(
        rows.values(), ignore_conflicts=True, batch_size=1000
    )
    return len(rows)


def cache_clear(*, model: Model, actor: Any) -> int:
    """Delete every cached result of `model`, of every version. Admins only."""
    if not is_admin(actor):
        raise ResultCacheForbidden("Only admins can clear a model's result cache.")

    deleted, _ = CachedResult.objects.filter(model=model).delete()
    logger.info(
        "Result cache cleared",
        extra={"model": model.pk, "deleted": deleted, "actor": actor.pk},
    )
    return deleted


def cache_summaries(*, models: list[Model]) -> list[CacheSummary]:
    """Size and hit rate of each model's cache.

    The hit rate counts, over all the model's requests still kept, the inputs
    answered from the cache against all inputs submitted.
    """
    ids = [model.pk for model in models]
    sizes: dict[tuple[str, str], int] = {
        (row["model"], row["model_version"]): row["rows"]
        for row in CachedResult.objects.filter(model__in=ids)
        .values("model", "model_version")
        .annotate(rows=Count("id"))
        .order_by()
    }
    usage = {
        row["model"]: row
        for row in WorkRequest.objects.filter(model__in=ids)
        .values("model")
        .annotate(lookups=Sum("input_count"), hits=Sum("cached_count"))
        .order_by()
    }

    summaries = []
    for model in models:
        version = model.cache_version
        used = usage.get(model.pk, {})
        summaries.append(
            CacheSummary(
                model_id=model.pk,
                enabled=model.cache_enabled,
                version=version,
                size=sum(n for (mid, _), n in sizes.items() if mid == model.pk),
                size_current_version=sizes.get((model.pk, version), 0),
                lookups=used.get("lookups") or 0,
                hits=used.get("hits") or 0,
            )
        )
    return summaries
