"""The work request API: submit, list your own, follow, download, cancel."""

from collections.abc import Mapping
from datetime import date
from typing import Any

import django_filters
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle

from accounts.identity import owner_for_request
from accounts.throttling import SUBMISSION_THROTTLES
from config.api import JSONParser
from workrequests.dates import FilterDateFilter, submitted_between
from workrequests.models import WorkRequest
from workrequests.results import render_csv, render_json, result_table
from workrequests.selectors import work_request_inputs, work_requests_visible_to
from workrequests.services import (
    WorkRequestConflict,
    check_upload_size,
    work_request_cancel,
    work_request_submit,
)


class WorkRequestSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_id")
    progress = serializers.IntegerField(source="progress_percent")
    result_urls = serializers.SerializerMethodField()

    class Meta:
        model = WorkRequest
        fields = [
            "id",
            "model",
            "status",
            "reason",
            "input_count",
            "done_count",
            "cached_count",
            "progress",
            "cache_opt_in",
            "model_version",
            "submitted_at",
            "scheduled_at",
            "instance_ready_at",
            "processing_at",
            "finished_at",
            "result_urls",
        ]
        read_only_fields = fields

    def get_result_urls(self, work_request: WorkRequest) -> dict[str, str] | None:
        if work_request.status != WorkRequest.Status.COMPLETED:
            return None
        request = self.context["request"]
        base = request.build_absolute_uri(
            f"/api/work-requests/{work_request.pk}/result/"
        )
        return {"csv": f"{base}?format=csv", "json": f"{base}?format=json"}


class SubmissionSerializer(serializers.Serializer):
    """What a submission may carry; the service applies the input rules."""

    model = serializers.CharField()
    inputs = serializers.ListField(child=serializers.JSONField(), required=False)
    file = serializers.FileField(required=False)
    cache_opt_in = serializers.BooleanField(required=False, default=False)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if ("inputs" in data) == ("file" in data):
            raise serializers.ValidationError(
                {"inputs": "Give either a list of inputs or a file, not both."}
            )
        return data


class WorkRequestFilter(django_filters.FilterSet):
    model = django_filters.CharFilter(field_name="model_id")
    # No DISTINCT: a status matches a row at most once, and DISTINCT would
    # sort every matching row.
    status = django_filters.MultipleChoiceFilter(
        choices=WorkRequest.Status.choices, distinct=False
    )
    submitted_from = FilterDateFilter(method="filter_dates")
    submitted_to = FilterDateFilter(method="filter_dates")

    class Meta:
        model = WorkRequest
        fields = ["model", "status", "submitted_from", "submitted_to"]

    def filter_dates(
        self, queryset: QuerySet[WorkRequest], name: str, value: date
    ) -> QuerySet[WorkRequest]:
        if name == "submitted_from":
            return submitted_between(queryset, value, None)
        return submitted_between(queryset, None, value)


class CSVResultRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> str:
        # Errors never get here: the view answers them as JSON.
        return render_csv(data)


class JSONResultRenderer(JSONRenderer):
    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        if isinstance(data, dict) and "columns" in data:
            return render_json(data).encode()
        return super().render(data, accepted_media_type, renderer_context)


class WorkRequestViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Your own work requests. Without an account, those of your anonymous identity."""

    serializer_class = WorkRequestSerializer
    filterset_class = WorkRequestFilter
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[WorkRequest]:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation: there is no one asking.
            return WorkRequest.objects.none()
        owner = owner_for_request(self.request, create=False)
        return work_requests_visible_to(owner).order_by("-submitted_at", "-id")

    def perform_content_negotiation(
        self, request: Request, force: bool = False
    ) -> tuple[BaseRenderer, str]:
        requested = request.query_params.get("format")
        if self.action == "result" and requested not in (None, "csv", "json"):
            raise ValidationError(
                {"format": [f"Choose csv or json, not {requested!r}."]}
            )
        return super().perform_content_negotiation(request, force)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if self.action == "result" and response.status_code >= 400:
            # A failed download is answered in JSON, whatever format it asked.
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    def get_throttles(self) -> list[BaseThrottle]:
        # Each submission can start a model instance: limited per owner.
        if self.action == "create":
            return [throttle() for throttle in SUBMISSION_THROTTLES]
        return super().get_throttles()

    @extend_schema(request=SubmissionSerializer, responses={201: WorkRequestSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        submission = SubmissionSerializer(data=request.data)
        submission.is_valid(raise_exception=True)
        data = submission.validated_data
        upload = None
        if "file" in data:
            check_upload_size(data["file"].size)
            upload = data["file"].read()

        # A new anonymous identity is only kept with the request it was made for.
        with transaction.atomic():
            owner = owner_for_request(request, create=True)
            assert owner is not None
            work_request = work_request_submit(
                owner=owner,
                model_id=data["model"],
                inputs=data.get("inputs"),
                upload=upload,
                cache_opt_in=data["cache_opt_in"],
            )
        body = WorkRequestSerializer(work_request, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["csv", "json"]),
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
        },
    )
    @action(
        detail=True,
        methods=["get"],
        renderer_classes=[JSONResultRenderer, CSVResultRenderer],
    )
    def result(self, request: Request, pk: str | None = None) -> Response:
        """The results in input order, as CSV or JSON, once the request completed."""
        work_request = self.get_object()
        if work_request.status != WorkRequest.Status.COMPLETED:
            raise WorkRequestConflict(
                "Results can be downloaded once the request has completed; "
                f"it is {work_request.get_status_display().lower()}."
            )

        table = result_table(work_request, work_request_inputs(work_request))
        extension = request.accepted_renderer.format
        filename = f"work-request-{work_request.pk}.{extension}"
        return Response(
            table, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    @extend_schema(
        request=None,
        responses={
            200: WorkRequestSerializer,
            409: inline_serializer("Conflict", {"detail": serializers.CharField()}),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        work_request = work_request_cancel(work_request=self.get_object())
        return Response(
            WorkRequestSerializer(work_request, context={"request": request}).data
        )
