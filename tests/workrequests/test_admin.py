"""The admin role's view of every request: the Django admin and the admin API."""

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import (
    AnonymousIdentityFactory,
    ModelFactory,
    UserFactory,
    WorkRequestFactory,
)
from tests.workrequests.support import sign_in
from workrequests.admin import CappedCountPaginator
from workrequests.models import ResultChunk, WorkRequest
from workrequests.selectors import work_requests_of_everyone

pytestmark = pytest.mark.django_db

Status = WorkRequest.Status
API = "/api/admin/work-requests/"
CHANGELIST = "/admin/workrequests/workrequest/"
SECRET_INPUT = "SECRET-INPUT-Nc1ccccc1"
SECRET_RESULT = "SECRET-RESULT-3.14159"


@pytest.fixture
def requests(model):
    """Requests of two users, an anonymous visitor and two models, over days."""
    now = timezone.now()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    visitor = AnonymousIdentityFactory()
    other_model = ModelFactory(id="other-model")
    made = {
        "alice_old": WorkRequestFactory(
            user=alice,
            model=model,
            submitted_at=now - timedelta(days=5),
            status=Status.COMPLETED,
        ),
        "alice_new": WorkRequestFactory(
            user=alice, model=other_model, submitted_at=now, status=Status.FAILED
        ),
        "bob": WorkRequestFactory(
            user=bob,
            model=model,
            submitted_at=now - timedelta(days=2),
            status=Status.PROCESSING,
        ),
        "visitor": WorkRequestFactory(
            user=None,
            anonymous=visitor,
            model=model,
            submitted_at=now - timedelta(days=1),
            inputs=[SECRET_INPUT],
            status=Status.COMPLETED,
        ),
    }
    ResultChunk.objects.create(
        work_request=made["visitor"],
        source=ResultChunk.Source.MODEL,
        positions=[0],
        records=[{"length": SECRET_RESULT, "upper": SECRET_RESULT}],
    )
    made["alice"], made["bob_user"], made["identity"] = alice, bob, visitor
    return made


@pytest.fixture
def admin_api(api_client, admin_user):
    api_client.force_authenticate(admin_user)
    return api_client


@pytest.fixture
def admin_page(client, admin_user):
    sign_in(client, admin_user)
    return client


def _ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


def _days_ago(days: int) -> str:
    return (timezone.localdate() - timedelta(days=days)).isoformat()


# --- The admin API ----------------------------------------------------------------


def test_the_api_lists_every_owners_requests_newest_first(admin_api, requests):
    response = admin_api.get(API)

    assert response.status_code == 200
    assert _ids(response) == [
        requests[name].pk for name in ("alice_new", "visitor", "bob", "alice_old")
    ]


def test_the_api_shows_metadata_and_never_inputs_or_results(admin_api, requests):
    now = timezone.now()
    WorkRequest.objects.filter(pk=requests["visitor"].pk).update(
        submitted_at=now - timedelta(seconds=30),
        scheduled_at=now - timedelta(seconds=28),
        instance_ready_at=now - timedelta(seconds=20),
        processing_at=now - timedelta(seconds=20),
        finished_at=now - timedelta(seconds=5),
        reason="",
        done_count=1,
    )

    response = admin_api.get(API)

    body = response.content.decode()
    assert SECRET_INPUT not in body
    assert SECRET_RESULT not in body
    item = next(
        i for i in response.json()["results"] if i["id"] == requests["visitor"].pk
    )
    assert set(item) == {
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
    }
    assert item["user_id"] is None
    assert item["anonymous_id"] == str(requests["identity"].pk)
    assert item["model"] == "describe"
    assert item["result_status"] == "available"
    assert item["durations"] == {
        "queue_wait": 2.0,
        "instance_start": 8.0,
        "run_time": 15.0,
        "total": 25.0,
    }
    bob = next(i for i in response.json()["results"] if i["id"] == requests["bob"].pk)
    assert (bob["user_id"], bob["anonymous_id"], bob["result_status"]) == (
        requests["bob_user"].pk,
        None,
        "in_progress",
    )
    assert bob["durations"]["total"] is None


