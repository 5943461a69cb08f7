"""Celery adapters for recommendation runs.

`run_recommendations` computes a run that the API has already claimed (so
the lock is held from the moment the user asked); `run_nightly` claims and
computes one itself, from the schedule in `config/schedule.py`. Neither
retries: a failed run is recorded on its row, and the next run starts fresh.
"""

from celery import shared_task

from recommendations import services


@shared_task(name="recommendations.tasks.run_recommendations")
def run_recommendations(run_id: int) -> str | None:
    run = services.run_execute(run_id=run_id)
    return run.state if run else None


@shared_task(name="recommendations.tasks.run_nightly")
def run_nightly() -> str | None:
    run = services.recommendations_run_scheduled()
    return run.state if run else None
