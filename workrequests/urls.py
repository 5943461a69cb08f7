from django.urls import path
from rest_framework.routers import SimpleRouter

from workrequests.admin_api import (
    AdminWorkRequestList,
    ResultCacheDetail,
    ResultCacheList,
)
from workrequests.api import WorkRequestViewSet

router = SimpleRouter(trailing_slash=True)
router.register("work-requests", WorkRequestViewSet, basename="work-request")

urlpatterns = [
    *router.urls,
    path(
        "admin/work-requests/",
        AdminWorkRequestList.as_view(),
        name="admin-work-request-list",
    ),
    path("admin/result-cache/", ResultCacheList.as_view(), name="admin-result-cache"),
    path(
        "admin/result-cache/<str:model_id>/",
        ResultCacheDetail.as_view(),
        name="admin-result-cache-detail",
    ),
]
