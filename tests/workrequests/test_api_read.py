"""Listing, following, downloading and cancelling your own requests."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import ModelFactory, WorkRequestFactory
from workrequests.models import ResultChunk, WorkRequest

Status = WorkRequest.Status


@pytest.fixture
def completed(owner, model):
    work_request = WorkRequestFactory(
        user=owner,
        model=model,
        inputs=["CCO", "O"],
        status=Status.COMPLETED,
        done_count=2,
    )
    ResultChunk.objects.create(
        work_request=work_request,
        source=ResultChunk.Source.MODEL,
        positions=[1, 0],
        records=[
            {"length": 1, "upper": "O", "error": None},
            {"length": 3, "upper": "CCO", "error": None},
        ],
    )
    return work_request


def test_it_lists_only_your_own_requests_newest_first(
    owner, other_user, owner_client, model
):
    mine = [WorkRequestFactory(user=owner, model=model) for _ in range(3)]
    WorkRequestFactory(user=other_user, model=model)

    body = owner_client.get("/api/work-requests/").json()

    assert body["count"] == 3
    assert [item["id"] for item in body["results"]] == [r.pk for r in reversed(mine)]
    assert "inputs" not in body["results"][0]


def test_it_paginates(owner, owner_client, model):
    made = [WorkRequestFactory(user=owner, model=model) for _ in range(3)]

    body = owner_client.get("/api/work-requests/?page=2&page_size=2").json()

    assert body["count"] == 3
    assert body["next"] is None
    assert [item["id"] for item in body["results"]] == [made[0].pk]


def test_a_page_past_the_end_is_not_found(owner_client):
    assert owner_client.get("/api/work-requests/?page=9").status_code == 404


def test_it_filters_by_model_status_and_date(owner, owner_client, model):
    other_model = ModelFactory(id="other-model")
    old = WorkRequestFactory(user=owner, model=model, status=Status.FAILED)
    WorkRequest.objects.filter(pk=old.pk).update(
        submitted_at=timezone.now() - timedelta(days=3)
    )
    recent = WorkRequestFactory(user=owner, model=model, status=Status.COMPLETED)
    elsewhere = WorkRequestFactory(user=owner, model=other_model)
    today = timezone.now().date().isoformat()

    def ids(query):
        return [
            item["id"]
            for item in owner_client.get(f"/api/work-requests/?{query}").json()[
                "results"
            ]
        ]

    assert ids("model=describe") == [recent.pk, old.pk]
    assert ids("model=other-model") == [elsewhere.pk]
    assert ids("status=FAILED") == [old.pk]
    assert ids("status=FAILED&status=COMPLETED") == [recent.pk, old.pk]
    assert ids(f"submitted_from={today}") == [elsewhere.pk, recent.pk]
    assert ids(f"submitted_to={(timezone.now() - timedelta(days=1)).date()}") == [
        old.pk
    ]


@pytest.mark.parametrize("query", ["status=DONE", "submitted_from=yesterday"])
def test_it_rejects_bad_filters(owner_client, query):
    response = owner_client.get(f"/api/work-requests/?{query}")

    assert response.status_code == 400


def test_another_owner_cannot_see_guess_or_download(completed, other_user):
    client = APIClient()
    client.force_authenticate(other_user)

    assert client.get(f"/api/work-requests/{completed.pk}/").status_code == 404
    assert (
        client.get(f"/api/work-requests/{completed.pk}/result/?format=csv").status_code
        == 404
    )
    assert client.post(f"/api/work-requests/{completed.pk}/cancel/").status_code == 404


def test_an_anonymous_visitor_without_requests_sees_none(completed, api_client):
    assert api_client.get("/api/work-requests/").json()["count"] == 0
    assert api_client.get(f"/api/work-requests/{completed.pk}/").status_code == 404


def test_the_detail_shows_progress_and_result_links(owner_client, completed):
    body = owner_client.get(f"/api/work-requests/{completed.pk}/").json()

    assert body["status"] == "COMPLETED"
    assert body["progress"] == 100
    assert body["result_urls"]["csv"].endswith(
        f"/api/work-requests/{completed.pk}/result/?format=csv"
    )


def test_the_json_download_is_in_input_order(owner_client, completed):
    response = owner_client.get(
        f"/api/work-requests/{completed.pk}/result/?format=json"
    )

    assert response.status_code == 200
    assert response.json() == [
        {"input": "CCO", "length": 3, "upper": "CCO", "error": None},
        {"input": "O", "length": 1, "upper": "O", "error": None},
    ]


def test_the_csv_download_is_in_input_order(owner_client, completed):
    response = owner_client.get(f"/api/work-requests/{completed.pk}/result/?format=csv")

    assert (
        response.content.decode()
        == "input,length,upper,error\r\nCCO,3,CCO,\r\nO,1,O,\r\n"
    )


def test_results_of_an_unfinished_request_are_refused(owner, owner_client, model):
    work_request = WorkRequestFactory(user=owner, model=model, status=Status.PROCESSING)

    response = owner_client.get(
        f"/api/work-requests/{work_request.pk}/result/?format=json"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == (
        "Results can be downloaded once the request has completed; it is processing."
    )


def test_an_unknown_download_format_is_refused(owner_client, completed):
    response = owner_client.get(
        f"/api/work-requests/{completed.pk}/result/?format=xlsx"
    )

    assert response.status_code == 400
    assert response.json() == {"format": ["Choose csv or json, not 'xlsx'."]}


def test_a_failed_csv_download_answers_in_json(owner, owner_client, model, other_user):
    unfinished = WorkRequestFactory(user=owner, model=model, status=Status.QUEUED)
    elsewhere = WorkRequestFactory(
        user=other_user, model=model, status=Status.COMPLETED
    )

    refused = owner_client.get(f"/api/work-requests/{unfinished.pk}/result/?format=csv")
    missing = owner_client.get(f"/api/work-requests/{elsewhere.pk}/result/?format=csv")

    assert refused.status_code == 409
    assert refused["Content-Type"] == "application/json"
    assert "once the request has completed" in refused.json()["detail"]
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/json"


def test_it_cancels_an_active_request_once(owner, owner_client, model):
    work_request = WorkRequestFactory(user=owner, model=model)

    first = owner_client.post(f"/api/work-requests/{work_request.pk}/cancel/")
    second = owner_client.post(f"/api/work-requests/{work_request.pk}/cancel/")

    assert first.status_code == 200
    assert first.json()["status"] == "CANCELLED"
    assert second.status_code == 409
    assert second.json()["detail"] == "This request has already ended (Cancelled)."
