from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from config.errors import DomainError
from workrequests.models import WorkRequest
from workrequests.services import work_request_cancel


@admin.register(WorkRequest)
class WorkRequestAdmin(admin.ModelAdmin):
    """Every request, for operators. Inputs and results are never shown here."""

    list_display = (
        "id",
        "model",
        "user",
        "anonymous",
        "status",
        "reason",
        "input_count",
        "done_count",
        "submitted_at",
        "finished_at",
    )
    list_filter = ("status", "model")
    list_select_related = ("model", "user")
    search_fields = ("=id", "user__username")
    date_hierarchy = "submitted_at"
    show_full_result_count = False
    actions = ["cancel_requests"]
    readonly_fields = [field.name for field in WorkRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

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
