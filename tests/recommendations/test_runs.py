"""Runs: which instances they profile, the engine state, the lock, the schedule."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.schedule import install_schedule
from models_registry.services import model_set_resources
from recommendations import services, tasks
from recommendations.errors import RecommendationError, RunInProgress
from recommendations.models import (
    ModelRecommendation,
    Profile,
    ProfileBand,
    RecommendationRun,
)
from recommendations.selectors import engine_state, usage_by_model
from recommendations.services import RunParameters, run_execute, run_start
from tests.factories import ModelFactory
from tests.recommendations.helpers import EXAMPLE_RESOURCES, latest

Run = RecommendationRun


def _three(persist, model, **kwargs):
    return [persist(model, **kwargs) for _ in range(3)]


def test_it_gives_not_enough_data_below_the_minimum(persist, compute):
    model = ModelFactory(id="sparse", k8s_resources=EXAMPLE_RESOURCES)
    persist(model)
    persist(model)

    compute()

    result = latest(model)
    assert result.status == ModelRecommendation.Status.NOT_ENOUGH_DATA
    assert result.instances == 2
    assert result.profiles == {}
    assert result.reason == (
        "A recommendation needs at least 3 finished instances in the window; "
        "this model has 2."
    )


def test_it_reads_the_minimum_from_settings(settings, persist, compute):
    settings.RECOMMENDATIONS_MIN_INSTANCES = 1
    model = ModelFactory(id="single", k8s_resources=EXAMPLE_RESOURCES)
    persist(model, cpu=(10, 600))

    compute()

    assert latest(model).status == ModelRecommendation.Status.OK
    assert latest(model).profiles["cpu_max"]["current_value"] == "600"


def test_it_gives_not_enough_data_to_a_model_with_no_instances(compute, db):
    model = ModelFactory(id="never-ran")

    compute()

    assert latest(model).status == ModelRecommendation.Status.NOT_ENOUGH_DATA
    assert latest(model).instances == 0


def test_it_ignores_instances_that_are_still_running(persist, compute):
    model = ModelFactory(id="busy", k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, model, cpu=(10, 500))
    persist(model, cpu=(1, 990), final=False)

    compute()

    result = latest(model)
    assert result.instances == 3
    assert result.profiles["cpu_max"]["current_value"] == "500"
    assert result.profiles["cpu_min"]["current_value"] == "10"


def test_it_skips_disabled_models(persist, compute):
    enabled = ModelFactory(id="on", k8s_resources=EXAMPLE_RESOURCES)
    disabled = ModelFactory(id="off", enabled=False, k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, enabled)
    _three(persist, disabled)

    run = compute()

    assert run.models_profiled == 1
    assert list(ModelRecommendation.objects.values_list("model_id", flat=True)) == [
        "on"
    ]


def test_it_profiles_only_the_newest_instances_up_to_the_limit(persist, compute):
    model = ModelFactory(id="many", k8s_resources=EXAMPLE_RESOURCES)
    now = timezone.now()
    persist(model, cpu=(5, 990), ended_at=now - timedelta(days=3))
    for hours in (1, 2, 3):
        persist(model, cpu=(40, 400 + hours), ended_at=now - timedelta(hours=hours))

    compute(limit=3)

    result = latest(model)
    assert result.instances == 3
    assert result.profiles["cpu_max"]["current_value"] == "403"
    assert result.profiles["cpu_min"]["current_value"] == "40"
    assert result.first_ended_at == now - timedelta(hours=3)
    assert result.last_ended_at == now - timedelta(hours=1)


def test_it_profiles_only_instances_that_ended_in_the_window(persist, compute):
    model = ModelFactory(id="windowed", k8s_resources=EXAMPLE_RESOURCES)
    now = timezone.now()
    since, until = now - timedelta(days=2), now - timedelta(days=1)
    persist(model, cpu=(1, 999), ended_at=since - timedelta(seconds=1))
    persist(model, cpu=(30, 300), ended_at=since)
    persist(model, cpu=(30, 310), ended_at=since + timedelta(hours=1))
    persist(model, cpu=(30, 320), ended_at=until - timedelta(seconds=1))
    persist(model, cpu=(1, 998), ended_at=until)

    run = compute(since=since, until=until)

    result = latest(model)
    assert (run.since, run.until) == (since, until)
    assert result.instances == 3
    assert result.profiles["cpu_max"]["current_value"] == "320"
    assert result.profiles["cpu_min"]["current_value"] == "30"


def test_it_rejects_bad_run_parameters(db):
    now = timezone.now()
    with pytest.raises(RecommendationError, match="since must be before until"):
        run_start(trigger="user", parameters=RunParameters(since=now, until=now))
    with pytest.raises(RecommendationError, match="limit must be between 3"):
        run_start(trigger="user", parameters=RunParameters(limit=2))
    with pytest.raises(RecommendationError, match="and 1000"):
        run_start(trigger="user", parameters=RunParameters(limit=1001))
    assert not Run.objects.exists()


def test_it_aggregates_with_a_fixed_number_of_queries(persist, compute):
    def queries_for(count: int) -> int:
        for index in range(count):
            model = ModelFactory(
                id=f"bulk-{count}-{index}", k8s_resources=EXAMPLE_RESOURCES
            )
            _three(persist, model, oom_killed=index % 2 == 0)
        with CaptureQueriesContext(connection) as captured:
            compute()
        ModelRecommendation.objects.all().delete()
        return len(captured)

    few, more = queries_for(2), queries_for(12)

    assert few == more
    # 13 statements, plus the savepoints of the test's own transaction.
    assert few <= 17


def test_usage_is_grouped_per_model_in_sql(persist, django_assert_num_queries):
    first = ModelFactory(id="first", k8s_resources=EXAMPLE_RESOURCES)
    second = ModelFactory(id="second", k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, first, cpu=(10, 100))
    _three(persist, second, cpu=(20, 200), oom_killed=True)

    with django_assert_num_queries(2):
        usage = usage_by_model(limit=100)

    assert usage["first"].instances == 3
    assert usage["second"].oom_limits == ("1Gi", "1Gi", "1Gi")
    assert usage["first"].cpu_max == 100


def test_state_goes_from_outdated_to_running_to_up_to_date(persist, db):
    model = ModelFactory(id="stateful", k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, model)
    assert engine_state().state == "outdated"
    assert engine_state().last_run_at is None

    run = run_start(trigger="user", parameters=RunParameters())
    assert engine_state().state == "running"
    assert engine_state().run == run

    run_execute(run_id=run.pk)
    state = engine_state()
    assert state.state == "up_to_date"
    assert state.run is None
    assert state.last_run_at == Run.objects.get().finished_at


def test_state_is_outdated_once_an_instance_finishes(persist, compute):
    model = ModelFactory(id="fresh", k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, model)
    compute()
    running = persist(model, final=False)
    assert engine_state().state == "up_to_date"

    running.final = True
    running.ended_at = timezone.now()
    running.save()

    assert engine_state().state == "outdated"


def test_state_is_outdated_once_an_allocation_changes(persist, compute):
    model = ModelFactory(id="resized", k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, model)
    compute()

    model_set_resources(
        model=model,
        k8s_resources={
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
    )

    assert engine_state().state == "outdated"
    compute(model=model)
    assert engine_state().state == "up_to_date"


def test_state_is_outdated_once_a_profile_changes(example_model, compute):
    compute()
    Profile.objects.get(name="cpu_max").save()

    assert engine_state().state == "outdated"


def test_state_is_outdated_when_a_new_model_appears(example_model, compute):
    compute()
    ModelFactory(id="newcomer")

    assert engine_state().state == "outdated"


def test_a_second_run_gets_the_current_state(db):
    first = run_start(trigger="user", parameters=RunParameters())

    with pytest.raises(RunInProgress) as raised:
        run_start(trigger="schedule", parameters=RunParameters())

    assert raised.value.run == first
    assert raised.value.http_status == 409
    assert Run.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_started_at_once_leave_exactly_one_running():
    ModelFactory(id="raced")
    barrier = threading.Barrier(4)
    outcomes: list[object] = []

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            outcomes.append(run_start(trigger="user", parameters=RunParameters()))
        except RunInProgress as error:
            outcomes.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    runs = [outcome for outcome in outcomes if isinstance(outcome, Run)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, RunInProgress)]
    assert len(runs) == 1
    assert len(refused) == 3
    assert {error.run.pk for error in refused if error.run} <= {runs[0].pk}
    assert Run.objects.filter(state=Run.State.RUNNING).count() == 1


def test_an_abandoned_run_stops_holding_the_lock(settings, db):
    settings.RECOMMENDATIONS_RUN_TIMEOUT = 60
    crashed = run_start(trigger="user", parameters=RunParameters())
    Run.objects.filter(pk=crashed.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=61)
    )
    assert engine_state().state != "running"

    fresh = run_start(trigger="user", parameters=RunParameters())

    crashed.refresh_from_db()
    assert crashed.state == Run.State.FAILED
    assert "Abandoned" in crashed.error
    assert fresh.state == Run.State.RUNNING
    # The crashed run's worker, should it come back, stores nothing.
    assert run_execute(run_id=crashed.pk) is None


def test_a_redelivered_task_does_not_run_twice(example_model, db):
    run = run_start(trigger="user", parameters=RunParameters())

    assert run_execute(run_id=run.pk).state == Run.State.SUCCEEDED
    assert run_execute(run_id=run.pk) is None
    assert ModelRecommendation.objects.count() == 1


def test_a_run_ended_elsewhere_meanwhile_stores_nothing(example_model, db):
    run = run_start(trigger="user", parameters=RunParameters())
    original = services._compute

    def compute_then_lose_the_lock(**kwargs):
        results = original(**kwargs)
        Run.objects.filter(pk=run.pk).update(state=Run.State.FAILED)
        return results

    with mock.patch.object(services, "_compute", compute_then_lose_the_lock):
        assert run_execute(run_id=run.pk) is None

    assert not ModelRecommendation.objects.exists()


def test_a_failing_run_is_recorded_and_frees_the_lock(example_model, db):
    run = run_start(trigger="user", parameters=RunParameters())

    with (
        mock.patch.object(services, "usage_by_model", side_effect=RuntimeError("boom")),
        pytest.raises(RuntimeError),
    ):
        run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.state == Run.State.FAILED
    assert run.error == "RuntimeError: boom"
    assert run.finished_at is not None
    assert run_start(trigger="user", parameters=RunParameters()).state == "running"


def test_a_new_run_replaces_the_latest_result_and_keeps_history(example_model, compute):
    first = compute()
    second = compute()

    results = ModelRecommendation.objects.filter(model=example_model)
    assert results.count() == 2
    assert latest(example_model).run == second
    assert results.get(run=first).is_latest is False


def test_a_model_run_leaves_other_models_alone(example_model, persist, compute):
    other = ModelFactory(id="other", k8s_resources=EXAMPLE_RESOURCES)
    _three(persist, other)
    compute()
    before = latest(other).pk

    run = compute(model=example_model)

    assert run.scope == Run.Scope.MODEL
    assert run.models_profiled == 1
    assert latest(other).pk == before
    assert latest(example_model).run == run


def test_it_restores_missing_profiles_with_the_defaults(example_model, compute):
    Profile.objects.filter(name="cpu_max").delete()

    compute()

    profile = Profile.objects.get(name="cpu_max")
    assert profile.floor == 200
    assert list(profile.bands.order_by("lower").values_list("state", flat=True)) == [
        "very_under",
        "under",
        "recommended",
        "over",
        "very_over",
    ]
    assert latest(example_model).profiles["cpu_max"]["recommended_value"] == 1200


def test_profiles_restored_during_a_run_leave_it_up_to_date(example_model, compute):
    Profile.objects.all().delete()

    run = compute()

    assert run.settings_updated_at == Profile.objects.latest("updated_at").updated_at
    assert engine_state().state == "up_to_date"


def test_it_uses_edited_bands_and_floors(example_model, compute):
    bands = ProfileBand.objects.filter(profile_id="cpu_max")
    bands.filter(state="recommended").update(upper=75)
    bands.filter(state="over").update(lower=75)
    Profile.objects.filter(name="cpu_max").update(floor=1500)

    compute()

    cpu_max = latest(example_model).profiles["cpu_max"]
    assert cpu_max["recommended_band"] == {"lower": "65", "upper": "75"}
    assert cpu_max["recommended_min"] == 1200  # 900 / 75 %
    assert cpu_max["recommended_value"] == 1500


def test_a_broken_band_fails_the_run_with_a_clear_error(example_model, db):
    ProfileBand.objects.filter(profile_id="memory_min", state="under").update(lower=41)
    run = run_start(trigger="user", parameters=RunParameters())

    with pytest.raises(
        RecommendationError, match="Profile memory_min is misconfigured"
    ):
        run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert run.state == Run.State.FAILED


def test_an_unreadable_allocation_is_its_own_outcome(example_model, compute):
    type(example_model).objects.filter(pk=example_model.pk).update(
        k8s_resources={"requests": {"cpu": "lots"}, "limits": {}}
    )

    run = compute()

    assert run.state == Run.State.SUCCEEDED
    result = latest(example_model)
    assert result.status == ModelRecommendation.Status.INVALID_ALLOCATION
    assert result.reason.startswith("The model's resources cannot be read")


def test_the_nightly_entry_is_installed_at_two_in_the_configured_zone(db):
    PeriodicTask.objects.filter(name="daily-0200-recommendations").delete()

    install_schedule()

    task = PeriodicTask.objects.get(name="daily-0200-recommendations")
    assert task.task == "recommendations.tasks.run_nightly"
    assert (task.crontab.hour, task.crontab.minute) == ("2", "0")
    assert str(task.crontab.timezone) == "UTC"
    assert task.expire_seconds == 3600


def test_the_nightly_task_runs_all_models_as_the_schedule(example_model):
    assert tasks.run_nightly() == Run.State.SUCCEEDED

    run = Run.objects.get()
    assert run.trigger == Run.Trigger.SCHEDULE
    assert run.started_by is None
    assert latest(example_model).run == run


def test_the_nightly_task_skips_while_a_run_is_going_on(example_model):
    going = run_start(trigger="user", parameters=RunParameters())

    assert tasks.run_nightly() is None

    assert list(Run.objects.all()) == [going]


def test_the_run_task_computes_the_claimed_run(example_model):
    run = run_start(trigger="user", parameters=RunParameters())

    assert tasks.run_recommendations(run.pk) == Run.State.SUCCEEDED
    assert latest(example_model).run == run


def test_the_run_task_ignores_a_run_that_does_not_exist(example_model):
    assert tasks.run_recommendations(987654) is None
    assert not ModelRecommendation.objects.exists()
