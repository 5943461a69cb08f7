"""Purging requests past the retention age, by task, command or by hand."""

import threading
from datetime import timedelta
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from config.schedule import Every, schedule
from tests.factories import ModelFactory, UserFactory, WorkRequestFactory
from workrequests.models import (
    CachedResult,
    ResultChunk,
    WorkRequest,
    WorkRequestInputs,
)
from workrequests.purge import work_requests_purge
from workrequests.tasks import purge_expired_requests

Status = WorkRequest.Status


def _request(model, user, *, age_days: float, status=Status.COMPLETED, chunks=1):
    work_request = WorkRequestFactory(
        model=model,
        user=user,
        status=status,
        submitted_at=timezone.now() - timedelta(days=age_days),
    )
    for index in range(chunks):
        ResultChunk.objects.create(
            work_request=work_request,
            source=ResultChunk.Source.CACHE if index else ResultChunk.Source.MODEL,
            positions=[index],
            records=[{"length": 1}],
        )
    return work_request


@pytest.fixture
def model(db):
    return ModelFactory(id="describe")


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.mark.django_db
def test_it_removes_exactly_the_expired_requests_and_their_data(model, user, settings):
    settings.WORK_REQUEST_RETENTION_DAYS = 7
    expired = [
        _request(model, user, age_days=8, chunks=2),
        _request(model, user, age_days=30, status=Status.FAILED),
        _request(model, user, age_days=7.01, status=Status.CANCELLED, chunks=0),
    ]
    kept = [
        _request(model, user, age_days=6.9),
        _request(model, user, age_days=20, status=Status.QUEUED),
        _request(model, user, age_days=20, status=Status.SCHEDULING),
        _request(model, user, age_days=20, status=Status.PROCESSING),
    ]
    CachedResult.objects.create(
        model=model, model_version="1.0", input_hash="a" * 64, record={}
    )

    report = work_requests_purge()

    assert (report.requests, report.inputs, report.result_chunks) == (3, 3, 3)
    assert set(WorkRequest.objects.values_list("pk", flat=True)) == {
        request.pk for request in kept
    }
    expired_ids = [request.pk for request in expired]
    assert not WorkRequestInputs.objects.filter(work_request__in=expired_ids).exists()
    assert not ResultChunk.objects.filter(work_request__in=expired_ids).exists()
    assert WorkRequestInputs.objects.count() == len(kept)
    assert ResultChunk.objects.count() == len(kept)
    assert CachedResult.objects.count() == 1


def test_the_purge_knows_every_table_that_points_at_a_request():
    # The purge deletes these children itself before the requests; a new
    # relation must be added there too (the database would refuse the purge).
    related = {relation.related_model for relation in WorkRequest._meta.related_objects}

    assert related == {WorkRequestInputs, ResultChunk}


@pytest.mark.django_db
def test_it_deletes_in_batches_of_the_configured_size(model, user, settings):
    settings.WORK_REQUEST_PURGE_BATCH_SIZE = 2
    for _ in range(5):
        _request(model, user, age_days=9)
    sizes = []

    report = work_requests_purge(on_batch=lambda count, ms: sizes.append(count))

    assert sizes == [2, 2, 1]
    assert report.batches == 3
    assert report.requests == 5
    assert report.longest_batch_ms > 0
    assert not WorkRequest.objects.exists()


@pytest.mark.django_db
def test_a_dry_run_counts_and_deletes_nothing(model, user):
    _request(model, user, age_days=9, chunks=2)
    _request(model, user, age_days=1)

    report = work_requests_purge(dry_run=True)

    assert (report.requests, report.inputs, report.result_chunks, report.batches) == (
        1,
        1,
        2,
        0,
    )
    assert WorkRequest.objects.count() == 2


@pytest.mark.django_db
def test_a_second_purge_finds_nothing_left(model, user):
    _request(model, user, age_days=9)

    first = work_requests_purge()
    second = work_requests_purge()

    assert (first.requests, second.requests, second.batches) == (1, 0, 0)


