"""The periodic work of the platform, declared once.

Beat runs with django-celery-beat's database scheduler, so operators can
pause or retime any entry in the admin. `install_schedule` (run after every
`migrate`) only adds entries that are missing; it never overwrites an edit.
Every entry expires before its next run, so a backlog of ticks after an outage
collapses into one.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Every:
    seconds: int


@dataclass(frozen=True)
class Daily:
    hour: int
    minute: int = 0


@dataclass(frozen=True)
class Entry:
    name: str
    task: str
    when: Every | Daily


def schedule() -> list[Entry]:
    return [
        Entry(
            f"every-{settings.DISPATCH_TICK_SECONDS}s-dispatch-queued-requests",
            "scaling.tasks.dispatch",
            Every(settings.DISPATCH_TICK_SECONDS),
        ),
        Entry(
            f"every-{settings.RECONCILE_TICK_SECONDS}s-reconcile-work-requests",
            "scaling.tasks.reconcile",
            Every(settings.RECONCILE_TICK_SECONDS),
        ),
        Entry(
            f"every-{settings.AUTOSCALE_TICK_SECONDS}s-autoscale-instances",
            "scaling.tasks.autoscale_instances",
            Every(settings.AUTOSCALE_TICK_SECONDS),
        ),
        Entry(
            f"every-{settings.PURGE_TICK_SECONDS}s-purge-expired-work-requests",
            "workrequests.tasks.purge_expired_requests",
            Every(settings.PURGE_TICK_SECONDS),
        ),
        Entry(
            "daily-0200-recommendations",
            "recommendations.tasks.run_nightly",
            Daily(hour=2),
        ),
        Entry(
            "daily-0330-clear-expired-sessions-and-tokens",
            "accounts.tasks.clear_expired",
            Daily(hour=3, minute=30),
        ),
    ]


def install_schedule() -> list[str]:
    """Add the entries that are missing from the database; return their names."""
    from django_celery_beat.models import (
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
    )

    existing = set(PeriodicTask.objects.values_list("name", flat=True))
    added = []
    for entry in schedule():
        if entry.name in existing:
            continue

        if isinstance(entry.when, Every):
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=entry.when.seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.create(
                name=entry.name,
                task=entry.task,
                interval=interval,
                expire_seconds=max(1, entry.when.seconds - 1),
            )
        else:
            crontab, _ = CrontabSchedule.objects.get_or_create(
                minute=str(entry.when.minute),
                hour=str(entry.when.hour),
                day_of_week="*",
                day_of_month="*",
                month_of_year="*",
                timezone=settings.TIME_ZONE,
            )
            PeriodicTask.objects.create(
                name=entry.name,
                task=entry.task,
                crontab=crontab,
                expire_seconds=3600,
            )
        added.append(entry.name)
    return added
