"""The operations console for models: what runs, with what, and how much."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from models_registry.models import Model
from models_registry.services import model_set_resources, models_set_enabled


class ModelAdminForm(forms.ModelForm):
    class Meta:
        model = Model
        fields = [
            "id",
            "title",
            "description",
            "enabled",
            "image",
            "tag",
            "version",
            "entrypoint",
            "port",
            "execution_mode",
            "output_columns",
            "k8s_resources",
            "min_instances",
            "max_instances",
            "idle_timeout",
            "input_limit",
            "cache_enabled",
            "schedule_timeout",
            "ready_timeout",
            "job_timeout",
        ]
        widgets = {
            "k8s_resources": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "output_columns": forms.Textarea(attrs={"rows": 2, "cols": 80}),
        }

    def clean_output_columns(self) -> Any:
        columns = self.cleaned_data["output_columns"]
        if not isinstance(columns, list) or not all(
            isinstance(column, str) and column.strip() for column in columns
        ):
            raise forms.ValidationError(
                "Give a JSON list of column names, such as "
                '["molecular_weight", "logp"].'
            )
        if len(set(columns)) != len(columns):
            raise forms.ValidationError("Each column name may appear only once.")
        if {"input", "error"} & set(columns):
            raise forms.ValidationError(
                'Downloads add "input" and "error" themselves; leave them out.'
            )
        return columns

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        minimum, maximum = cleaned.get("min_instances"), cleaned.get("max_instances")
        if minimum is not None and maximum is not None and minimum > maximum:
            self.add_error(
                "min_instances",
                f"Minimum instances ({minimum}) cannot exceed maximum instances "
                f"({maximum}).",
            )
        return cleaned


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    form = ModelAdminForm
    list_display = [
        "id",
        "title",
        "image_and_tag",
        "version",
        "enabled",
        "execution_mode",
        "instances",
        "cache_enabled",
    ]
    list_display_links = ["id", "title"]
    list_filter = ["enabled", "execution_mode", "cache_enabled"]
    search_fields = ["id", "title", "image"]
    ordering = ["id"]
    actions = ["enable_models", "disable_models"]
    readonly_fields = ["resources_changed_at", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["id", "title", "description", "enabled"]}),
        (
            "What runs",
            {
                "fields": [
                    "image",
                    "tag",
                    "version",
                    "entrypoint",
                    "port",
                    "execution_mode",
                    "output_columns",
                ]
            },
        ),
        ("Resources", {"fields": ["k8s_resources", "resources_changed_at"]}),
        (
            "Instances",
            {"fields": ["min_instances", "max_instances", "idle_timeout"]},
        ),
        (
            "Requests",
            {
                "fields": [
                    "input_limit",
                    "cache_enabled",
                    "schedule_timeout",
                    "ready_timeout",
                    "job_timeout",
                ]
            },
        ),
        ("History", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(
        self, request: HttpRequest, obj: Model | None = None
    ) -> list[str]:
        # Work requests, instances and cached results point at the id;
        # changing it would create a second model rather than rename this one.
        if obj is not None:
            return [*self.readonly_fields, "id"]
        return list(self.readonly_fields)

    @admin.display(description="image:tag", ordering="image")
    def image_and_tag(self, model: Model) -> str:
        return model.image_reference

    @admin.display(description="instances (min to max)")
    def instances(self, model: Model) -> str:
        return f"{model.min_instances} to {model.max_instances}"

    def save_model(
        self, request: HttpRequest, obj: Model, form: forms.ModelForm, change: bool
    ) -> None:
        """Save the form; a change of resources goes through its service.

        `model_set_resources` is what records when the resources changed,
        which recommendations use to tell old allocations from the current.
        """
        if not change or "k8s_resources" not in form.changed_data:
            super().save_model(request, obj, form, change)
            return

        resources = obj.k8s_resources
        obj.k8s_resources = (
            Model.objects.filter(pk=obj.pk)
            .values_list("k8s_resources", flat=True)
            .get()
        )
        super().save_model(request, obj, form, change)
        model_set_resources(model=obj, k8s_resources=resources)

    @admin.action(description="Enable selected models")
    def enable_models(self, request: HttpRequest, queryset: QuerySet[Model]) -> None:
        changed = models_set_enabled(
            model_ids=queryset.values_list("pk", flat=True), enabled=True
        )
        self._report(request, changed, "enabled")

    @admin.action(description="Disable selected models")
    def disable_models(self, request: HttpRequest, queryset: QuerySet[Model]) -> None:
        changed = models_set_enabled(
            model_ids=queryset.values_list("pk", flat=True), enabled=False
        )
        self._report(request, changed, "disabled")

    def _report(self, request: HttpRequest, changed: list[str], state: str) -> None:
        if not changed:
            self.message_user(
                request, f"The selected models were already {state}.", messages.INFO
            )
            return
        self.message_user(
            request,
            f"{len(changed)} model(s) {state}: {', '.join(changed)}.",
            messages.SUCCESS,
        )
