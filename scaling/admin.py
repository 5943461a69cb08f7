from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from scaling.models import ScalingDecision


@admin.register(ScalingDecision)
class ScalingDecisionAdmin(admin.ModelAdmin):
    list_display = ("created_at", "model", "action", "reason", "instance")
    list_filter = ("action", "model")
    list_select_related = ("model", "instance")
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
