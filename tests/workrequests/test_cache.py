"""The per-input result cache: keys, reads at submission, writes on success."""

import hashlib
import json

import pytest
import redis
from django.conf import settings
from django.core.cache import cache

from accounts.identity import Owner
from instances.models import InstanceEvent
from models_registry.models import Model
from tests.factories import AnonymousIdentityFactory, ModelFactory, UserFactory
from tests.workrequests.support import described, run_on_ready_instance, sign_in
from workrequests.cache import (
    ResultCacheForbidden,
    cache_clear,
    cache_lookup,
    cache_summaries,
    input_hash,
)
from workrequests.models import CachedResult, ResultChunk, WorkRequest
from workrequests.results import result_table
from workrequests.selectors import work_request_inputs
from workrequests.services import WorkRequestError, work_request_submit

pytestmark = pytest.mark.django_db

Status = WorkRequest.Status


@pytest.fixture(autouse=True)
def no_submissions_counted_yet():
    # Submission limits are counted in the shared cache, across tests.
    cache.clear()


@pytest.fixture
def broker():
    connection = redis.Redis.from_url(settings.REDIS_URL)
    connection.delete("celery")
    yield connection
    connection.delete("celery")


def _rows(work_request: WorkRequest) -> list[dict]:
    return result_table(work_request, work_request_inputs(work_request))["rows"]


def _submit(owner_user, model, inputs, *, opt_in=False) -> WorkRequest:
    return work_request_submit(
        owner=Owner(user=owner_user),
        model_id=model.pk,
        inputs=inputs,
        cache_opt_in=opt_in,
    )


def _cache(model, version, values, contributor=None):
    for value in values:
        CachedResult.objects.create(
            model=model,
            model_version=version,
            input_hash=input_hash(value),
            record={"length": len(value), "upper": value.upper(), "error": None},
            contributor=contributor,
        )


def test_the_key_is_the_sha256_of_the_trimmed_input():
    assert input_hash("  CCO\t") == hashlib.sha256(b"CCO").hexdigest()
    assert input_hash("CCO") != input_hash("cco")


def test_cache_keys_change_with_the_model_version(model):
    _cache(model, "1.0", ["CCO"])

    assert cache_lookup(model=model, version="1.0", inputs=["CCO"]).positions == [0]
    assert cache_lookup(model=model, version="2.0", inputs=["CCO"]).positions == []


def test_a_new_model_version_makes_the_next_request_miss(owner, model):
    _cache(model, model.cache_version, ["CCO"])
    Model.objects.filter(pk=model.pk).update(version="2.0")

    work_request = _submit(owner, model, ["CCO"])

    assert work_request.model_version == "2.0"
    assert work_request.cached_count == 0
    assert work_request.status == Status.QUEUED


def test_a_fully_cached_request_completes_inside_the_submission(
    owner, model, broker, django_capture_on_commit_callbacks
):
    _cache(model, model.cache_version, ["CCO", "N"])

    with django_capture_on_commit_callbacks(execute=True):
        work_request = _submit(owner, model, ["CCO", "N", "CCO"])

    assert work_request.status == Status.COMPLETED
    assert work_request.cached_count == 3
    assert work_request.done_count == 3
    assert work_request.finished_at == work_request.submitted_at
    assert work_request.instance_id is None
    assert work_request.scheduled_at is None
    assert broker.llen("celery") == 0
    chunk = ResultChunk.objects.get(work_request=work_request)
    assert chunk.source == ResultChunk.Source.CACHE
    assert chunk.positions == [0, 1, 2]
    assert _rows(work_request) == [described("CCO"), described("N"), described("CCO")]


def test_a_fully_cached_request_of_1000_inputs_takes_a_few_queries(
    owner, model, django_assert_max_num_queries
):
    inputs = [f"C{'C' * (n % 40)}N{n}" for n in range(1000)]
    _cache(model, model.cache_version, inputs)

    with django_assert_max_num_queries(8):
        work_request = _submit(owner, model, inputs)

    assert work_request.status == Status.COMPLETED
    assert work_request.cached_count == 1000


