import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from instances.models import InstanceEvent, ModelInstance
from instances.services import instance_lease_idle, instance_stop, instances_stop_idle
from tests.factories import ModelInstanceFactory
from tests.instances.conftest import make_model

State = ModelInstance.State
Desired = ModelInstance.DesiredState


def make_instance(model, name, *, state=State.READY, idle_for=0, **fields):
    now = timezone.now()
    values = {
        "model": model,
        "name": name,
        "state": state,
        "requested_at": now - timedelta(hours=1),
        "started_at": now - timedelta(hours=1),
        "ready_at": now - timedelta(seconds=idle_for) if state == State.READY else None,
    }
    values.update(fields)
    return ModelInstanceFactory(**values)


def wanted(instance):
    instance.refresh_from_db()
    return instance.desired_state == Desired.RUNNING


@pytest.mark.django_db
class TestStopIdle:
    def test_it_stops_an_instance_idle_past_its_timeout(self):
        model = make_model(idle_timeout=60)
        idle = make_instance(model, "idle", idle_for=61)
        recent = make_instance(model, "recent", idle_for=30)

        stopped = instances_stop_idle()

        assert [instance.name for instance in stopped] == ["idle"]
        assert not wanted(idle)
        assert idle.termination_reason == ModelInstance.TerminationReason.IDLE
        assert idle.events.get().kind == InstanceEvent.Kind.STOP_REQUESTED
        assert wanted(recent)

    def test_it_counts_idleness_from_the_last_job(self):
        model = make_model(idle_timeout=60)
        used = make_instance(
            model,
            "used",
            idle_for=600,
            last_used_at=timezone.now() - timedelta(seconds=5),
        )

        assert instances_stop_idle() == []
        assert wanted(used)

    def test_it_keeps_the_model_minimum_and_stops_the_longest_idle_first(self):
        model = make_model(idle_timeout=60, min_instances=1)
        now = timezone.now()
        older = make_instance(
            model, "older", idle_for=900, last_used_at=now - timedelta(seconds=900)
        )
        newer = make_instance(
            model, "newer", idle_for=900, last_used_at=now - timedelta(seconds=300)
        )

        stopped = instances_stop_idle()

        assert [instance.name for instance in stopped] == ["older"]
        assert not wanted(older)
        assert wanted(newer)
        assert instances_stop_idle() == []

    def test_it_never_stops_a_leased_or_starting_instance(self):
        model = make_model(idle_timeout=60)
        leased = make_instance(
            model,
            "leased",
            idle_for=900,
            lease_key="request-1",
            leased_at=timezone.now(),
        )
        starting = make_instance(model, "starting", state=State.STARTING)

        stopped = instances_stop_idle(now=timezone.now() + timedelta(days=1))

        assert stopped == []
        assert wanted(leased)
        assert wanted(starting)

    def test_it_spares_an_instance_leased_after_it_was_found_idle(self):
        model = make_model(idle_timeout=60)
        instance = make_instance(model, "raced", idle_for=900)

        def leased_meanwhile(self, seconds, now=None):
            ModelInstance.objects.filter(pk=self.pk).update(lease_key="request-2")
            return True

        with mock.patch.object(ModelInstance, "is_idle_past", leased_meanwhile):
            stopped = instances_stop_idle()

        assert stopped == []
        assert wanted(instance)
        assert instance.lease_key == "request-2"

    def test_it_spares_an_instance_used_after_it_was_found_idle(self):
        model = make_model(idle_timeout=60)
        instance = make_instance(model, "used-meanwhile", idle_for=900)

        def released_meanwhile(self, seconds, now=None):
            ModelInstance.objects.filter(pk=self.pk).update(last_used_at=timezone.now())
            return True

        with mock.patch.object(ModelInstance, "is_idle_past", released_meanwhile):
            stopped = instances_stop_idle()

        assert stopped == []
        assert wanted(instance)


@pytest.mark.django_db
class TestStop:
    def test_it_ends_an_instance_that_was_never_started_at_once(self):
        model = make_model()
        instance = make_instance(model, "requested", state=State.REQUESTED)

        assert instance_stop(instance=instance) is True

        assert instance.state == State.STOPPED
        assert instance.stopped_at is not None

    def test_it_refuses_to_stop_an_instance_twice(self):
        model = make_model()
        instance = make_instance(model, "ready")

        assert instance_stop(instance=instance) is True
        assert instance_stop(instance=instance) is False
        assert instance.events.count() == 1


@pytest.mark.django_db
def test_it_does_not_lease_an_instance_being_stopped():
    model = make_model()
    instance = make_instance(model, "stopping")
    original_filter = ModelInstance.objects.filter

    def stop_before_update(*args, **kwargs):
        if "pk" in kwargs and "lease_key" in kwargs:
            ModelInstance.objects.all().update(desired_state=Desired.STOPPED)
        return original_filter(*args, **kwargs)

    with mock.patch.object(ModelInstance.objects, "filter", stop_before_update):
        leased = instance_lease_idle(model=model, lease_key="request-3")

    assert leased is None
    instance.refresh_from_db()
    assert instance.lease_key == ""


@pytest.mark.django_db(transaction=True)
def test_it_never_leases_one_instance_twice_when_dispatchers_race():
    model = make_model()
    instances = [make_instance(model, f"ready-{number}") for number in range(3)]
    contenders = 8
    barrier = threading.Barrier(contenders)
    results: list[tuple[str, int | None]] = []
    lock = threading.Lock()

    def lease(key):
        try:
            barrier.wait(timeout=10)
            instance = instance_lease_idle(model=model, lease_key=key)
            with lock:
                results.append((key, instance.pk if instance else None))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=lease, args=(f"request-{number}",))
        for number in range(contenders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    leased = {key: pk for key, pk in results if pk is not None}
    assert len(results) == contenders
    assert sorted(leased.values()) == sorted(instance.pk for instance in instances)
    for instance in instances:
        instance.refresh_from_db()
        assert leased[instance.lease_key] == instance.pk
        assert instance.events.filter(kind=InstanceEvent.Kind.LEASED).count() == 1
