"""Reads of work requests, always scoped to who is asking."""

from django.db.models import QuerySet

from accounts.identity import Owner
from workrequests.models import WorkRequest, WorkRequestInputs


def work_requests_visible_to(owner: Owner | None) -> QuerySet[WorkRequest]:
    """The requests `owner` may see: their own, and nobody else's."""
    if owner is None:
        return WorkRequest.objects.none()
    return WorkRequest.objects.filter(**owner.as_filter())


def work_request_inputs(work_request: WorkRequest) -> list[str]:
    return WorkRequestInputs.objects.get(work_request=work_request).inputs