def test_all_cached_partly_cached_and_uncached_requests_give_the_same_results(
    owner, model, serve
):
    endpoint = serve()
    inputs = ["CCO", "N", "bad", "CCO", "c1ccccc1", "N"]
    expected = [described(value) for value in inputs]

    uncached = _submit(owner, model, inputs, opt_in=True)
    assert uncached.cached_count == 0
    run_on_ready_instance(uncached, endpoint)
    assert uncached.status == Status.COMPLETED

    # "bad" gave an error row, which is not cached: the next one is partial.
    partial = _submit(owner, model, ["O", *inputs])
    assert partial.cached_count == 5
    assert partial.status == Status.QUEUED
    instance = run_on_ready_instance(partial, endpoint)
    sent = instance.events.get(kind=InstanceEvent.Kind.JOB_SUBMITTED)
    assert sent.details == {"inputs": 2}

    Model.objects.filter(pk=model.pk).update(cache_enabled=False)
    plain = _submit(owner, Model.objects.get(pk=model.pk), inputs)
    assert plain.cached_count == 0
    run_on_ready_instance(plain, endpoint)
    Model.objects.filter(pk=model.pk).update(cache_enabled=True)

    full = _submit(owner, model, [value for value in inputs if value != "bad"])
    assert full.status == Status.COMPLETED

    assert _rows(uncached) == expected
    assert _rows(partial) == [described("O"), *expected]
    assert _rows(plain) == expected
    assert _rows(full) == [row for row in expected if row["input"] != "bad"]


def test_an_opted_in_request_writes_its_computed_results_once(owner, model, serve):
    work_request = _submit(owner, model, ["CCO", "N", "CCO", "bad"], opt_in=True)

    run_on_ready_instance(work_request, serve(), version="1.0")

    rows = CachedResult.objects.order_by("input_hash")
    assert sorted((row.input_hash, row.model_version) for row in rows) == sorted(
        [(input_hash("CCO"), "1.0"), (input_hash("N"), "1.0")]
    )
    assert {row.contributor_id for row in rows} == {owner.pk}
    assert CachedResult.objects.get(input_hash=input_hash("N")).record == {
        "length": 1,
        "upper": "N",
        "error": None,
    }


def test_a_request_that_did_not_opt_in_writes_nothing(owner, model, serve):
    work_request = _submit(owner, model, ["CCO", "N"], opt_in=False)

    run_on_ready_instance(work_request, serve())

    assert work_request.status == Status.COMPLETED
    assert CachedResult.objects.count() == 0


def test_results_are_cached_under_the_version_the_instance_reports(owner, model, serve):
    work_request = _submit(owner, model, ["CCO"], opt_in=True)

    run_on_ready_instance(work_request, serve(), version="1.1-reported")

    assert work_request.model_version == "1.1-reported"
    assert list(CachedResult.objects.values_list("model_version", flat=True)) == [
        "1.1-reported"
    ]


def test_hits_of_another_version_are_computed_again_by_the_instance(
    owner, model, serve
):
    _cache(model, model.cache_version, ["CCO"])
    CachedResult.objects.update(record={"length": 999, "upper": "STALE", "error": None})
    work_request = _submit(owner, model, ["CCO", "N"])
    assert work_request.cached_count == 1

    instance = run_on_ready_instance(work_request, serve(), version="2.0")

    assert work_request.status == Status.COMPLETED
    assert work_request.cached_count == 0
    assert work_request.model_version == "2.0"
    assert _rows(work_request) == [described("CCO"), described("N")]
    sent = instance.events.get(kind=InstanceEvent.Kind.JOB_SUBMITTED)
    assert sent.details == {"inputs": 2}


def test_a_model_whose_cache_is_disabled_is_not_read(owner):
    model = ModelFactory(id="uncached", cache_enabled=False)
    _cache(model, model.cache_version, ["CCO"])

    work_request = _submit(owner, model, ["CCO"])

    assert work_request.cached_count == 0
    assert work_request.status == Status.QUEUED


def test_the_cache_of_one_model_never_answers_another(owner, model):
    other = ModelFactory(id="other-model", tag=model.tag)
    _cache(other, other.cache_version, ["CCO"])

    work_request = _submit(owner, model, ["CCO"])

    assert work_request.cached_count == 0


def test_anonymous_visitors_cannot_opt_in(model):
    owner = Owner(anonymous=AnonymousIdentityFactory())

    with pytest.raises(WorkRequestError, match="Only registered users"):
        work_request_submit(
            owner=owner, model_id=model.pk, inputs=["CCO"], cache_opt_in=True
        )

    assert WorkRequest.objects.count() == 0


def test_a_non_admin_cannot_clear_a_cache(owner, model):
    _cache(model, "1.0", ["CCO", "N"])

    with pytest.raises(ResultCacheForbidden):
        cache_clear(model=model, actor=owner)

    assert CachedResult.objects.count() == 2


