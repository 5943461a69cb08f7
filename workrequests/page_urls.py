from django.urls import path

from workrequests import views

app_name = "workrequests"

urlpatterns = [
    path("", views.my_requests, name="list"),
    path("new/", views.new_request, name="new"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/cancel/", views.request_cancel, name="cancel"),
    path("stats/", views.stats_page, name="stats"),
    path("cache/", views.cache_page, name="cache"),
    path("cache/<str:model_id>/clear/", views.cache_clear_page, name="cache-clear"),
]
