"""The recommendations admin: profile settings to tune, runs and results to audit.

Profiles are the one thing edited here: their floor and their bands, which
are checked together (one band per state, from 0 % up, contiguous,
increasing, the last open-ended) before anything is saved. Runs, results
and applies are written by the system only, so they are read-only.
"""

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from recommendations.engine import validate_bands
from recommendations.models import (
    ModelRecommendation,
    Profile,
    ProfileBand,
    RecommendationApplication,
    RecommendationRun,
)


class BandFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(form.errors for form in self.forms):
            return
        bands = [
            (
                form.cleaned_data.get("state", form.instance.state),
                form.cleaned_data.get("lower"),
                form.cleaned_data.get("upper"),
            )
            for form in self.forms
            if form.cleaned_data
        ]
        errors = validate_bands(bands)
        if errors:
            raise ValidationError(errors)


class ProfileBandInline(admin.TabularInline):
    model = ProfileBand
    formset = BandFormSet
    fields = ["state", "lower", "upper"]
    readonly_fields = ["state"]
    extra = 0
    can_delete = False
    ordering = ["lower"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["name", "floor", "bands_summary", "updated_at"]
    fields = ["name", "floor", "updated_at"]
    readonly_fields = ["name", "updated_at"]
    inlines = [ProfileBandInline]

    def get_queryset(self, request: HttpRequest) -> Any:
        # The list shows every band of every profile: one query for them all.
        return super().get_queryset(request).prefetch_related("bands")

    @admin.display(description="Bands (% of allocation)")
    def bands_summary(self, profile: Profile) -> str:
        bands = sorted(profile.bands.all(), key=lambda band: band.lower)
        return ", ".join(
            f"{band.state} from {band.lower:g}"
            + ("" if band.upper is None else f" below {band.upper:g}")
            for band in bands
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RecommendationRun)
class RecommendationRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "scope",
        "model",
        "trigger",
        "started_by",
        "state",
        "started_at",
        "finished_at",
        "models_profiled",
    ]
    list_filter = ["state", "trigger", "scope"]
    list_select_related = ["started_by", "model"]
    search_fields = ["model__id", "started_by__username"]
    date_hierarchy = "started_at"


@admin.register(ModelRecommendation)
class ModelRecommendationAdmin(ReadOnlyAdmin):
    list_display = ["model", "status", "instances", "is_latest", "computed_at", "run"]
    list_filter = ["status", "is_latest"]
    list_select_related = ["model", "run"]
    search_fields = ["model__id"]
    show_full_result_count = False
    date_hierarchy = "computed_at"


@admin.register(RecommendationApplication)
class RecommendationApplicationAdmin(ReadOnlyAdmin):
    list_display = ["model", "profiles", "applied_by", "applied_at"]
    list_select_related = ["model", "applied_by"]
    search_fields = ["model__id", "applied_by__username"]
    date_hierarchy = "applied_at"
