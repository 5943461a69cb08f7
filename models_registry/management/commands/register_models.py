"""Write modelhub's built-in models into the model registry.

The built-in models (RDKit descriptors, ...) are defined in code, in
`models_registry/builtin/definitions.py`, but users, the dispatcher and the
admin only know models that have a row in the database. `make run` runs this
after `migrate`, so a fresh install can run them at once and an upgrade
brings their code-owned fields (entrypoint, output columns, execution mode)
up to date. Whatever operators changed in the admin (enabled, resources,
limits, timeouts, titles) is left as it is.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from models_registry.services import models_register_builtin


class Command(BaseCommand):
    help = "Create the built-in models that are missing and update their code."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would change without writing anything.",
        )

    def handle(self, *args: Any, dry_run: bool, verbosity: int, **options: Any) -> None:
        registration = models_register_builtin(dry_run=dry_run)
        if verbosity == 0:
            return

        would = "Would " if dry_run else ""
        for model_id in registration.created:
            verb = "create" if dry_run else "Created"
            self.stdout.write(self.style.SUCCESS(f"{would}{verb} model {model_id}."))
        for model_id, fields in registration.updated.items():
            verb = "update" if dry_run else "Updated"
            self.stdout.write(
                self.style.SUCCESS(
                    f"{would}{verb} model {model_id}: {', '.join(fields)}."
                )
            )
        if verbosity >= 2:
            for model_id in registration.unchanged:
                self.stdout.write(f"Model {model_id} is up to date.")
        if not registration.changed:
            self.stdout.write("Built-in models are up to date.")
