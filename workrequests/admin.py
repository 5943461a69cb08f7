"""Every work request, for the admin role: an operations console.

It shows what operators need to follow a request (owner ids, model, status,
reason, counts, durations) and never its inputs or results. The changelist
stays fast on tables of millions of rows: no join (ids stand for the user,
the anonymous identity and the model), no full count, no facet counts, a
count capped at `CappedCountPaginator.cap`, and filters that each match an
index on `(column, submitted_at)`.
"""

import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any, cast

from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import cached_property

from accounts.roles import is_admin
from config.errors import DomainError
from workrequests.dates import EARLIEST, LATEST, submitted_between
from workrequests.models import WorkRequest
from workrequests.selectors import work_requests_of_everyone
from workrequests.services import work_request_cancel
from workrequests.summaries import durations, result_status


class CappedCountPaginator(Paginator):
    """Counts no further than `cap` rows, so no page counts the whole table.

    Past the cap the changelist says "more than" and offers the first pages
    only; filters narrow a list that long to what an operator looks for.
    """

    cap = 10_000

    @cached_property
    def count(self) -> int:
        requests = cast(QuerySet[WorkRequest], self.object_list)
        return requests.order_by().values("pk")[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap


class TypedInputFilter(admin.SimpleListFilter):
    """A filter typed into a box rather than chosen from a list."""

    template = "admin/workrequests/input_filter.html"
    input_type = "text"
    error = "This value is not valid."

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[Any]:
        return []

    def has_output(self) -> bool:
        return True

    def choices(self, changelist: Any) -> Iterator[Any]:
        yield {
            "parameter": self.parameter_name,
            "value": self.value() or "",
            "input_type": self.input_type,
            "others": [
                (name, value)
                for name, value in changelist.params.items()
                if name != self.parameter_name
            ],
            "clear_url": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def parse(self, value: str) -> Any:
        raise NotImplementedError

    def narrow(self, queryset: QuerySet[WorkRequest], value: Any) -> QuerySet[Any]:
        raise NotImplementedError

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[WorkRequest]
    ) -> QuerySet[WorkRequest]:
        raw = (self.value() or "").strip()
        if not raw:
            return queryset
        try:
            value = self.parse(raw)
        except ValueError:
            messages.error(request, f"{str(self.title).capitalize()}: {self.error}")
            return queryset.none()
        return self.narrow(queryset, value)


class UserIdFilter(TypedInputFilter):
    title = "user id"
    parameter_name = "user_id"
    error = "give a user's number, such as 42."

    def parse(self, value: str) -> int:
        number = int(value)
        if not 1 <= number < 2**63:
            raise ValueError(value)
        return number

    def narrow(self, queryset: QuerySet[WorkRequest], value: Any) -> QuerySet[Any]:
        return queryset.filter(user_id=value)


class AnonymousIdFilter(TypedInputFilter):
    title = "anonymous identity id"
    parameter_name = "anonymous_id"
    error = "give the identity's UUID, such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427."

    def parse(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def narrow(self, queryset: QuerySet[WorkRequest], value: Any) -> QuerySet[Any]:
        return queryset.filter(anonymous_id=value)


class DateFromFilter(TypedInputFilter):
    title = "date from"
    parameter_name = "date_from"
    input_type = "date"
    error = f"give a date as YYYY-MM-DD, between {EARLIEST.year} and {LATEST.year}."

    def parse(self, value: str) -> date:
        day = date.fromisoformat(value)
        if not EARLIEST <= day <= LATEST:
            raise ValueError(value)
        return day

    def narrow(self, queryset: QuerySet[WorkRequest], value: Any) -> QuerySet[Any]:
        return submitted_between(queryset, value, None)


class DateToFilter(DateFromFilter):
    title = "date to"
    parameter_name = "date_to"

    def narrow(self, queryset: QuerySet[WorkRequest], value: Any) -> QuerySet[Any]:
        return submitted_between(queryset, None, value)


@admin.register(WorkRequest)
class WorkRequestAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "model_column",
        "user_column",
        "anonymous_column",
        "status",
        "short_reason",
        "submitted_at",
        "input_count",
        "results",
        "queue_wait",
        "instance_start",
        "run_time",
        "total_time",
    )
    list_display_links = ("id",)
    list_filter = (
        UserIdFilter,
        AnonymousIdFilter,
        "model",
        DateFromFilter,
        DateToFilter,
        "status",
    )
    list_select_related = False
    list_per_page = 100
    ordering = ("-submitted_at", "-id")
    # Other orders would sort the whole table for each page.
    sortable_by = ("id", "submitted_at")
    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = ["cancel_requests"]
    readonly_fields = [field.name for field in WorkRequest._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WorkRequest]:
        return work_requests_of_everyone(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Requests go with the retention purge, or with their owner's account.
        return False

    @admin.display(description="model")
    def model_column(self, work_request: WorkRequest) -> str:
        return work_request.model_id

    @admin.display(description="user id")
    def user_column(self, work_request: WorkRequest) -> int | None:
        return work_request.user_id

    @admin.display(description="anonymous identity id")
    def anonymous_column(self, work_request: WorkRequest) -> Any:
        return work_request.anonymous_id

    @admin.display(description="reason")
    def short_reason(self, work_request: WorkRequest) -> str:
        reason = work_request.reason
        return reason if len(reason) <= 80 else f"{reason[:79]}…"

    @admin.display(description="results")
    def results(self, work_request: WorkRequest) -> str:
        label = result_status(work_request).label
        done = f"{work_request.done_count}/{work_request.input_count} done"
        if work_request.cached_count:
            done += f", {work_request.cached_count} cached"
        return f"{label} ({done})"

    @admin.display(description="queue wait (s)")
    def queue_wait(self, work_request: WorkRequest) -> float | None:
        return durations(work_request)["queue_wait"]

    @admin.display(description="instance start (s)")
    def instance_start(self, work_request: WorkRequest) -> float | None:
        return durations(work_request)["instance_start"]

    @admin.display(description="run time (s)")
    def run_time(self, work_request: WorkRequest) -> float | None:
        return durations(work_request)["run_time"]

    @admin.display(description="total (s)")
    def total_time(self, work_request: WorkRequest) -> float | None:
        return durations(work_request)["total"]

    @admin.action(description="Cancel selected requests")
    def cancel_requests(
        self, request: HttpRequest, queryset: QuerySet[WorkRequest]
    ) -> None:
        cancelled = 0
        for work_request in queryset.filter(status__in=WorkRequest.ACTIVE_STATUSES):
            try:
                work_request_cancel(work_request=work_request)
            except DomainError:
                continue
            cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} requests.", messages.SUCCESS)
