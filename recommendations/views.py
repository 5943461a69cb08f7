"""The Recommendations page, for the admin role.

The page is rendered here in full; `static/js/recommendations.js` calls the
API for runs and applies, follows a run until it ends, and then swaps in a
freshly rendered copy of this page, so there is one renderer only.
"""

from datetime import datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.roles import admin_required
from recommendations.models import (
    PROFILE_TARGETS,
    BandState,
    EngineStateName,
    ModelRecommendation,
    ProfileName,
)
from recommendations.selectors import (
    ModelEntry,
    engine_state,
    model_entries,
)

PAGE_SIZE = 25
_PART_LABELS = {
    ("requests", "cpu"): "CPU request",
    ("limits", "cpu"): "CPU limit",
    ("requests", "memory"): "Memory request",
    ("limits", "memory"): "Memory limit",
}


@admin_required
def recommendations_page(request: HttpRequest) -> HttpResponse:
    attention_only = request.GET.get("attention") == "1"
    state = engine_state()
    entries = model_entries()
    attention = [entry for entry in entries if entry.needs_attention]
    shown = attention if attention_only else entries
    page = Paginator(shown, PAGE_SIZE).get_page(request.GET.get("page"))

    return render(
        request,
        "recommendations/page.html",
        {
            "state": state,
            "state_label": EngineStateName(state.state).label,
            "running": state.state == EngineStateName.RUNNING,
            "attention_only": attention_only,
            "attention_count": len(attention),
            "total_count": len(entries),
            "page": page,
            "blocks": [_block(entry) for entry in page.object_list],
        },
    )


def _block(entry: ModelEntry) -> dict[str, Any]:
    model, recommendation = entry.model, entry.recommendation
    resources = model.k8s_resources
    profiles = []
    if (
        recommendation is not None
        and recommendation.status == ModelRecommendation.Status.OK
    ):
        # The JSON column does not keep key order; show profiles in theirs.
        profiles = [
            _profile(name, recommendation.profiles[name], resources)
            for name in ProfileName
            if name in recommendation.profiles
        ]
    return {
        "id": model.pk,
        "title": model.title,
        "image": model.image_reference,
        "allocation": _allocation_text(resources),
        "recommendation": recommendation,
        "window": _window_text(recommendation),
        "outdated": entry.outdated,
        "needs_attention": entry.needs_attention,
        "profiles": profiles,
        "apply_all_changes": [profile["change"] for profile in profiles],
        "run_url": reverse("recommendations-run-model", args=[model.pk]),
        "apply_url": reverse("recommendations-apply", args=[model.pk]),
    }


def _profile(name: str, profile: dict[str, Any], resources: Any) -> dict[str, Any]:
    section, resource = PROFILE_TARGETS[name]
    unit = profile["unit"]
    label = _PART_LABELS[section, resource]
    old = _part(resources, section, resource)
    new = f"{profile['recommended_value']}{unit}"
    return {
        "name": name,
        "label": label,
        "state": profile["profile_state"],
        "state_label": BandState(profile["profile_state"]).label,
        "usage": f"{profile['current_value']}{unit}",
        "usage_percentage": _percent(profile["current_percentage"]),
        "measured_against": f"{profile['current_allocation']}{unit}",
        "range_min": f"{profile['recommended_min']}{unit}",
        "range_min_percentage": _percent(profile["recommended_min_percentage"]),
        "range_max": f"{profile['recommended_max']}{unit}",
        "range_max_percentage": _percent(profile["recommended_max_percentage"]),
        "value": new,
        "notes": profile["notes"],
        "warnings": profile["warnings"],
        "change": f"{label}: {old} → {new}",
    }


def _part(resources: Any, section: str, resource: str) -> str:
    try:
        return str(resources[section][resource])
    except (KeyError, TypeError):
        return "unset"


def _allocation_text(resources: Any) -> str:
    return (
        f"requests {_part(resources, 'requests', 'cpu')} CPU, "
        f"{_part(resources, 'requests', 'memory')} memory; "
        f"limits {_part(resources, 'limits', 'cpu')} CPU, "
        f"{_part(resources, 'limits', 'memory')} memory"
    )


def _percent(value: int | None) -> str:
    return "n/a" if value is None else f"{value} %"


def _window_text(recommendation: ModelRecommendation | None) -> str:
    if recommendation is None:
        return "not profiled yet"
    run = recommendation.run
    asked = f"{_when(run.since) or 'the start'} to {_when(run.until) or 'now'}"
    if not recommendation.instances:
        return f"{asked}; no finished instances"
    found = (
        f"instances ended {_when(recommendation.first_ended_at)} to "
        f"{_when(recommendation.last_ended_at)}"
    )
    return f"{asked}, newest {run.limit}; {found}"


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M %Z") if moment else ""
