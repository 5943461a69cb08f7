"""The operations console for model instances.

Everything here is read-only: the controller is the only writer of an
instance's observed state, and an operator acts through the stop action,
which asks for the stop the same way the platform does.
"""

import json
import logging
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from instances.backends import get_backend
from instances.models import InstanceEvent, InstanceMetrics, ModelInstance
from instances.services import instance_stop

logger = logging.getLogger(__name__)

LOG_LINES = 100
MEBIBYTE = 2**20


def _pretty_json(value: Any) -> SafeString:
    text = json.dumps(value, indent=2, sort_keys=True, default=str)
    return format_html('<pre style="margin:0;white-space:pre-wrap">{}</pre>', text)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows only the system writes: they can be looked at, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class InstanceEventInline(admin.TabularInline):
    model = InstanceEvent
    fields = ("created_at", "kind", "message", "correlation", "details_pretty")
    readonly_fields = fields
    ordering = ("created_at", "id")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="details")
    def details_pretty(self, event: InstanceEvent) -> SafeString:
        return _pretty_json(event.details)


@admin.register(ModelInstance)
class ModelInstanceAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "model",
        "state",
        "desired_state",
        "termination_reason",
        "lease_key",
        "started_at",
        "ready_at",
        "stopped_at",
        "jobs_run",
    )
    list_filter = (
        "state",
        ("model", admin.RelatedOnlyFieldListFilter),
        "backend",
        "termination_reason",
    )
    list_select_related = ("model",)
    search_fields = ("name", "model__id", "lease_key")
    show_full_result_count = False
    date_hierarchy = "requested_at"
    inlines = (InstanceEventInline,)
    actions = ("stop_selected",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "model",
                    "backend",
                    "state",
                    "desired_state",
                    "termination_reason",
                    "reason",
                )
            },
        ),
        (
            "Running",
            {
                "fields": (
                    "image",
                    "model_version",
                    "endpoint",
                    "allocation_pretty",
                    "handle_pretty",
                )
            },
        ),
        ("Use", {"fields": ("lease_key", "leased_at", "jobs_run", "last_used_at")}),
        (
            "Timeline",
            {"fields": ("requested_at", "started_at", "ready_at", "stopped_at")},
        ),
        ("Usage", {"fields": ("metrics_summary",)}),
        ("Log", {"fields": ("recent_logs",)}),
    )
    readonly_fields = (
        "allocation_pretty",
        "handle_pretty",
        "metrics_summary",
        "recent_logs",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelInstance]:
        # The change page reads the metrics row of the instance it shows. The
        # model is named here too: the changelist applies
        # `list_select_related` only to a queryset that selects nothing yet.
        return super().get_queryset(request).select_related("model", "metrics")

    def has_stop_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("instances.change_modelinstance")

    @admin.action(description="Stop selected instances", permissions=["stop"])
    def stop_selected(
        self, request: HttpRequest, queryset: QuerySet[ModelInstance]
    ) -> None:
        stopped = 0
        for instance in queryset:
            if instance_stop(
                instance=instance,
                message=f"Stop requested from the admin by {request.user}.",
            ):
                stopped += 1
        skipped = len(queryset) - stopped
        if stopped:
            self.message_user(
                request, f"Asked {stopped} instance(s) to stop.", messages.SUCCESS
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} instance(s) were already stopping or ended, and were "
                "left as they are.",
                messages.WARNING,
            )

    @admin.display(description="allocation")
    def allocation_pretty(self, instance: ModelInstance) -> SafeString:
        return _pretty_json(instance.allocation)

    @admin.display(description="handle")
    def handle_pretty(self, instance: ModelInstance) -> SafeString:
        return _pretty_json(instance.handle)

    @admin.display(description="usage")
    def metrics_summary(self, instance: ModelInstance) -> str:
        try:
            metrics = instance.metrics
        except InstanceMetrics.DoesNotExist:
            return "No usage recorded yet."
        return _metrics_table(metrics)

    @admin.display(description=f"last {LOG_LINES} log lines")
    def recent_logs(self, instance: ModelInstance) -> str:
        if not instance.handle:
            return "No log: it was never started."
        try:
            backend = get_backend()
            if backend.name != instance.backend:
                return f"Its log is kept by the {instance.backend} backend."
            lines = backend.logs(instance.handle, tail=LOG_LINES)
        except Exception as error:
            # The page must show even when the log cannot be read.
            logger.warning(
                "Could not read an instance's log",
                extra={"instance": instance.name, "error": str(error)},
            )
            return "The log could not be read."
        if not lines:
            return "The log is empty."
        return format_html(
            '<pre style="max-height:40em;overflow:auto;white-space:pre-wrap">{}</pre>',
            "\n".join(lines),
        )


def _metrics_table(metrics: InstanceMetrics) -> SafeString:
    rows = [
        (
            "CPU (millicores)",
            f"{metrics.cpu_min:.0f}",
            f"{metrics.cpu_mean:.0f}",
            f"{metrics.cpu_p95:.0f}",
            f"{metrics.cpu_max:.0f}",
        ),
        (
            "Memory (MiB)",
            *(
                f"{value / MEBIBYTE:.1f}"
                for value in (
                    metrics.memory_min,
                    metrics.memory_mean,
                    metrics.memory_p95,
                    metrics.memory_max,
                )
            ),
        ),
    ]
    status = "final" if metrics.final else "live, still running"
    if metrics.oom_killed:
        status += ", killed for going over its memory limit"
    return format_html(
        "<table><thead><tr><th></th><th>min</th><th>mean</th><th>p95</th>"
        "<th>max</th></tr></thead><tbody>{}</tbody></table>"
        "<p>{} samples ({}).</p>",
        format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            rows,
        ),
        metrics.sample_count,
        status,
    )


@admin.register(InstanceEvent)
class InstanceEventAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "instance", "kind", "message", "correlation")
    list_filter = ("kind",)
    list_select_related = ("instance",)
    search_fields = ("instance__name", "correlation")
    show_full_result_count = False
    date_hierarchy = "created_at"
    fields = (
        "instance",
        "kind",
        "message",
        "correlation",
        "created_at",
        "details_pretty",
    )
    readonly_fields = ("details_pretty",)

    @admin.display(description="details")
    def details_pretty(self, event: InstanceEvent) -> SafeString:
        return _pretty_json(event.details)


@admin.register(InstanceMetrics)
class InstanceMetricsAdmin(ReadOnlyAdmin):
    list_display = (
        "instance",
        "model",
        "final",
        "oom_killed",
        "sample_count",
        "cpu_p95_millicores",
        "memory_max_mebibytes",
        "ended_at",
    )
    list_filter = ("final", "oom_killed", ("model", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("instance", "model")
    search_fields = ("instance__name", "model__id")
    show_full_result_count = False
    exclude = ("allocation",)
    readonly_fields = ("allocation_pretty",)

    @admin.display(description="CPU p95 (m)", ordering="cpu_p95")
    def cpu_p95_millicores(self, metrics: InstanceMetrics) -> str:
        return f"{metrics.cpu_p95:.0f}"

    @admin.display(description="memory max (MiB)", ordering="memory_max")
    def memory_max_mebibytes(self, metrics: InstanceMetrics) -> str:
        return f"{metrics.memory_max / MEBIBYTE:.1f}"

    @admin.display(description="allocation")
    def allocation_pretty(self, metrics: InstanceMetrics) -> SafeString:
        return _pretty_json(metrics.allocation)
