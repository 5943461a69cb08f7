from django.conf import settings
from django.db import connection


def test_it_runs_on_postgresql_and_redis():
    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
