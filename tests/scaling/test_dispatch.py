"""Placing queued requests on instances."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from instances.models import ModelInstance
from scaling.models import ScalingDecision
from scaling.services import dispatch
from tests.factories import ModelFactory, ReadyInstanceFactory, WorkRequestFactory
from workrequests.models import WorkRequest

Status = WorkRequest.Status


def _queued(model, count, *, start=None):
    start = start or timezone.now() - timedelta(minutes=10)
    requests = []
    for index in range(count):
        work_request = WorkRequestFactory(model=model)
        WorkRequest.objects.filter(pk=work_request.pk).update(
            submitted_at=start + timedelta(seconds=index)
        )
        requests.append(work_request)
    return requests


@pytest.mark.django_db
def test_it_starts_instances_up_to_the_models_maximum_oldest_first(model):
    model.max_instances = 2
    model.save()
    requests = _queued(model, 3)

    report = dispatch()

    assert report.placed == [requests[0].pk, requests[1].pk]
    statuses = dict(WorkRequest.objects.values_list("pk", "status"))
    assert statuses == {
        requests[0].pk: Status.SCHEDULING,
        requests[1].pk: Status.SCHEDULING,
        requests[2].pk: Status.QUEUED,
    }
    instances = ModelInstance.objects.filter(model=model)
    assert instances.count() == 2
    assert set(instances.values_list("lease_key", flat=True)) == {
        f"work-request:{requests[0].pk}",
        f"work-request:{requests[1].pk}",
    }
    assert ScalingDecision.objects.filter(action="START").count() == 2
    scheduled = WorkRequest.objects.get(pk=requests[0].pk)
    expected = model.schedule_timeout + model.ready_timeout
    assert scheduled.deadline_at - scheduled.scheduled_at == timedelta(seconds=expected)


@pytest.mark.django_db
def test_it_reuses_an_idle_ready_instance_before_starting_one(model):
    model.max_instances = 1
    model.save()
    idle = ReadyInstanceFactory(model=model)
    (work_request,) = _queued(model, 1)

    report = dispatch()

    assert report.placed == [work_request.pk]
    assert report.runs == [work_request.pk]
    assert ModelInstance.objects.count() == 1
    idle.refresh_from_db()
    assert idle.lease_key == f"work-request:{work_request.pk}"


@pytest.mark.django_db
def test_it_is_fair_across_models():
    busy = ModelFactory(id="busy", max_instances=5)
    quiet = ModelFactory(id="quiet", max_instances=5)
    busy_requests = _queued(busy, 4)
    (quiet_request,) = _queued(quiet, 1, start=timezone.now() - timedelta(minutes=1))

    report = dispatch()

    assert report.placed[:3] == [
        busy_requests[0].pk,
        quiet_request.pk,
        busy_requests[1].pk,
    ]


@pytest.mark.django_db
def test_a_model_disabled_while_requests_wait_fails_them_with_a_reason(model):
    requests = _queued(model, 2)
    model.enabled = False
    model.save()

    report = dispatch()

    assert sorted(report.failed) == sorted(r.pk for r in requests)
    for work_request in requests:
        work_request.refresh_from_db()
        assert work_request.status == Status.FAILED
        assert (
            work_request.reason
            == "The model was disabled before this request could run."
        )
    assert not ModelInstance.objects.exists()


@pytest.mark.django_db
def test_nothing_is_placed_when_no_instance_may_start(model):
    model.max_instances = 1
    model.save()
    ReadyInstanceFactory(model=model, lease_key="work-request:elsewhere")
    _queued(model, 2)

    report = dispatch()

    assert report.placed == []
    assert WorkRequest.objects.filter(status=Status.QUEUED).count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_racing_never_claim_the_same_request():
    model = ModelFactory(id="raced", max_instances=50)
    requests = _queued(model, 40)
    barrier = threading.Barrier(2)
    reports = []

    def run():
        barrier.wait()
        try:
            reports.append(dispatch())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    placed = [pk for report in reports for pk in report.placed]
    assert len(placed) == len(set(placed)) == 40
    assert set(placed) == {r.pk for r in requests}
    assert ModelInstance.objects.count() == 40
    leases = list(ModelInstance.objects.values_list("lease_key", flat=True))
    assert len(set(leases)) == 40


@pytest.mark.django_db(transaction=True)
def test_racing_dispatchers_never_exceed_the_models_maximum():
    model = ModelFactory(id="capped", max_instances=3)
    _queued(model, 20)
    barrier = threading.Barrier(4)

    def run():
        barrier.wait()
        try:
            dispatch()
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert ModelInstance.objects.filter(model=model).count() == 3
    assert WorkRequest.objects.filter(status=Status.SCHEDULING).count() == 3
