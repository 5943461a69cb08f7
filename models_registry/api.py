"""The model registry API: which models exist and how to use them. Read-only.

Models are managed in the admin (and created from code by
`manage.py register_models`), so the API only reads them.
"""

import django_filters
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from models_registry.models import Model
from models_registry.selectors import models_visible_to


class ModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Model
        fields = [
            "id",
            "title",
            "description",
            "image",
            "tag",
            "version",
            "enabled",
            "execution_mode",
            "output_columns",
            "input_limit",
            "cache_enabled",
            "k8s_resources",
            "min_instances",
            "max_instances",
        ]
        read_only_fields = fields


class ModelFilter(django_filters.FilterSet):
    execution_mode = django_filters.ChoiceFilter(choices=Model.ExecutionMode.choices)
    enabled = django_filters.BooleanFilter(
        help_text="Only admins see disabled models, so for others this only "
        "narrows to enabled ones."
    )

    class Meta:
        model = Model
        fields = ["execution_mode", "enabled"]


@extend_schema_view(
    list=extend_schema(
        summary="List models",
        description="The models you can run, in id order. Admins also see "
        "disabled models.",
    ),
    retrieve=extend_schema(
        summary="Get a model",
        description="One model by id. A disabled model answers 404 to anyone "
        "but an admin.",
    ),
)
class ModelViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ModelSerializer
    filterset_class = ModelFilter
    # Any id reaches the view (DRF's default stops at a dot), so every unknown
    # one gets the API's JSON 404 rather than the site's HTML page.
    lookup_value_regex = "[^/]+"

    def get_queryset(self) -> QuerySet[Model]:
        # The schema generator asks for the queryset's model without a real
        # request, which has no user to scope by.
        if getattr(self, "swagger_fake_view", False):
            return Model.objects.none()
        return models_visible_to(self.request.user)
