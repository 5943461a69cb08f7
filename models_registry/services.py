"""Writes to the model registry."""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import DomainError
from models_registry.builtin.definitions import BUILTIN_MODELS, BuiltinModel
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
        locked.save(
            update_fields=["k8s_resources", "resources_changed_at", "updated_at"]
        )
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


def models_set_enabled(*, model_ids: Iterable[str], enabled: bool) -> list[str]:
    """Enable or disable models; return the ids whose state changed.

    A disabled model takes no new work requests and is hidden from users;
    requests already accepted still run.
    """
    changed = list(
        Model.objects.filter(pk__in=list(model_ids))
        .exclude(enabled=enabled)
        .values_list("pk", flat=True)
    )
    Model.objects.filter(pk__in=changed).update(
        enabled=enabled, updated_at=timezone.now()
    )
    for model_id in changed:
        logger.info(
            "Model enabled" if enabled else "Model disabled", extra={"model": model_id}
        )
    return changed


# What a registration brings up to date on an existing built-in model. The
# rest of the row (enabled, title, resources, limits, timeouts) is the
# operators' to change in the admin, and is only written when the row is new.
CODE_OWNED_FIELDS = ("entrypoint", "output_columns", "execution_mode")


@dataclass
class Registration:
    """What `models_register_builtin` did, or would do in a dry run."""

    created: list[str] = field(default_factory=list)
    updated: dict[str, list[str]] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


@transaction.atomic
def models_register_builtin(
    *, dry_run: bool = False, definitions: Iterable[BuiltinModel] = BUILTIN_MODELS
) -> Registration:
    """Create the built-in models that are missing; update their code-owned fields.

    Safe to run on every start: a second run changes nothing, and with
    `dry_run` nothing is written at all.
    """
    registration = Registration()
    for definition in definitions:
        model = Model.objects.select_for_update().filter(pk=definition.id).first()
        if model is None:
            if dry_run or _create_builtin(definition):
                registration.created.append(definition.id)
            else:
                registration.unchanged.append(definition.id)
            continue

        wanted = _code_owned_values(definition)
        changed = [
            name for name in CODE_OWNED_FIELDS if getattr(model, name) != wanted[name]
        ]
        if not changed:
            registration.unchanged.append(definition.id)
            continue
        registration.updated[definition.id] = changed
        if not dry_run:
            for name in changed:
                setattr(model, name, wanted[name])
            model.save(update_fields=[*changed, "updated_at"])
            logger.info(
                "Built-in model updated",
                extra={"model": definition.id, "fields": ",".join(changed)},
            )
    return registration


def _code_owned_values(definition: BuiltinModel) -> dict[str, Any]:
    return {
        "entrypoint": definition.entrypoint,
        "output_columns": list(definition.output_columns),
        "execution_mode": definition.execution_mode,
    }


def _create_builtin(definition: BuiltinModel) -> bool:
    """Create the row; False when another registration created it first."""
    model = Model(
        id=definition.id,
        title=definition.title,
        description=definition.description,
        image=definition.image,
        tag=definition.version,
        k8s_resources=definition.resources(),
        **_code_owned_values(definition),
    )
    # The definitions are code, but a mistake in one (a bad quantity, an id
    # the registry refuses) must stop here rather than reach the database.
    model.full_clean(validate_unique=False)
    try:
        with transaction.atomic():
            model.save(force_insert=True)
    except IntegrityError:
        return False
    logger.info("Built-in model created", extra={"model": definition.id})
    return True