def test_every_api_filter_narrows_the_list(admin_api, requests):
    def ids(query):
        response = admin_api.get(f"{API}?{query}")
        assert response.status_code == 200, response.content
        return set(_ids(response))

    assert ids(f"user_id={requests['alice'].pk}") == {
        requests["alice_old"].pk,
        requests["alice_new"].pk,
    }
    assert ids(f"anonymous_id={requests['identity'].pk}") == {requests["visitor"].pk}
    assert ids("model=other-model") == {requests["alice_new"].pk}
    assert ids(f"date_from={_days_ago(2)}") == {
        requests["alice_new"].pk,
        requests["visitor"].pk,
        requests["bob"].pk,
    }
    assert ids(f"date_to={_days_ago(2)}") == {
        requests["bob"].pk,
        requests["alice_old"].pk,
    }
    assert ids(f"date_from={_days_ago(2)}&date_to={_days_ago(1)}") == {
        requests["visitor"].pk,
        requests["bob"].pk,
    }
    assert ids("status=COMPLETED") == {requests["alice_old"].pk, requests["visitor"].pk}
    assert ids("status=COMPLETED&status=FAILED") == {
        requests["alice_old"].pk,
        requests["visitor"].pk,
        requests["alice_new"].pk,
    }
    assert ids(f"user_id={requests['alice'].pk}&status=FAILED") == {
        requests["alice_new"].pk
    }
    assert ids("model=no-such-model") == set()
    assert ids(f"anonymous_id={uuid.uuid4()}") == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("user_id=alice", "user_id"),
        ("anonymous_id=not-a-uuid", "anonymous_id"),
        ("date_from=2031-13-01", "date_from"),
        ("date_to=yesterday", "date_to"),
        ("status=LOST", "status"),
        ("date_from=2031-03-02&date_to=2031-03-01", "date_to"),
    ],
)
def test_bad_api_filters_are_refused(admin_api, requests, query, field):
    response = admin_api.get(f"{API}?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_the_api_pages_with_cursors(admin_api, requests):
    first = admin_api.get(f"{API}?page_size=3")
    second = admin_api.get(first.json()["next"])

    assert "count" not in first.json()
    assert _ids(first) + _ids(second) == [
        requests[name].pk for name in ("alice_new", "visitor", "bob", "alice_old")
    ]
    assert second.json()["next"] is None


def test_the_api_takes_the_same_queries_for_any_number_of_requests(
    admin_api, model, django_assert_num_queries
):
    for _ in range(3):
        WorkRequestFactory(model=model)
    admin_api.get(API)
    with CaptureQueriesContext(connection) as few:
        admin_api.get(API)
    for _ in range(20):
        WorkRequestFactory(model=model)

    with django_assert_num_queries(len(few.captured_queries)):
        response = admin_api.get(API)

    assert len(response.json()["results"]) == 23


def test_the_api_needs_the_admin_role(api_client, owner, requests):
    anonymous = api_client.get(API)
    api_client.force_authenticate(owner)
    forbidden = api_client.get(API)

    assert anonymous.status_code in (401, 403)
    assert forbidden.status_code == 403
    assert "results" not in anonymous.json()
    assert "results" not in forbidden.json()


# --- The Django admin ------------------------------------------------------------------


def _changelist_ids(response) -> list[int]:
    return [
        int(pk)
        for pk in re.findall(
            r'<th class="field-id"><a href="/admin/workrequests/workrequest/(\d+)/change/',
            response.content.decode(),
        )
    ]


def test_the_changelist_shows_every_request_without_inputs_or_results(
    admin_page, requests
):
    response = admin_page.get(CHANGELIST)

    page = response.content.decode()
    assert response.status_code == 200
    assert _changelist_ids(response) == [
        requests[name].pk for name in ("alice_new", "visitor", "bob", "alice_old")
    ]
    for header in (
        "model",
        "user id",
        "anonymous identity id",
        "status",
        "reason",
        "submitted at",
        "input count",
        "results",
        "queue wait (s)",
        "total (s)",
    ):
        assert header in page.lower()
    assert str(requests["identity"].pk) in page
    assert "Available (0/1 done)" in page
    assert SECRET_INPUT not in page
    assert SECRET_RESULT not in page


def test_the_change_page_never_shows_inputs_or_results(admin_page, requests):
    response = admin_page.get(f"{CHANGELIST}{requests['visitor'].pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert str(requests["identity"].pk) in page
    assert SECRET_INPUT not in page
    assert SECRET_RESULT not in page


def test_every_changelist_filter_narrows_the_list(admin_page, requests, model):
    def ids(query):
        response = admin_page.get(f"{CHANGELIST}?{query}")
        assert response.status_code == 200
        return set(_changelist_ids(response))

    assert ids(f"user_id={requests['alice'].pk}") == {
        requests["alice_old"].pk,
        requests["alice_new"].pk,
    }
    assert ids(f"anonymous_id={requests['identity'].pk}") == {requests["visitor"].pk}
    assert ids("model__id__exact=other-model") == {requests["alice_new"].pk}
    assert ids(f"date_from={_days_ago(2)}") == {
        requests["alice_new"].pk,
        requests["visitor"].pk,
        requests["bob"].pk,
    }
    assert ids(f"date_to={_days_ago(2)}") == {
        requests["bob"].pk,
        requests["alice_old"].pk,
    }
    assert ids("status__exact=PROCESSING") == {requests["bob"].pk}
    assert ids(
        f"model__id__exact={model.pk}&status__exact=COMPLETED&date_from={_days_ago(3)}"
    ) == {requests["visitor"].pk}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("user_id=alice", "User id: give a user&#x27;s number, such as 42."),
        ("anonymous_id=123", "Anonymous identity id: give the identity&#x27;s UUID"),
        (
            "date_from=2031-13-01",
            "Date from: give a date as YYYY-MM-DD, between 1900 and 9000.",
        ),
        (
            "date_to=tomorrow",
            "Date to: give a date as YYYY-MM-DD, between 1900 and 9000.",
        ),
    ],
)
def test_bad_changelist_filters_say_so_and_list_nothing(
    admin_page, requests, query, message
):
    response = admin_page.get(f"{CHANGELIST}?{query}")

    assert response.status_code == 200
    assert message in response.content.decode()
    assert _changelist_ids(response) == []


