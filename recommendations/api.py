"""The recommendations API, for the admin role only.

`GET /api/recommendations/` gives the engine state and every enabled model's
latest recommendation; `POST .../run/` starts a run of all models (202, a
worker computes it); `POST .../run/{model_id}/` computes one model at once;
`POST .../{model_id}/apply/` writes stored recommended values into a model.
A run request while a run is going on gets 409 with the current state.
"""

from datetime import datetime
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IsAdminRole
from recommendations.apply import recommendation_apply
from recommendations.errors import RunInProgress
from recommendations.models import (
    BandState,
    EngineStateName,
    ModelRecommendation,
    ProfileName,
    RecommendationApplication,
    RecommendationRun,
)
from recommendations.selectors import (
    EngineState,
    ModelEntry,
    engine_state,
    model_entries,
    models_for_recommendations,
)
from recommendations.services import (
    RunParameters,
    recommendations_run_all,
    recommendations_run_model,
)

NOT_PROFILED = "not_profiled"
ENTRY_STATUSES = [*ModelRecommendation.Status.values, NOT_PROFILED]

# --- Serializers ----------------------------------------------------------


class RecommendationRunParametersSerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Only instances that ended at or after this time.",
    )
    until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="Only instances that ended before this time.",
    )
    limit = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="How many of each model's newest instances to profile "
        "(default RECOMMENDATIONS_INSTANCE_LIMIT, 100).",
    )

    def parameters(self) -> RunParameters:
        data = self.validated_data
        return RunParameters(
            since=data.get("since"), until=data.get("until"), limit=data.get("limit")
        )


class RecommendationRunSerializer(serializers.ModelSerializer):
    started_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    model: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True, allow_null=True
    )

    class Meta:
        model = RecommendationRun
        fields = [
            "id",
            "trigger",
            "started_by",
            "scope",
            "model",
            "since",
            "until",
            "limit",
            "state",
            "started_at",
            "finished_at",
            "models_profiled",
        ]
        read_only_fields = fields


class RecommendationEngineStateSerializer(serializers.Serializer):
    state = serializers.ChoiceField(choices=EngineStateName.choices)
    last_run_at = serializers.DateTimeField(
        allow_null=True, help_text="When the last successful run finished."
    )
    run = RecommendationRunSerializer(
        allow_null=True, help_text="The run going on, if any."
    )
    last_run = RecommendationRunSerializer(
        allow_null=True, help_text="The last run that ended, whatever its outcome."
    )


def _state_data(state: EngineState) -> dict[str, Any]:
    data: dict[str, Any] = RecommendationEngineStateSerializer(
        {
            "state": state.state,
            "last_run_at": state.last_run_at,
            "run": state.run,
            "last_run": state.last_run,
        }
    ).data
    return data


class RecommendationBandSerializer(serializers.Serializer):
    lower = serializers.CharField(help_text="Percentage, included.")
    upper = serializers.CharField(help_text="Percentage, excluded.")


class RecommendationProfileSerializer(serializers.Serializer):
    profile = serializers.ChoiceField(choices=ProfileName.choices)
    unit = serializers.ChoiceField(choices=["m", "Mi"])
    profile_state = serializers.ChoiceField(choices=BandState.choices)
    current_value = serializers.CharField(
        help_text="Usage, as decimal text in `unit` (CPU is a rate in millicores)."
    )
    current_allocation = serializers.CharField(
        help_text="The request or limit it is compared with, in `unit`."
    )
    current_percentage = serializers.IntegerField(
        allow_null=True, help_text="Usage as % of allocation, rounded half up."
    )
    recommended_value = serializers.IntegerField(
        help_text="What applying writes, in whole `unit`s."
    )
    recommended_min = serializers.IntegerField()
    recommended_min_percentage = serializers.IntegerField(allow_null=True)
    recommended_max = serializers.IntegerField()
    recommended_max_percentage = serializers.IntegerField(allow_null=True)
    recommended_band = RecommendationBandSerializer()
    notes = serializers.ListField(child=serializers.CharField())
    warnings = serializers.ListField(child=serializers.CharField())


