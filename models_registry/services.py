"""Writes to the model registry."""

import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.errors import DomainError
from models_registry.models import Model
from models_registry.resources import validate_k8s_resources

logger = logging.getLogger(__name__)


class ModelRegistryError(DomainError):
    pass


@transaction.atomic
def model_set_resources(*, model: Model, k8s_resources: dict[str, Any]) -> Model:
    """Give `model` new resources; its next instance starts with them.

    Instances already running keep the allocation they started with.
    """
    try:
        validate_k8s_resources(k8s_resources)
    except ValidationError as error:
        raise ModelRegistryError(" ".join(error.messages), field="k8s_resources")

    locked = Model.objects.select_for_update().get(pk=model.pk)
    if locked.k8s_resources != k8s_resources:
        locked.k8s_resources = k8s_resources
        locked.resources_changed_at = timezone.now()
        locked.save(update_fields=["k8s_resources", "resources_changed_at", "updated_at"])
        logger.info("Model resources changed", extra={"model": model.id})
    model.refresh_from_db()
    return model


def model_report_version(*, model: Model, version: str) -> bool:
    """Record the version an instance reported; True when it changed.

    Results are cached per version, so a new version stops old cached results
    from answering new requests.
    """
    version = version.strip()[:128]
    if not version or version == model.version:
        return False
    Model.objects.filter(pk=model.pk).update(version=version, updated_at=timezone.now())
    model.version = version
    logger.info("Model version changed", extra={"model": model.id, "version": version})
    return True
