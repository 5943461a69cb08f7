"""Celery adapters for work requests."""

from celery import shared_task

from workrequests.purge import work_requests_purge
from workrequests.runner import work_request_run


@shared_task(name="workrequests.tasks.run_work_request")
def run_work_request(work_request_id: int) -> None:
    work_request_run(work_request_id=work_request_id)


@shared_task(name="workrequests.tasks.purge_expired_requests")
def purge_expired_requests() -> int:
    return work_requests_purge().requests
