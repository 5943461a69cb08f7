from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class PlatformConfig(AppConfig):
    """Wiring that belongs to the platform as a whole rather than to one app."""

    name = "config"
    label = "platform"
    verbose_name = "Platform"

    def ready(self) -> None:
        pre_migrate.connect(_create_database_schema, sender=self)
        post_migrate.connect(_install_schedule, sender=self)


def _create_database_schema(using: str, **kwargs: Any) -> None:
    # With DATABASE_SCHEMA set, every table lives in that PostgreSQL schema;
    # it has to exist before the first migration creates a table in it.
    from config.database import create_schema_if_missing

    create_schema_if_missing(using)


def _install_schedule(**kwargs: Any) -> None:
    from config.schedule import install_schedule

    install_schedule()
