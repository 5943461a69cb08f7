"""Malformed requests get a clear client error, never a 500."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import AnonymousIdentity
from workrequests.models import WorkRequest

URL = "/api/work-requests/"


def _deep(depth):
    return "[" * depth + "]" * depth


def test_a_json_body_nested_too_deeply_is_a_400(owner_client, model):
    body = '{"model": "describe", "inputs": ' + _deep(100_000) + "}"

    response = owner_client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The JSON body is nested too deeply."}


def test_a_malformed_json_body_says_so_without_internals(owner_client, model):
    response = owner_client.post(URL, b"\xff\xfe{", content_type="application/json")

    assert response.status_code == 400
    assert response.json() == {"detail": "The body is not valid JSON."}


def test_a_body_over_the_limit_is_refused_before_it_is_read(owner_client, settings):
    settings.MAX_REQUEST_BYTES = 1000

    response = owner_client.post(
        URL, {"model": "describe", "junk": "x" * 5000}, format="json"
    )

    assert response.status_code == 413
    assert response.json() == {"detail": "The request is too large."}


def test_too_many_form_fields_is_a_400(owner_client, model, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = {f"field{number}": "x" for number in range(20)}

    response = owner_client.post(
        URL, {"model": "describe", **fields}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json() == {"detail": "The request could not be read."}


def test_a_big_upload_is_refused_by_its_size_before_being_read(
    owner_client, model, settings
):
    settings.INPUT_MAX_UPLOAD_BYTES = 10
    upload = SimpleUploadedFile("big.csv", b"CCO\n" * 100)

    response = owner_client.post(
        URL, {"model": "describe", "file": upload}, format="multipart"
    )

    assert response.status_code == 400
    assert response.json()["detail"] == "The file is larger than 10 bytes."


def test_a_refused_anonymous_submission_leaves_no_identity_behind(api_client, model):
    response = api_client.post(URL, {"model": "nope", "inputs": ["CCO"]}, format="json")

    assert response.status_code == 400
    assert not AnonymousIdentity.objects.exists()
    assert not WorkRequest.objects.exists()


@pytest.mark.parametrize("scheme", ["Bearer abc", "Basic dXNlcjpwYXNz", "Digest x"])
def test_credentials_of_another_scheme_are_refused_not_ignored(
    api_client, model, scheme
):
    response = api_client.post(
        URL,
        {"model": "describe", "inputs": ["CCO"]},
        format="json",
        HTTP_AUTHORIZATION=scheme,
    )

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Send the token as 'Authorization: Token <key>'."
    }
    assert not WorkRequest.objects.exists()


def test_an_unknown_api_path_answers_in_json(api_client, db):
    response = api_client.get("/api/work-requests/1.0/")

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_an_unknown_page_answers_in_html(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