def test_an_admin_clears_every_version_of_one_model_only(admin_user, model):
    other = ModelFactory(id="kept-model")
    _cache(model, "1.0", ["CCO"])
    _cache(model, "2.0", ["CCO", "N"])
    _cache(other, "1.0", ["CCO"])

    assert cache_clear(model=model, actor=admin_user) == 3

    assert list(CachedResult.objects.values_list("model_id", flat=True)) == [
        "kept-model"
    ]


def test_the_summary_gives_size_and_hit_rate(owner, model):
    _cache(model, model.cache_version, ["CCO", "N"])
    _cache(model, "0.9", ["O"])
    _submit(owner, model, ["CCO", "N", "O", "C"])

    summary = cache_summaries(models=[model])[0]

    assert summary.size == 3
    assert summary.size_current_version == 2
    assert summary.lookups == 4
    assert summary.hits == 2
    assert summary.hit_rate == 0.5


# --- The admin API over the cache ------------------------------------------


def test_the_cache_api_needs_the_admin_role(api_client, owner, model):
    _cache(model, "1.0", ["CCO"])
    url = f"/api/admin/result-cache/{model.pk}/"

    anonymous = api_client.delete(url)
    api_client.force_authenticate(owner)
    forbidden = api_client.delete(url)
    listing = api_client.get("/api/admin/result-cache/")

    assert anonymous.status_code in (401, 403)
    assert forbidden.status_code == 403
    assert listing.status_code == 403
    assert CachedResult.objects.count() == 1


def test_an_admin_reads_and_clears_a_cache_through_the_api(
    api_client, admin_user, model
):
    _cache(model, model.cache_version, ["CCO", "N"])
    api_client.force_authenticate(admin_user)

    listing = api_client.get("/api/admin/result-cache/")
    cleared = api_client.delete(f"/api/admin/result-cache/{model.pk}/")
    missing = api_client.delete("/api/admin/result-cache/no-such-model/")

    assert listing.status_code == 200
    assert listing.json() == [
        {
            "model": model.pk,
            "enabled": True,
            "version": model.cache_version,
            "size": 2,
            "size_current_version": 2,
            "lookups": 0,
            "hits": 0,
            "hit_rate": None,
        }
    ]
    assert cleared.status_code == 200
    assert cleared.json() == {"model": model.pk, "deleted": 2}
    assert missing.status_code == 404
    assert CachedResult.objects.count() == 0


# --- The result cache pages --------------------------------------------------


def test_the_cache_pages_need_the_admin_role(client, model):
    _cache(model, "1.0", ["CCO"])
    sign_in(client, UserFactory(username="plain"))

    listing = client.get("/requests/cache/")
    confirm = client.get(f"/requests/cache/{model.pk}/clear/")
    cleared = client.post(f"/requests/cache/{model.pk}/clear/")

    assert (listing.status_code, confirm.status_code, cleared.status_code) == (
        403,
        403,
        403,
    )
    assert CachedResult.objects.count() == 1


def test_an_admin_confirms_before_clearing_a_cache(client, admin_user, owner, model):
    _cache(model, model.cache_version, ["CCO", "N"])
    _submit(owner, model, ["CCO", "O", "N", "C"])
    sign_in(client, admin_user)

    listing = client.get("/requests/cache/")
    confirm = client.get(f"/requests/cache/{model.pk}/clear/")

    assert listing.status_code == 200
    assert b'data-field="size">2<' in listing.content
    assert b'data-field="hit-rate">50.0 %<' in listing.content
    assert confirm.status_code == 200
    assert b'<strong data-field="size">2</strong> cached results' in confirm.content
    assert b"answered 50 % of the inputs" in confirm.content
    assert CachedResult.objects.count() == 2

    cleared = client.post(f"/requests/cache/{model.pk}/clear/", follow=True)

    assert cleared.redirect_chain == [("/requests/cache/", 302)]
    assert b"Cleared 2 cached results of describe." in cleared.content
    assert CachedResult.objects.count() == 0


def test_clearing_the_cache_of_an_unknown_model_is_not_found(client, admin_user):
    sign_in(client, admin_user)

    assert client.post("/requests/cache/no-such-model/clear/").status_code == 404
    assert client.get("/requests/cache/no-such-model/clear/").status_code == 404


def test_the_api_answers_a_fully_cached_submission_as_completed(
    owner_client, model, broker
):
    _cache(model, model.cache_version, ["CCO"])

    response = owner_client.post(
        "/api/work-requests/", {"model": model.pk, "inputs": ["CCO"]}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["cached_count"], body["progress"]) == (
        "COMPLETED",
        1,
        100,
    )
    download = owner_client.get(f"/api/work-requests/{body['id']}/result/?format=json")
    assert json.loads(download.content) == [described("CCO")]
    assert broker.llen("celery") == 0
