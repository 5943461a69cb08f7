from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("api/auth/", include("accounts.api_urls")),
    path("admin/", admin.site.urls),
    path("api/", include("workrequests.urls")),
    path("requests/", include("workrequests.page_urls")),
    path("api/", include("models_registry.urls")),
    path("models/", include("models_registry.page_urls")),
    path("api/", include("recommendations.api_urls")),
    path("recommendations/", include("recommendations.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
]

# allauth answers its pages' rate limits with this view (429 + Retry-After).
handler429 = "accounts.views.too_many_requests"
handler404 = "config.views.not_found"
handler500 = "config.views.server_error"
