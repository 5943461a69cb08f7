"""Celery adapters for dispatching, reconciling and autoscaling.

Each task calls one service. The periodic ones are in `config/schedule.py`;
all are safe to run twice at once, since every claim is a row lock or a
conditional update.
"""

from celery import shared_task

from scaling import services


@shared_task(name="scaling.tasks.dispatch")
def dispatch() -> dict[str, int]:
    report = services.dispatch()
    return {"placed": len(report.placed), "runs": len(report.runs)}


@shared_task(name="scaling.tasks.reconcile")
def reconcile() -> dict[str, int]:
    report = services.reconcile()
    return {"requeued_or_failed": len(report.requeued_or_failed)}


@shared_task(name="scaling.tasks.autoscale_instances")
def autoscale_instances() -> dict[str, int]:
    report = services.autoscale_instances()
    return {"started": len(report.started), "stopped": len(report.stopped)}
