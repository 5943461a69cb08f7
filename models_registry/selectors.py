"""Reads of the model registry, scoped to who is asking."""

from typing import Any

from django.db.models import QuerySet

from accounts.roles import is_admin
from models_registry.models import Model


def models_visible_to(user: Any) -> QuerySet[Model]:
    """Every model for admins; for everyone else, the enabled ones only.

    A disabled model is one operators took out of service: users can neither
    run it nor see it.
    """
    models = Model.objects.order_by("id")
    if is_admin(user):
        return models
    return models.filter(enabled=True)
