from django.urls import path

from recommendations import api

urlpatterns = [
    path(
        "recommendations/",
        api.RecommendationsView.as_view(),
        name="recommendations-list",
    ),
    path(
        "recommendations/state/",
        api.RecommendationsStateView.as_view(),
        name="recommendations-state",
    ),
    path(
        "recommendations/run/",
        api.RunAllView.as_view(),
        name="recommendations-run",
    ),
    path(
        "recommendations/run/<str:model_id>/",
        api.RunModelView.as_view(),
        name="recommendations-run-model",
    ),
    path(
        "recommendations/<str:model_id>/apply/",
        api.ApplyView.as_view(),
        name="recommendations-apply",
    ),
]
