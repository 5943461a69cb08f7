"""A create/retrieve endpoint with nothing but DRF and one table.

It writes and reads `AnonymousIdentity` rows, the smallest table the
platform has, through a plain ModelSerializer: the floor that
`POST /api/work-requests/` and `GET /api/work-requests/{id}/` are measured
against.
"""

from django.urls import path
from rest_framework import generics, serializers
from rest_framework.permissions import AllowAny

from accounts.models import AnonymousIdentity
from config.urls import urlpatterns as platform_urlpatterns


class BareSerializer(serializers.ModelSerializer):
    class Meta:
        model = AnonymousIdentity
        fields = ["id", "created_at"]


class BareCreate(generics.CreateAPIView):
    queryset = AnonymousIdentity.objects.all()
    serializer_class = BareSerializer
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []


class BareRetrieve(generics.RetrieveAPIView):
    queryset = AnonymousIdentity.objects.all()
    serializer_class = BareSerializer
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []


urlpatterns = [
    path("bare/", BareCreate.as_view()),
    path("bare/<uuid:pk>/", BareRetrieve.as_view()),
    *platform_urlpatterns,
]
