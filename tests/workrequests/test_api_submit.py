import json

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AnonymousIdentity
from workrequests.models import WorkRequest, WorkRequestInputs

URL = "/api/work-requests/"


@pytest.fixture
def broker():
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.delete("celery")
    yield connection
    connection.delete("celery")


def _queued_task_names(broker):
    return [
        json.loads(message)["headers"]["task"]
        for message in broker.lrange("celery", 0, -1)
    ]


def test_it_queues_a_json_submission_and_wakes_the_dispatcher(
    owner_client, owner, model, broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            URL, {"model": model.id, "inputs": ["CCO", " CCN ", ""]}, format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "QUEUED"
    assert body["input_count"] == 2
    assert body["model"] == model.id
    work_request = WorkRequest.objects.get(pk=body["id"])
    assert work_request.user == owner
    assert WorkRequestInputs.objects.get(work_request=work_request).inputs == [
        "CCO",
        "CCN",
    ]
    assert _queued_task_names(broker) == [settings.DISPATCH_TASK]


def test_it_accepts_a_csv_file(owner_client, model):
    upload = SimpleUploadedFile("in.csv", b"name,smiles\r\nethanol,CCO\r\nwater,O\r\n")

    response = owner_client.post(
        URL, {"model": model.id, "file": upload}, format="multipart"
    )

    assert response.status_code == 201, response.content
    work_request = WorkRequest.objects.get(pk=response.json()["id"])
    assert work_request.payload.inputs == ["CCO", "O"]


def test_an_anonymous_visitor_gets_an_identity_bound_to_its_session(api_client, model):
    first = api_client.post(URL, {"model": model.id, "inputs": ["CCO"]}, format="json")
    second = api_client.post(URL, {"model": model.id, "inputs": ["CCN"]}, format="json")

    assert first.status_code == second.status_code == 201
    assert AnonymousIdentity.objects.count() == 1
    identity = AnonymousIdentity.objects.get()
    assert set(identity.work_requests.values_list("pk", flat=True)) == {
        first.json()["id"],
        second.json()["id"],
    }
    listed = api_client.get(URL).json()
    assert [item["id"] for item in listed["results"]] == [
        second.json()["id"],
        first.json()["id"],
    ]


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        (
            {"model": "nope", "inputs": ["CCO"]},
            "model",
            "There is no model called 'nope'.",
        ),
        ({"inputs": ["CCO"]}, "model", "This field is required."),
        ({"model": "describe", "inputs": []}, "inputs", "No inputs were found."),
        (
            {"model": "describe", "inputs": [1, "CCO"]},
            "inputs",
            "Line 1: each input must be a string.",
        ),
        (
            {"model": "describe", "inputs": ["C\x00C"]},
            "inputs",
            "Line 1: holds control or binary characters.",
        ),
        (
            {"model": "describe", "inputs": "CCO"},
            "inputs",
            'Expected a list of items but got type "str".',
        ),
        (
            {"model": "describe"},
            "inputs",
            "Give either a list of inputs or a file, not both.",
        ),
    ],
)
def test_it_rejects_bad_submissions_and_writes_nothing(
    owner_client, model, payload, field, message
):
    response = owner_client.post(URL, payload, format="json")

    assert response.status_code == 400
    body = response.json()
    messages = body[field] if field in body else [body["detail"]]
    assert message in " ".join(messages)
    assert body.get("field", field) == field
    assert WorkRequest.objects.count() == 0
    assert WorkRequestInputs.objects.count() == 0


def test_it_rejects_more_inputs_than_the_model_allows(owner_client, model):
    model.input_limit = 2
    model.save()

    response = owner_client.post(
        URL, {"model": model.id, "inputs": ["C", "CC", "CCC"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == (
        "This model accepts at most 2 inputs per request; more were given."
    )
    assert not WorkRequest.objects.exists()


def test_it_rejects_a_disabled_model(owner_client, model):
    model.enabled = False
    model.save()

    response = owner_client.post(
        URL, {"model": model.id, "inputs": ["CCO"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "The model 'describe' is not available at the moment.",
        "field": "model",
    }


def test_it_rejects_a_binary_file_naming_the_line(owner_client, model):
    upload = SimpleUploadedFile("junk.bin", b"CCO\n\x00\x01\x02\xff")

    response = owner_client.post(
        URL, {"model": model.id, "file": upload}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "Line 2: the file holds binary data, not text."
    assert not WorkRequest.objects.exists()


def test_it_rejects_a_file_over_the_size_limit(owner_client, model, settings):
    settings.INPUT_MAX_UPLOAD_BYTES = 10
    upload = SimpleUploadedFile("big.csv", b"CCO\n" * 10)

    response = owner_client.post(
        URL, {"model": model.id, "file": upload}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "The file is larger than 10 bytes."


def test_anonymous_visitors_cannot_share_results_with_the_cache(api_client, model):
    response = api_client.post(
        URL, {"model": model.id, "inputs": ["CCO"], "cache_opt_in": True}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["field"] == "cache_opt_in"
    assert not WorkRequest.objects.exists()


def test_a_broker_outage_does_not_lose_the_submission(owner_client, model, settings):
    # Nothing listens on port 9 of loopback: publishing fails at once.
    from config.celery import app

    def forget_pools():
        # The app builds new pools for the current broker URL on next use;
        # kombu keeps the old ones, still open, for whoever asks again.
        app._pool = None
        app.amqp._producer_pool = None

    previous = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:9/0"
    forget_pools()
    try:
        response = owner_client.post(
            URL, {"model": model.id, "inputs": ["CCO"]}, format="json"
        )
    finally:
        app.conf.broker_url = previous
        forget_pools()

    assert response.status_code == 201
    assert WorkRequest.objects.get().status == WorkRequest.Status.QUEUED
