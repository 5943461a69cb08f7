from django.apps import AppConfig


class WorkRequestsConfig(AppConfig):
    name = "workrequests"
    verbose_name = "Work requests"
