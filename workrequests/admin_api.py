"""The admin role's API over every request, and over the result cache.

`GET /api/admin/work-requests/` lists every user's and anonymous visitor's
requests, newest first, described by their metadata only: the response never
carries inputs or results. Pages are cursors (`next` and `previous` links),
so any page costs the same on a table of millions and nothing counts the
whole table.

`GET /api/admin/result-cache/` gives each model's cache size and hit rate;
`DELETE /api/admin/result-cache/<model>/` clears one model's cache.
"""

from datetime import date
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsAdminRole
from models_registry.models import Model
from workrequests.cache import CacheSummary, cache_clear, cache_summaries
from workrequests.dates import FilterDateFilter, submitted_between
from workrequests.models import WorkRequest
from workrequests.selectors import work_requests_of_everyone
from workrequests.summaries import durations, result_status


class AdminWorkRequestSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_id")
    user_id = serializers.IntegerField(allow_null=True)
    anonymous_id = serializers.UUIDField(allow_null=True)
    result_status = serializers.SerializerMethodField()
    durations = serializers.SerializerMethodField()

    class Meta:
        model = WorkRequest
        fields = [
            "id",
            "model",
            "user_id",
            "anonymous_id",
            "status",
            "reason",
            "submitted_at",
            "finished_at",
            "input_count",
            "done_count",
            "cached_count",
            "result_status",
            "durations",
        ]
        read_only_fields = fields

    def get_result_status(self, work_request: WorkRequest) -> str:
        return str(result_status(work_request).value)

    @extend_schema_field(
        inline_serializer(
            "WorkRequestDurations",
            {
                name: serializers.FloatField(allow_null=True)
                for name in ("queue_wait", "instance_start", "run_time", "total")
            },
        )
    )
    def get_durations(self, work_request: WorkRequest) -> dict[str, float | None]:
        return durations(work_request)


class DateRangeForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        date_from, date_to = cleaned.get("date_from"), cleaned.get("date_to")
        if date_from and date_to and date_from > date_to:
            self.add_error("date_to", "date_to is before date_from.")
        return cleaned


class AdminWorkRequestFilter(django_filters.FilterSet):
    user_id = django_filters.NumberFilter(
        field_name="user_id", min_value=1, max_value=2**63 - 1
    )
    anonymous_id = django_filters.UUIDFilter(field_name="anonymous_id")
    model = django_filters.CharFilter(field_name="model_id")
    # No join can repeat a row, and DISTINCT would sort every match.
    status = django_filters.MultipleChoiceFilter(
        choices=WorkRequest.Status.choices, distinct=False
    )
    date_from = FilterDateFilter(method="filter_dates")
    date_to = FilterDateFilter(method="filter_dates")

    class Meta:
        model = WorkRequest
        fields = ["user_id", "anonymous_id", "model", "status", "date_from", "date_to"]
        form = DateRangeForm

    def filter_dates(
        self, queryset: QuerySet[WorkRequest], name: str, value: date
    ) -> QuerySet[WorkRequest]:
        if name == "date_from":
            return submitted_between(queryset, value, None)
        return submitted_between(queryset, None, value)


class NewestFirstCursor(CursorPagination):
    ordering = ("-submitted_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class AdminWorkRequestList(generics.ListAPIView):
    """Every request, newest first, for the admin role; never inputs or results."""

    permission_classes = [IsAdminRole]
    serializer_class = AdminWorkRequestSerializer
    filterset_class = AdminWorkRequestFilter
    pagination_class = NewestFirstCursor

    def get_queryset(self) -> QuerySet[WorkRequest]:
        # Only the request's own columns: ids stand for the user, the
        # anonymous identity and the model, so no join is needed.
        return work_requests_of_everyone(self.request.user)


class CacheSummarySerializer(serializers.Serializer):
    model = serializers.CharField(source="model_id")
    enabled = serializers.BooleanField()
    version = serializers.CharField()
    size = serializers.IntegerField()
    size_current_version = serializers.IntegerField()
    lookups = serializers.IntegerField()
    hits = serializers.IntegerField()
    hit_rate = serializers.FloatField(allow_null=True)


class ResultCacheList(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(responses=CacheSummarySerializer(many=True))
    def get(self, request: Request) -> Response:
        summaries: list[CacheSummary] = cache_summaries(
            models=list(Model.objects.order_by("id"))
        )
        return Response(CacheSummarySerializer(summaries, many=True).data)


class ResultCacheDetail(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        request=None,
        responses=inline_serializer(
            "ResultCacheCleared",
            {"model": serializers.CharField(), "deleted": serializers.IntegerField()},
        ),
    )
    def delete(self, request: Request, model_id: str) -> Response:
        """Delete every cached result of the model, of every version."""
        model = get_object_or_404(Model, pk=model_id)
        deleted = cache_clear(model=model, actor=request.user)
        return Response({"model": model.pk, "deleted": deleted})

    @extend_schema(responses=CacheSummarySerializer)
    def get(self, request: Request, model_id: str) -> Response:
        model = get_object_or_404(Model, pk=model_id)
        summary = cache_summaries(models=[model])[0]
        return Response(CacheSummarySerializer(summary).data)
