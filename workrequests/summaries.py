"""What operators see of a request without its data: results and durations.

The admin, the admin API and the request page describe a request by these,
never by its inputs or results.
"""

from django.db.models import TextChoices

from workrequests.models import WorkRequest
from workrequests.stats import DURATIONS


class ResultStatus(TextChoices):
    AVAILABLE = "available", "Available"
    IN_PROGRESS = "in_progress", "In progress"
    NONE = "none", "None"


def result_status(work_request: WorkRequest) -> ResultStatus:
    """Whether results can be downloaded: only a completed request has them."""
    if work_request.status == WorkRequest.Status.COMPLETED:
        return ResultStatus.AVAILABLE
    if work_request.is_active:
        return ResultStatus.IN_PROGRESS
    return ResultStatus.NONE


def durations(work_request: WorkRequest) -> dict[str, float | None]:
    """Seconds of each step the request went through; None for a step not run.

    The same definitions as the Stats page (see `workrequests.stats`).
    """
    seconds: dict[str, float | None] = {}
    for name, (_, start_field, end_field) in DURATIONS.items():
        start = getattr(work_request, start_field)
        end = getattr(work_request, end_field)
        if start is None or end is None:
            seconds[name] = None
            continue
        value = (end - start).total_seconds()
        if name == "instance_start":
            value = max(value, 0.0)
        seconds[name] = round(value, 3)
    return seconds