class RecommendationProfilePairSerializer(serializers.Serializer):
    min = RecommendationProfileSerializer(allow_null=True)
    max = RecommendationProfileSerializer(allow_null=True)


class RecommendationWindowSerializer(serializers.Serializer):
    since = serializers.DateTimeField(allow_null=True)
    until = serializers.DateTimeField(allow_null=True)
    first_ended_at = serializers.DateTimeField(allow_null=True)
    last_ended_at = serializers.DateTimeField(allow_null=True)


class RecommendationModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    image = serializers.CharField()
    tag = serializers.CharField()
    allocation = serializers.JSONField(help_text="The model's k8s_resources now.")
    timestamp = serializers.DateTimeField(
        allow_null=True, help_text="When the recommendation was computed."
    )
    run = serializers.IntegerField(allow_null=True)
    instances = serializers.IntegerField(help_text="Instances profiled.")
    oom_killed_instances = serializers.IntegerField()
    window = RecommendationWindowSerializer()
    status = serializers.ChoiceField(choices=ENTRY_STATUSES)
    reason = serializers.CharField(
        allow_blank=True, help_text="Why there are no figures, when there are none."
    )
    outdated = serializers.BooleanField()
    needs_attention = serializers.BooleanField()
    warnings = serializers.ListField(child=serializers.CharField())
    cpu = RecommendationProfilePairSerializer()
    memory = RecommendationProfilePairSerializer()


class RecommendationOverviewSerializer(RecommendationEngineStateSerializer):
    models = serializers.DictField(child=RecommendationModelSerializer())


_DATETIME = serializers.DateTimeField()


def _moment(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def entry_data(entry: ModelEntry) -> dict[str, Any]:
    """One model's API object, as `RecommendationModelSerializer` documents it.

    Built by hand rather than through the serializer: the stored profile
    objects are already JSON, and walking a thousand models through nested
    serializers took seconds.
    """
    model, recommendation = entry.model, entry.recommendation
    profiles = recommendation.profiles if recommendation else {}
    run = recommendation.run if recommendation else None
    return {
        "id": model.pk,
        "title": model.title,
        "image": model.image,
        "tag": model.tag,
        "allocation": model.k8s_resources,
        "timestamp": _moment(recommendation.computed_at if recommendation else None),
        "run": run.pk if run else None,
        "instances": recommendation.instances if recommendation else 0,
        "oom_killed_instances": (
            recommendation.oom_killed_instances if recommendation else 0
        ),
        "window": {
            "since": _moment(run.since if run else None),
            "until": _moment(run.until if run else None),
            "first_ended_at": _moment(
                recommendation.first_ended_at if recommendation else None
            ),
            "last_ended_at": _moment(
                recommendation.last_ended_at if recommendation else None
            ),
        },
        "status": recommendation.status if recommendation else NOT_PROFILED,
        "reason": recommendation.reason if recommendation else "",
        "outdated": entry.outdated,
        "needs_attention": entry.needs_attention,
        "warnings": recommendation.warnings if recommendation else [],
        "cpu": {
            "min": profiles.get(ProfileName.CPU_MIN),
            "max": profiles.get(ProfileName.CPU_MAX),
        },
        "memory": {
            "min": profiles.get(ProfileName.MEMORY_MIN),
            "max": profiles.get(ProfileName.MEMORY_MAX),
        },
    }


class RecommendationApplySerializer(serializers.Serializer):
    profiles = serializers.ListField(
        child=serializers.ChoiceField(choices=ProfileName.choices),
        required=False,
        help_text="Which profiles to apply; all four when left out.",
    )


class RecommendationApplicationSerializer(serializers.ModelSerializer):
    model: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    recommendation: serializers.PrimaryKeyRelatedField[Any] = (
        serializers.PrimaryKeyRelatedField(read_only=True)
    )
    applied_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    old = serializers.JSONField(source="old_resources", read_only=True)
    new = serializers.JSONField(source="new_resources", read_only=True)

    class Meta:
        model = RecommendationApplication
        fields = [
            "id",
            "model",
            "recommendation",
            "profiles",
            "old",
            "new",
            "applied_by",
            "applied_at",
        ]
        read_only_fields = fields


_ERROR = inline_serializer(
    "RecommendationError",
    {"detail": serializers.CharField(), "field": serializers.CharField(required=False)},
)
_CONFLICT = inline_serializer(
    "RecommendationConflict",
    {"detail": serializers.CharField(), "state": RecommendationEngineStateSerializer()},
)


def _conflict(error: RunInProgress) -> Response:
    return Response(
        {"detail": error.message, "state": _state_data(engine_state())},
        status=status.HTTP_409_CONFLICT,
    )


def _run_parameters(request: Request) -> RunParameters:
    serializer = RecommendationRunParametersSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.parameters()


# --- Views ----------------------------------------------------------------


class RecommendationsView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        operation_id="recommendations_list",
        summary="Engine state and every model's recommendations",
        description="The engine state (`running`, `up_to_date` or `outdated`), "
        "the time of the last run, and per enabled model id its latest "
        "recommendation: the full object of each profile under `cpu` and "
        "`memory` (`min` against the request, `max` against the limit).",
        responses=RecommendationOverviewSerializer,
    )
    def get(self, request: Request) -> Response:
        data = _state_data(engine_state())
        data["models"] = {
            entry.model.pk: entry_data(entry) for entry in model_entries()
        }
        return Response(data)


