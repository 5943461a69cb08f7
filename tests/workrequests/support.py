"""Helpers for the work request tests: sign in, run a request, expected rows."""

from django.utils import timezone

from instances.models import ModelInstance
from tests.factories import ReadyInstanceFactory
from workrequests.models import WorkRequest
from workrequests.runner import work_request_run
from workrequests.services import lease_key


def run_on_ready_instance(
    work_request: WorkRequest, endpoint: str, *, version: str = ""
) -> ModelInstance:
    """Schedule `work_request` on a new ready instance at `endpoint` and run it."""
    instance = ReadyInstanceFactory(
        model=work_request.model, endpoint=endpoint, model_version=version
    )
    WorkRequest.objects.filter(pk=work_request.pk).update(
        status=WorkRequest.Status.SCHEDULING,
        instance=instance,
        scheduled_at=timezone.now(),
    )
    ModelInstance.objects.filter(pk=instance.pk).update(
        lease_key=lease_key(work_request)
    )
    work_request_run(work_request_id=work_request.pk)
    work_request.refresh_from_db()
    return instance


def described(value: str) -> dict:
    """The row `tests.callables.describe` gives `value` in a download."""
    if value == "bad":
        return {
            "input": value,
            "length": None,
            "upper": None,
            "error": "This input is bad.",
        }
    return {"input": value, "length": len(value), "upper": value.upper(), "error": None}


def sign_in(client, user) -> None:
    """Log `user` in to the test client.

    `UserFactory` sets the password without saving it, and a session whose
    password hash does not match the stored one is logged out at once.
    """
    user.save()
    client.force_login(user)