@pytest.mark.django_db(transaction=True)
def test_rows_another_purge_holds_are_skipped_not_waited_for(model, user):
    held = [_request(model, user, age_days=9) for _ in range(3)]
    free = [_request(model, user, age_days=9) for _ in range(4)]
    database = connection.settings_dict
    other = psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        user=database["USER"],
        dbname=database["NAME"],
    )
    try:
        ids = [request.pk for request in held]
        other.execute(
            "SELECT id FROM workrequests_workrequest WHERE id = ANY(%s) FOR UPDATE",
            [ids],
        )

        report = work_requests_purge(batch_size=2)

        assert report.requests == len(free)
        assert set(WorkRequest.objects.values_list("pk", flat=True)) == set(ids)
    finally:
        other.rollback()
        other.close()

    assert work_requests_purge().requests == len(held)
    assert not WorkRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_purges_at_once_delete_each_request_once(model, user):
    expired = {_request(model, user, age_days=9, chunks=2).pk for _ in range(300)}
    kept = _request(model, user, age_days=1).pk
    start = threading.Barrier(2)
    reports = []
    errors = []

    def purge():
        try:
            start.wait(timeout=10)
            reports.append(work_requests_purge(batch_size=7))
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(reports) == 2
    assert sum(report.requests for report in reports) == len(expired)
    assert sum(report.result_chunks for report in reports) == 2 * len(expired)
    assert sum(report.inputs for report in reports) == len(expired)
    assert list(WorkRequest.objects.values_list("pk", flat=True)) == [kept]
    assert ResultChunk.objects.filter(work_request__in=expired).count() == 0


@pytest.mark.django_db
def test_the_command_reports_what_it_deleted(model, user):
    _request(model, user, age_days=9, chunks=2)
    _request(model, user, age_days=3)
    out = StringIO()

    call_command("purge_requests", stdout=out)

    text = out.getvalue()
    assert (
        "Deleted 1 requests, 1 input lists and 2 result chunks submitted before" in text
    )
    assert "in 1 batches" in text
    assert WorkRequest.objects.count() == 1


@pytest.mark.django_db
def test_the_command_takes_an_age_and_a_dry_run(model, user):
    _request(model, user, age_days=3)
    _request(model, user, age_days=1)
    out = StringIO()

    call_command("purge_requests", "--older-than", "2", "--dry-run", stdout=out)
    assert (
        "Would delete 1 requests, 1 input lists and 1 result chunks" in out.getvalue()
    )
    assert WorkRequest.objects.count() == 2

    call_command("purge_requests", "--older-than", "2", "-v", "2", stdout=out)
    assert "  batch: 1 requests in " in out.getvalue()
    assert WorkRequest.objects.count() == 1


@pytest.mark.django_db
def test_the_command_is_quiet_at_verbosity_zero(model, user):
    _request(model, user, age_days=9)
    out = StringIO()

    call_command("purge_requests", "-v", "0", stdout=out)

    assert out.getvalue() == ""
    assert not WorkRequest.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("age", ["-1", "seven", "1.5"])
def test_the_command_refuses_a_bad_age(model, user, age):
    _request(model, user, age_days=9)

    with pytest.raises(CommandError, match="older-than"):
        call_command("purge_requests", "--older-than", age)

    assert WorkRequest.objects.count() == 1


@pytest.mark.django_db
def test_the_task_purges_with_the_retention_setting(model, user, settings):
    settings.WORK_REQUEST_RETENTION_DAYS = 2
    _request(model, user, age_days=3)
    _request(model, user, age_days=1)

    assert purge_expired_requests.apply().get() == 1
    assert WorkRequest.objects.count() == 1


def test_the_purge_runs_hourly_from_the_beat_schedule():
    entries = [
        entry for entry in schedule() if entry.task.endswith("purge_expired_requests")
    ]

    assert len(entries) == 1
    assert entries[0].task == purge_expired_requests.name
    assert entries[0].when == Every(3600)