class RecommendationsStateView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        operation_id="recommendations_state",
        summary="Engine state only",
        description="What the page polls while it follows a run.",
        responses=RecommendationEngineStateSerializer,
    )
    def get(self, request: Request) -> Response:
        return Response(_state_data(engine_state()))


class RunAllView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        operation_id="recommendations_run_all",
        summary="Run all models",
        description="Starts a run of every enabled model, computed by a worker. "
        "Follow it with the state endpoint.",
        request=RecommendationRunParametersSerializer,
        responses={202: RecommendationRunSerializer, 400: _ERROR, 409: _CONFLICT},
    )
    def post(self, request: Request) -> Response:
        parameters = _run_parameters(request)
        try:
            run = recommendations_run_all(user=request.user, parameters=parameters)
        except RunInProgress as error:
            return _conflict(error)
        return Response(
            RecommendationRunSerializer(run).data, status=status.HTTP_202_ACCEPTED
        )


class RunModelView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        operation_id="recommendations_run_model",
        summary="Run one model now",
        description="Computes one enabled model at once and returns its new "
        "recommendation.",
        request=RecommendationRunParametersSerializer,
        responses={
            200: RecommendationModelSerializer,
            400: _ERROR,
            404: _ERROR,
            409: _CONFLICT,
        },
    )
    def post(self, request: Request, model_id: str) -> Response:
        model = get_object_or_404(models_for_recommendations(), pk=model_id)
        parameters = _run_parameters(request)
        try:
            recommendations_run_model(
                user=request.user, model=model, parameters=parameters
            )
        except RunInProgress as error:
            return _conflict(error)
        [entry] = model_entries(models=models_for_recommendations().filter(pk=model.pk))
        return Response(entry_data(entry))


class ApplyView(APIView):
    permission_classes = [IsAdminRole]

    @extend_schema(
        operation_id="recommendations_apply",
        summary="Apply a model's recommendation",
        description="Writes the latest stored recommended values of the chosen "
        "profiles (all four by default) into the model's k8s_resources; its "
        "next instance starts with them. The body names profiles only, never "
        "values. 409 when there is nothing to apply, when the allocation a "
        "profile was measured against has changed since, or when a request "
        "would end up above its limit.",
        request=RecommendationApplySerializer,
        responses={
            200: RecommendationApplicationSerializer,
            400: _ERROR,
            404: _ERROR,
            409: _ERROR,
        },
    )
    def post(self, request: Request, model_id: str) -> Response:
        model = get_object_or_404(models_for_recommendations(), pk=model_id)
        serializer = RecommendationApplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        application = recommendation_apply(
            model=model,
            user=request.user,
            profiles=serializer.validated_data.get("profiles"),
        )
        return Response(RecommendationApplicationSerializer(application).data)
