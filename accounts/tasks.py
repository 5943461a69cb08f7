"""Celery adapters for accounts housekeeping."""

from celery import shared_task

from accounts import services


@shared_task(name="accounts.tasks.clear_expired")
def clear_expired() -> dict[str, int]:
    """Daily: Django's `clearsessions`, and expired API tokens."""
    cleared = services.accounts_clear_expired()
    return {"tokens": cleared.tokens}
