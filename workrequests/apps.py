from django.apps import AppConfig


class WorkRequestsConfig(AppConfig):
    name = "workrequests"
    verbose_name = "Work requests"

    def ready(self) -> None:
        from workrequests import receivers  # noqa: F401
