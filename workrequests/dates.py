"""Days that people filter requests by, and the instants they stand for.

Every filter by date (the user API and page, the admin API and changelist,
the stats page) reads its dates with `FilterDateField` or
`FilterDateFilter`, which refuse dates so far off that turning them into a
range of instants would overflow, and narrows with `submitted_between`.
"""

from datetime import date, datetime, time, timedelta

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from workrequests.models import WorkRequest

EARLIEST = date(1900, 1, 1)
LATEST = date(9000, 12, 31)


def validate_filter_date(value: date) -> None:
    if not EARLIEST <= value <= LATEST:
        raise ValidationError(
            f"Choose a date between {EARLIEST.year} and {LATEST.year}.",
            code="out_of_range",
        )


class FilterDateField(forms.DateField):
    default_validators = [validate_filter_date]


class FilterDateFilter(django_filters.DateFilter):
    field_class = FilterDateField


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the site's time zone."""
    return timezone.make_aware(
        datetime.combine(day, time.min), timezone.get_current_timezone()
    )


def submitted_between(
    requests: QuerySet[WorkRequest], date_from: date | None, date_to: date | None
) -> QuerySet[WorkRequest]:
    """Requests submitted on the days given, both included.

    Compared as a range of instants, not by the date of each row, so the
    index on `submitted_at` answers it.
    """
    if date_from is not None:
        requests = requests.filter(submitted_at__gte=day_start(date_from))
    if date_to is not None:
        requests = requests.filter(
            submitted_at__lt=day_start(date_to + timedelta(days=1))
        )
    return requests
