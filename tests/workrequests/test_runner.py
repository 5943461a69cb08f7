"""Running scheduled requests on a ready instance over the model protocol."""

import csv
import io
import json
from unittest import mock

import pytest

from instances.client import ModelClient, ModelUnreachable
from instances.models import InstanceEvent, ModelInstance
from models_registry.models import Model
from tests.factories import ModelFactory, ReadyInstanceFactory, WorkRequestFactory
from workrequests.models import ResultChunk, WorkRequest
from workrequests.runner import work_request_run
from workrequests.services import lease_key, work_request_cancel

Status = WorkRequest.Status


def _scheduled(model, endpoint, inputs, **fields):
    instance = ReadyInstanceFactory(model=model, endpoint=endpoint)
    work_request = WorkRequestFactory(
        model=model,
        inputs=inputs,
        status=Status.SCHEDULING,
        instance=instance,
        **fields,
    )
    ModelInstance.objects.filter(pk=instance.pk).update(
        lease_key=lease_key(work_request)
    )
    return work_request


@pytest.mark.django_db
def test_it_runs_every_input_in_chunks_and_completes(model, serve, settings):
    settings.WORK_REQUEST_CHUNK_SIZE = 2
    work_request = _scheduled(model, serve(), ["a", "bb", "ccc", "bad", "eeeee"])

    work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.COMPLETED
    assert work_request.done_count == 5
    assert work_request.processing_at and work_request.finished_at
    assert ResultChunk.objects.filter(work_request=work_request).count() == 3
    instance = work_request.instance
    instance.refresh_from_db()
    assert instance.lease_key == ""
    assert instance.jobs_run == 1
    assert list(instance.events.values_list("kind", flat=True)) == [
        InstanceEvent.Kind.JOB_SUBMITTED,
        InstanceEvent.Kind.JOB_COMPLETED,
        InstanceEvent.Kind.RELEASED,
    ]


@pytest.mark.django_db
def test_an_invalid_input_fails_only_its_own_row(owner, owner_client, model, serve):
    work_request = _scheduled(model, serve(), ["CCO", "bad", "N"], user=owner)

    work_request_run(work_request_id=work_request.pk)

    response = owner_client.get(
        f"/api/work-requests/{work_request.pk}/result/?format=json"
    )
    assert response.status_code == 200
    assert json.loads(response.content) == [
        {"input": "CCO", "length": 3, "upper": "CCO", "error": None},
        {"input": "bad", "length": None, "upper": None, "error": "This input is bad."},
        {"input": "N", "length": 1, "upper": "N", "error": None},
    ]


@pytest.mark.django_db
def test_the_csv_has_input_first_model_columns_then_error_with_full_precision(
    owner, owner_client, serve
):
    model = ModelFactory(
        id="fractions",
        entrypoint="tests.callables:fractions",
        output_columns=["upper", "length"],
    )
    work_request = _scheduled(
        model,
        serve("tests.callables:fractions", "fractions"),
        ["CCO", 'C"C'],
        user=owner,
    )

    work_request_run(work_request_id=work_request.pk)
    response = owner_client.get(
        f"/api/work-requests/{work_request.pk}/result/?format=csv"
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="work-request-{work_request.pk}.csv"'
    )
    text = response.content.decode()
    assert text.splitlines()[0] == "input,upper,length,error"
    assert text.splitlines()[1] == 'CCO,"say ""hi"", then, bye",0.3333333333333333,'
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[2] == ['C"C', 'say "hi", then, bye', "0.3333333333333333", ""]
    assert float(rows[1][2]) == 1 / 3


@pytest.mark.django_db
def test_a_model_that_fails_fails_the_request_with_a_clear_reason(model, serve):
    work_request = _scheduled(model, serve("tests.callables:broken"), ["CCO"])

    work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.reason == "The model failed (HTTP 500)."
    assert "internal detail" not in work_request.reason
    work_request.instance.refresh_from_db()
    assert work_request.instance.lease_key == ""


@pytest.mark.django_db
def test_a_model_returning_too_few_results_fails_the_request(model, serve):
    work_request = _scheduled(model, serve("tests.callables:too_few"), ["CCO", "CCN"])

    work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.reason in {
        "The model returned 1 results for 2 inputs.",
        "The model failed (HTTP 500).",
    }


@pytest.mark.django_db
def test_an_async_model_is_polled_until_its_job_completes(model, serve, settings):
    settings.MODEL_ASYNC_POLL_INTERVAL = 0.05
    Model.objects.filter(pk=model.pk).update(execution_mode=Model.ExecutionMode.ASYNC)
    model.refresh_from_db()
    work_request = _scheduled(model, serve(), ["CCO", "bad"])

    work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.COMPLETED
    assert work_request.done_count == 2


def _dies_during_the_call(work_request, reason):
    def call(*args, **kwargs):
        ModelInstance.objects.filter(pk=work_request.instance_id).update(
            state=ModelInstance.State.FAILED, termination_reason=reason
        )
        raise ModelUnreachable("The model instance could not be reached.")

    return call


