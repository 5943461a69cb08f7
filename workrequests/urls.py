from rest_framework.routers import DefaultRouter

from workrequests.api import WorkRequestViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("work-requests", WorkRequestViewSet, basename="work-request")

urlpatterns = router.urls
