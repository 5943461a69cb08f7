"""Reads of work requests, always scoped to who is asking."""

from typing import Any

from django.db.models import QuerySet

from accounts.identity import Owner
from accounts.roles import is_admin
from workrequests.models import WorkRequest, WorkRequestInputs


def work_requests_visible_to(owner: Owner | None) -> QuerySet[WorkRequest]:
    """The requests `owner` may see: their own, and nobody else's."""
    if owner is None:
        return WorkRequest.objects.none()
    return WorkRequest.objects.filter(**owner.as_filter())


def work_requests_of_everyone(user: Any) -> QuerySet[WorkRequest]:
    """Every owner's requests, for the admin role; none for anyone else."""
    if not is_admin(user):
        return WorkRequest.objects.none()
    return WorkRequest.objects.all()


def work_request_inputs(work_request: WorkRequest) -> list[str]:
    return WorkRequestInputs.objects.get(work_request=work_request).inputs