@pytest.mark.django_db
def test_an_instance_that_crashes_mid_job_requeues_the_request(model):
    work_request = _scheduled(model, "http://127.0.0.1:9", ["CCO"])
    crash = _dies_during_the_call(work_request, ModelInstance.TerminationReason.CRASHED)

    with mock.patch.object(ModelClient, "run", side_effect=crash):
        work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.QUEUED
    assert work_request.attempts == 1
    assert work_request.instance is None
    assert (
        work_request.reason == "Queued again: The model instance stopped unexpectedly."
    )


@pytest.mark.django_db
def test_running_out_of_memory_fails_at_once_since_a_retry_would_too(model):
    work_request = _scheduled(model, "http://127.0.0.1:9", ["CCO"])
    oom = _dies_during_the_call(
        work_request, ModelInstance.TerminationReason.OOM_KILLED
    )

    with mock.patch.object(ModelClient, "run", side_effect=oom):
        work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.attempts == 0
    assert work_request.reason == "The model ran out of memory (its limit is 1Gi)."


@pytest.mark.django_db
def test_nested_nan_from_a_model_is_stored_as_empty(model):
    work_request = _scheduled(model, "http://127.0.0.1:9", ["CCO"])
    answer = [
        {"v": float("nan"), "nested": {"x": float("inf"), "y": [float("-inf"), 1.5]}}
    ]

    with mock.patch.object(ModelClient, "run", return_value=answer):
        work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.COMPLETED
    chunk = ResultChunk.objects.get(work_request=work_request)
    assert chunk.records == [{"v": None, "nested": {"x": None, "y": [None, 1.5]}}]


@pytest.mark.django_db
def test_an_internal_error_fails_the_request_at_once_and_frees_the_instance(model):
    work_request = _scheduled(model, "http://127.0.0.1:9", ["CCO"])

    with (
        mock.patch.object(ModelClient, "run", return_value=[{"v": 1}]),
        mock.patch(
            "workrequests.runner.ResultChunk.objects.create",
            side_effect=RuntimeError("disk full"),
        ),
    ):
        work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.reason == (
        "The hub could not finish this request (an internal error)."
    )
    assert "disk" not in work_request.reason
    work_request.instance.refresh_from_db()
    assert work_request.instance.lease_key == ""


@pytest.mark.django_db
def test_a_request_out_of_retries_fails_when_its_instance_dies(model, settings):
    settings.WORK_REQUEST_RETRIES = 0
    work_request = _scheduled(model, "http://127.0.0.1:9", ["CCO"])

    def crashed_during_the_call(*args, **kwargs):
        ModelInstance.objects.filter(pk=work_request.instance_id).update(
            state=ModelInstance.State.FAILED,
            termination_reason=ModelInstance.TerminationReason.CRASHED,
        )
        raise ModelUnreachable("The model instance could not be reached.")

    with mock.patch.object(ModelClient, "run", side_effect=crashed_during_the_call):
        work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.FAILED
    assert work_request.reason == "The model instance stopped unexpectedly."


@pytest.mark.django_db
def test_a_transient_network_error_is_retried(model, serve, settings):
    settings.WORK_REQUEST_CHUNK_RETRIES = 2
    work_request = _scheduled(model, serve(), ["CCO"])
    real_run = ModelClient.run
    calls = []

    def flaky(self, inputs, *, timeout):
        calls.append(inputs)
        if len(calls) == 1:
            raise ModelUnreachable("The model instance could not be reached.")
        return real_run(self, inputs, timeout=timeout)

    with mock.patch.object(ModelClient, "run", flaky):
        work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.COMPLETED
    assert len(calls) == 2


@pytest.mark.django_db
def test_it_does_nothing_unless_the_request_is_scheduled_on_a_ready_instance(
    model, serve
):
    work_request = WorkRequestFactory(model=model)

    work_request_run(work_request_id=work_request.pk)
    work_request_run(work_request_id=999_999)

    work_request.refresh_from_db()
    assert work_request.status == Status.QUEUED


@pytest.mark.django_db
def test_a_second_run_of_the_same_request_does_nothing(model, serve):
    work_request = _scheduled(model, serve(), ["CCO"])

    work_request_run(work_request_id=work_request.pk)
    work_request_run(work_request_id=work_request.pk)

    assert ResultChunk.objects.filter(work_request=work_request).count() == 1


@pytest.mark.django_db
def test_a_rerun_after_an_interruption_only_sends_inputs_without_results(model, serve):
    work_request = _scheduled(model, serve(), ["a", "bb", "ccc"])
    ResultChunk.objects.create(
        work_request=work_request,
        source=ResultChunk.Source.MODEL,
        positions=[1],
        records=[{"length": 99, "upper": "KEPT", "error": None}],
    )

    work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.COMPLETED
    from workrequests.results import merged_records

    assert [record["length"] for record in merged_records(work_request)] == [1, 99, 3]


@pytest.mark.django_db
def test_cancelling_releases_the_instance_and_stops_the_run(model, serve):
    work_request = _scheduled(model, serve(), ["CCO"])

    work_request_cancel(work_request=work_request)
    work_request_run(work_request_id=work_request.pk)

    work_request.refresh_from_db()
    assert work_request.status == Status.CANCELLED
    assert not ResultChunk.objects.filter(work_request=work_request).exists()
    work_request.instance.refresh_from_db()
    assert work_request.instance.lease_key == ""