def test_the_changelist_never_counts_the_whole_table(admin_page, requests):
    with CaptureQueriesContext(connection) as queries:
        admin_page.get(CHANGELIST)
        admin_page.get(f"{CHANGELIST}?status__exact=COMPLETED")

    counts = [
        q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()
    ]
    request_counts = [sql for sql in counts if "workrequests_workrequest" in sql]
    assert request_counts, "the changelist did not count at all"
    assert all("LIMIT" in sql.upper() for sql in request_counts)
    assert not any(
        "JOIN" in q["sql"].upper()
        for q in queries.captured_queries
        if "workrequests_workrequest" in q["sql"]
        and "SELECT" in q["sql"].upper()
        and "django_session" not in q["sql"]
    )


def test_past_the_cap_the_changelist_says_more_than(admin_page, requests, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 3)

    page = admin_page.get(CHANGELIST).content.decode()

    assert "More than 3 work requests; filter to narrow them down" in page


def test_the_changelist_needs_the_admin_role(client, requests):
    staff = UserFactory(username="staff", is_staff=True)
    sign_in(client, staff)

    response = client.get(CHANGELIST)

    assert response.status_code in (302, 403)
    assert str(requests["visitor"].pk) not in response.content.decode()


def test_the_cancel_action_cancels_active_requests_only(admin_page, requests):
    response = admin_page.post(
        CHANGELIST,
        {
            "action": "cancel_requests",
            "_selected_action": [requests["bob"].pk, requests["alice_old"].pk],
        },
        follow=True,
    )

    assert "Cancelled 1 requests." in response.content.decode()
    requests["bob"].refresh_from_db()
    requests["alice_old"].refresh_from_db()
    assert requests["bob"].status == Status.CANCELLED
    assert requests["alice_old"].status == Status.COMPLETED


def test_only_the_admin_role_reads_everyones_requests(admin_user, owner, requests):
    assert work_requests_of_everyone(admin_user).count() == 4
    assert work_requests_of_everyone(owner).count() == 0
    assert work_requests_of_everyone(UserFactory(is_staff=True)).count() == 0
