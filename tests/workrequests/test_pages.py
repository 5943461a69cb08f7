"""The work request pages: new request, my requests, a request, cancel."""

import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import AnonymousIdentity
from models_registry.models import Model
from tests.factories import ModelFactory, WorkRequestFactory
from tests.workrequests.support import described, run_on_ready_instance, sign_in
from workrequests.models import CachedResult, ResultChunk, WorkRequest
from workrequests.views import PAGE_SIZE

pytestmark = pytest.mark.django_db

Status = WorkRequest.Status
NEW = "/requests/new/"


@pytest.fixture(autouse=True)
def no_submissions_counted_yet():
    # Submission limits are counted in the shared cache, across tests.
    cache.clear()


@pytest.fixture
def owner_page(client, owner):
    sign_in(client, owner)
    return client


def _preview(client, model, **data):
    return client.post(NEW, {"model": model.pk, "preview": "1", **data})


def _confirm_fields(response) -> dict[str, str]:
    """The hidden fields of the preview's submit form, as a browser sends them."""
    form = re.search(
        r'<form method="post" action="/requests/new/" id="confirm-form">(.*?)</form>',
        response.content.decode(),
        re.S,
    )
    assert form, "the preview offers no submit form"
    fields = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(1))
    )
    fields.pop("csrfmiddlewaretoken", None)
    return {name: _unescape(value) for name, value in fields.items()}


def _unescape(value: str) -> str:
    for escaped, plain in (
        ("&quot;", '"'),
        ("&#x27;", "'"),
        ("&lt;", "<"),
        ("&gt;", ">"),
    ):
        value = value.replace(escaped, plain)
    return value.replace("&amp;", "&")


# --- New request ------------------------------------------------------------


def test_the_new_request_page_describes_each_enabled_model(client):
    ModelFactory(
        id="descriptors",
        title="Descriptors",
        description="Molecular weight and friends.",
        output_columns=["molecular_weight", "logp"],
        input_limit=500,
    )
    ModelFactory(id="switched-off", enabled=False)

    response = client.get(NEW + "?model=descriptors")

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        '<option value="descriptors" selected>Descriptors (descriptors)</option>'
        in page
    )
    assert "switched-off" not in page
    card = re.search(
        r'<section class="wr-model-card" data-model-card="descriptors">(.*?)</section>',
        page,
        re.S,
    )
    assert card, "the chosen model's card is not shown"
    assert "Molecular weight and friends." in card.group(1)
    assert "<code>molecular_weight</code>, <code>logp</code>" in card.group(1)
    assert "Up to 500 inputs per request." in card.group(1)


def test_the_preview_counts_inputs_and_names_the_column(owner_page, model):
    response = _preview(
        owner_page, model, text="name,smiles\r\nethanol, CCO \r\n\r\nwater,O\r\n"
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        '<strong data-field="inputs-read">2</strong> inputs read from the column <code>smiles</code>; 1 blank line skipped.'
        in page
    )
    assert "<li><code>CCO</code></li>" in page
    assert _confirm_fields(response) == {"model": model.pk, "inputs": '["CCO", "O"]'}
    assert WorkRequest.objects.count() == 0


def test_the_preview_lists_rejected_lines_with_their_reason(
    owner_page, model, settings
):
    settings.INPUT_MAX_LENGTH = 10
    text = "CCO\nC\x07C\nCCCCCCCCCCCCCCCC\nN\n"

    response = _preview(owner_page, model, text=text)

    page = response.content.decode()
    assert "2 lines cannot be inputs. Fix them and preview again." in page
    assert "<tr><td>2</td><td>holds control or binary characters.</td></tr>" in page
    assert "<tr><td>3</td><td>longer than 10 characters.</td></tr>" in page
    assert 'id="confirm-form"' not in page
    assert WorkRequest.objects.count() == 0


def test_too_many_inputs_are_refused_before_submitting(owner_page):
    model = ModelFactory(id="small", input_limit=3)

    response = _preview(owner_page, model, text="A\nB\nC\nD\n")

    page = response.content.decode()
    assert "This model accepts at most 3 inputs per request; more were given." in page
    assert 'id="confirm-form"' not in page


def test_the_preview_reads_an_uploaded_file(owner_page, model):
    upload = SimpleUploadedFile("in.csv", b"\xef\xbb\xbfSMILES\nCCO\nc1ccccc1\n")

    response = owner_page.post(NEW, {"model": model.pk, "file": upload, "preview": "1"})

    assert (
        '<strong data-field="inputs-read">2</strong> inputs read from the column <code>SMILES</code>'
        in response.content.decode()
    )
    assert json.loads(_confirm_fields(response)["inputs"]) == ["CCO", "c1ccccc1"]


def test_a_binary_file_is_refused_naming_its_line(owner_page, model):
    upload = SimpleUploadedFile("in.csv", b"CCO\nN\n\x00\x01\x02")

    response = owner_page.post(NEW, {"model": model.pk, "file": upload, "preview": "1"})

    assert response.status_code == 200
    assert "Line 3: the file holds binary data, not text." in response.content.decode()
    assert "confirm-form" not in response.content.decode()


def test_a_file_that_is_not_utf8_is_refused(owner_page, model):
    upload = SimpleUploadedFile("in.csv", "CCO\nÉthanol\n".encode("latin-1"))

    response = owner_page.post(NEW, {"model": model.pk, "file": upload, "preview": "1"})

    assert "Line 2: the file is not UTF-8 text." in response.content.decode()


def test_a_file_over_the_size_limit_is_refused(owner_page, model, settings):
    settings.INPUT_MAX_UPLOAD_BYTES = 10
    upload = SimpleUploadedFile("in.csv", b"CCO\nCCN\nCCCC\n")

    response = owner_page.post(NEW, {"model": model.pk, "file": upload, "preview": "1"})

    assert "The file is larger than 10 bytes." in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"model": "no-such-model", "text": "CCO"}, "Choose one of the models listed."),
        ({"model": "", "text": "CCO"}, "This field is required."),
        ({"text": "   \n  "}, "Paste some inputs or choose a file."),
    ],
)
def test_bad_new_request_forms_say_what_is_wrong(owner_page, model, data, message):
    data = {"model": model.pk, **data}

    response = owner_page.post(NEW, {**data, "preview": "1"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert "confirm-form" not in response.content.decode()


def test_text_and_a_file_at_once_are_refused(owner_page, model):
    upload = SimpleUploadedFile("in.csv", b"CCO\n")

    response = owner_page.post(
        NEW, {"model": model.pk, "text": "N", "file": upload, "preview": "1"}
    )

    assert "Paste inputs or upload a file, not both." in response.content.decode()


def test_a_disabled_model_is_refused(owner_page):
    model = ModelFactory(id="retired", enabled=False)

    response = _preview(owner_page, model, text="CCO")

    assert "Choose one of the models listed." in response.content.decode()


def test_submitting_the_preview_queues_the_request_and_shows_it(
    owner_page, owner, model
):
    preview = _preview(owner_page, model, text="CCO\nN\n")

    response = owner_page.post(
        NEW, {**_confirm_fields(preview), "confirm": "1"}, follow=True
    )

    work_request = WorkRequest.objects.get()
    assert response.redirect_chain == [(f"/requests/{work_request.pk}/", 302)]
    assert work_request.user == owner
    assert work_request.payload.inputs == ["CCO", "N"]
    assert work_request.cache_opt_in is False
    assert (
        f"Request {work_request.pk} is queued with 2 inputs."
        in response.content.decode()
    )


def test_a_registered_user_may_share_results_with_the_cache(owner_page, model):
    preview = _preview(owner_page, model, text="CCO")
    assert 'name="cache_opt_in"' in preview.content.decode()

    owner_page.post(
        NEW, {**_confirm_fields(preview), "cache_opt_in": "on", "confirm": "1"}
    )

    assert WorkRequest.objects.get().cache_opt_in is True


def test_the_opt_in_is_not_offered_when_the_model_has_no_cache(owner_page):
    model = ModelFactory(id="no-cache", cache_enabled=False)

    preview = _preview(owner_page, model, text="CCO")

    assert 'name="cache_opt_in"' not in preview.content.decode()


def test_an_anonymous_visitor_submits_through_its_session(client, model):
    preview = _preview(client, model, text="CCO")
    assert 'name="cache_opt_in"' not in preview.content.decode()

    client.post(NEW, {**_confirm_fields(preview), "confirm": "1"})
    client.post(NEW, {**_confirm_fields(preview), "confirm": "1"})

    identity = AnonymousIdentity.objects.get()
    assert identity.work_requests.count() == 2
    listed = client.get("/requests/").content.decode()
    assert listed.count("data-request-id=") == 2


def test_an_anonymous_visitor_cannot_opt_in_and_nothing_is_written(client, model):
    preview = _preview(client, model, text="CCO")

    response = client.post(
        NEW, {**_confirm_fields(preview), "cache_opt_in": "on", "confirm": "1"}
    )

    assert response.status_code == 400
    assert (
        "Only registered users can share their results with the cache."
        in response.content.decode()
    )
    assert WorkRequest.objects.count() == 0
    assert AnonymousIdentity.objects.count() == 0


@pytest.mark.parametrize("inputs", ["not json", '{"a": 1}', ""])
def test_a_tampered_preview_is_refused(owner_page, model, inputs):
    response = owner_page.post(
        NEW, {"model": model.pk, "inputs": inputs, "confirm": "1"}
    )

    assert response.status_code == 400
    assert WorkRequest.objects.count() == 0


def test_inputs_sent_back_are_checked_again(owner_page, model):
    inputs = json.dumps(["CCO", "C\x00C", 5])

    response = owner_page.post(
        NEW, {"model": model.pk, "inputs": inputs, "confirm": "1"}
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert "Line 2: holds control or binary characters." in page
    assert "Line 3: each input must be a string." in page
    assert WorkRequest.objects.count() == 0


def test_a_model_disabled_after_the_preview_is_refused_on_submit(owner_page, model):
    preview = _preview(owner_page, model, text="CCO")
    Model.objects.filter(pk=model.pk).update(enabled=False)

    response = owner_page.post(NEW, {**_confirm_fields(preview), "confirm": "1"})

    assert response.status_code == 400
    assert "is not available at the moment." in response.content.decode()
    assert WorkRequest.objects.count() == 0


def test_too_many_submissions_are_refused_until_later(owner_page, model, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "submission": "2/m"}
    preview = _preview(owner_page, model, text="CCO")
    fields = {**_confirm_fields(preview), "confirm": "1"}

    statuses = [owner_page.post(NEW, fields).status_code for _ in range(3)]
    refused = owner_page.post(NEW, fields)

    assert statuses == [302, 302, 429]
    assert refused.status_code == 429
    assert (
        "You have submitted many requests in a short time; try again in"
        in refused.content.decode()
    )
    assert WorkRequest.objects.count() == 2


def test_a_fully_cached_submission_says_it_was_answered_at_once(owner_page, model):
    from workrequests.cache import input_hash

    CachedResult.objects.create(
        model=model,
        model_version=model.cache_version,
        input_hash=input_hash("CCO"),
        record={"length": 3, "upper": "CCO", "error": None},
    )
    preview = _preview(owner_page, model, text="CCO")

    response = owner_page.post(
        NEW, {**_confirm_fields(preview), "confirm": "1"}, follow=True
    )

    page = response.content.decode()
    assert "was answered at once: every input was already in the result cache." in page
    assert 'aria-valuenow="100"' in page
    assert '<span data-field="cached">1</span> answered from the result cache.' in page


# --- My requests --------------------------------------------------------------


def test_my_requests_lists_only_mine_newest_first_with_pages(
    owner_page, owner, other_user, model
):
    now = timezone.now()
    mine = [
        WorkRequestFactory(
            user=owner, model=model, submitted_at=now - timedelta(minutes=n)
        )
        for n in range(PAGE_SIZE + 2)
    ]
    theirs = WorkRequestFactory(user=other_user, model=model)

    first = owner_page.get("/requests/").content.decode()
    second = owner_page.get("/requests/?page=2").content.decode()

    ids = [int(i) for i in re.findall(r'data-request-id="(\d+)"', first)]
    assert ids == [request.pk for request in mine[:PAGE_SIZE]]
    assert [int(i) for i in re.findall(r'data-request-id="(\d+)"', second)] == [
        request.pk for request in mine[PAGE_SIZE:]
    ]
    assert f'data-request-id="{theirs.pk}"' not in first + second
    assert f"Page 1 of 2 ({PAGE_SIZE + 2} requests)" in first


def test_my_requests_filters_by_model_status_and_date(owner_page, owner, model):
    other_model = ModelFactory(id="other-model")
    today = timezone.now()
    old = WorkRequestFactory(
        user=owner, model=model, submitted_at=today - timedelta(days=10)
    )
    done = WorkRequestFactory(user=owner, model=model, status=Status.COMPLETED)
    other = WorkRequestFactory(user=owner, model=other_model)

    def listed(query):
        page = owner_page.get(f"/requests/?{query}").content.decode()
        return {int(i) for i in re.findall(r'data-request-id="(\d+)"', page)}

    since = (today - timedelta(days=2)).date().isoformat()
    until = (today - timedelta(days=5)).date().isoformat()
    assert listed(f"model={model.pk}") == {old.pk, done.pk}
    assert listed("status=COMPLETED") == {done.pk}
    assert listed(f"submitted_from={since}") == {done.pk, other.pk}
    assert listed(f"submitted_to={until}") == {old.pk}
    assert listed(f"model={model.pk}&submitted_from={since}") == {done.pk}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("submitted_from=yesterday", "Enter a valid date."),
        ("status=LOST", "Select a valid choice."),
        ("model=no-such-model", "Choose one of the models listed."),
        (
            "submitted_from=2030-01-02&submitted_to=2030-01-01",
            "This date is before the first one.",
        ),
    ],
)
def test_bad_filters_say_what_is_wrong_and_list_nothing(
    owner_page, owner, model, query, message
):
    WorkRequestFactory(user=owner, model=model)

    response = owner_page.get(f"/requests/?{query}")

    page = response.content.decode()
    assert response.status_code == 200
    assert message in page
    assert "data-request-id=" not in page


def test_the_list_polls_the_api_while_a_shown_request_is_active(
    owner_page, owner, model
):
    WorkRequestFactory(user=owner, model=model, status=Status.PROCESSING)

    page = owner_page.get(f"/requests/?model={model.pk}").content.decode()

    assert 'data-poll="list"' in page
    assert (
        f'data-poll-url="/api/work-requests/?model={model.pk}&amp;page=1&amp;page_size={PAGE_SIZE}"'
        in page
    )
    assert "data-active" in page
    api = owner_page.get(
        f"/api/work-requests/?model={model.pk}&page=1&page_size={PAGE_SIZE}"
    )
    assert [item["status"] for item in api.json()["results"]] == ["PROCESSING"]


def test_the_list_does_not_poll_once_everything_ended(owner_page, owner, model):
    WorkRequestFactory(user=owner, model=model, status=Status.COMPLETED)

    page = owner_page.get("/requests/").content.decode()

    assert 'data-poll="list"' in page
    assert "data-active" not in page


def test_a_visitor_with_no_request_sees_an_empty_list(client):
    page = client.get("/requests/").content.decode()

    assert "You have not submitted any request yet." in page
    assert AnonymousIdentity.objects.count() == 0


# --- One request ------------------------------------------------------------------


def test_the_request_page_shows_progress_timings_and_the_first_results(
    owner_page, owner, model, serve
):
    work_request = WorkRequestFactory(
        user=owner, model=model, inputs=["CCO", "bad", "N"]
    )
    run_on_ready_instance(work_request, serve())

    page = owner_page.get(f"/requests/{work_request.pk}/").content.decode()

    assert 'data-status="COMPLETED">Completed</span>' in page
    assert 'aria-valuenow="100"' in page
    assert '<span data-field="done">3</span> of 3 inputs done' in page
    for label in ("Queued", "Instance ready", "Job submitted", "Finished"):
        assert f'<th scope="row">{label}</th><td><time' in page
    assert re.search(r'<th scope="row">Run time</th><td>\d+\.\d s</td>', page)
    assert (
        '<th scope="col">input</th><th scope="col">error</th><th scope="col">length</th><th scope="col">upper</th>'
        in page
    )
    assert (
        '<tr class="wr-row-failed"><td>bad</td><td>This input is bad.</td><td></td><td></td></tr>'
        in page
    )
    assert f'href="/api/work-requests/{work_request.pk}/result/?format=csv"' in page
    assert f'href="/api/work-requests/{work_request.pk}/result/?format=json"' in page
    assert "data-active" not in page
    assert "Cancel request" not in page


def test_the_request_page_of_an_active_request_polls_and_offers_cancel(
    owner_page, owner, model
):
    work_request = WorkRequestFactory(
        user=owner,
        model=model,
        inputs=["A", "B", "C", "D"],
        status=Status.PROCESSING,
        done_count=1,
        cached_count=1,
    )
    ResultChunk.objects.create(
        work_request=work_request,
        source=ResultChunk.Source.CACHE,
        positions=[2],
        records=[{"length": 1, "upper": "C", "error": None}],
    )

    page = owner_page.get(f"/requests/{work_request.pk}/").content.decode()

    assert f'data-poll-url="/api/work-requests/{work_request.pk}/"' in page
    assert "data-active" in page
    assert 'aria-valuenow="25"' in page
    assert '<span data-field="cached">1</span> answered from the result cache.' in page
    assert "<tr><td>C</td><td></td><td>1</td><td>C</td></tr>" in page
    assert "as computed so far" in page
    assert "Download CSV" not in page
    assert f'href="/requests/{work_request.pk}/cancel/"' in page


def test_a_failed_request_shows_its_reason(owner_page, owner, model):
    work_request = WorkRequestFactory(
        user=owner,
        model=model,
        status=Status.FAILED,
        reason="The model failed (HTTP 500).",
    )

    page = owner_page.get(f"/requests/{work_request.pk}/").content.decode()

    assert (
        '<p class="wr-reason" data-field="reason">The model failed (HTTP 500).</p>'
        in page
    )
    assert "This request has no results." in page


def test_someone_elses_request_is_not_found(owner_page, other_user, model):
    theirs = WorkRequestFactory(user=other_user, model=model, status=Status.PROCESSING)

    assert owner_page.get(f"/requests/{theirs.pk}/").status_code == 404
    assert owner_page.get(f"/requests/{theirs.pk}/cancel/").status_code == 404
    assert owner_page.post(f"/requests/{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Status.PROCESSING


def test_an_anonymous_visitor_cannot_see_a_registered_users_request(
    client, owner, model
):
    work_request = WorkRequestFactory(user=owner, model=model)

    assert client.get(f"/requests/{work_request.pk}/").status_code == 404
    assert client.get("/requests/999999/").status_code == 404


def test_an_anonymous_visitor_downloads_its_results_through_its_session(
    client, model, serve
):
    preview = _preview(client, model, text="CCO\nN")
    client.post(NEW, {**_confirm_fields(preview), "confirm": "1"})
    work_request = WorkRequest.objects.get()
    run_on_ready_instance(work_request, serve())

    csv_text = client.get(f"/api/work-requests/{work_request.pk}/result/?format=csv")
    json_rows = client.get(f"/api/work-requests/{work_request.pk}/result/?format=json")

    assert (
        csv_text.content.decode()
        == "input,length,upper,error\r\nCCO,3,CCO,\r\nN,1,N,\r\n"
    )
    assert json.loads(json_rows.content) == [described("CCO"), described("N")]


# --- Cancel ---------------------------------------------------------------------


def test_cancelling_asks_first_then_cancels(owner_page, owner, model):
    work_request = WorkRequestFactory(user=owner, model=model)

    confirm = owner_page.get(f"/requests/{work_request.pk}/cancel/")
    work_request.refresh_from_db()
    assert confirm.status_code == 200
    assert f"Cancel request #{work_request.pk}?" in confirm.content.decode()
    assert work_request.status == Status.QUEUED

    done = owner_page.post(f"/requests/{work_request.pk}/cancel/", follow=True)

    work_request.refresh_from_db()
    assert work_request.status == Status.CANCELLED
    assert done.redirect_chain == [(f"/requests/{work_request.pk}/", 302)]
    assert f"Request {work_request.pk} was cancelled." in done.content.decode()


def test_cancelling_twice_says_the_request_already_ended(owner_page, owner, model):
    work_request = WorkRequestFactory(user=owner, model=model)
    owner_page.post(f"/requests/{work_request.pk}/cancel/")

    again = owner_page.post(f"/requests/{work_request.pk}/cancel/", follow=True)
    asked = owner_page.get(f"/requests/{work_request.pk}/cancel/", follow=True)

    assert "This request has already ended (Cancelled)." in again.content.decode()
    assert (
        "This request has already ended (cancelled); there is nothing to cancel."
        in asked.content.decode()
    )
    work_request.refresh_from_db()
    assert work_request.status == Status.CANCELLED


def test_the_sidebar_links_the_request_pages(client, admin_user):
    anonymous = client.get("/requests/").content.decode()
    sign_in(client, admin_user)
    admin = client.get("/requests/").content.decode()

    for page in (anonymous, admin):
        assert 'href="/requests/new/"' in page
        assert 'href="/requests/"' in page
    assert 'href="/requests/stats/"' not in anonymous
    assert 'href="/admin/workrequests/workrequest/"' not in anonymous
    assert 'href="/requests/stats/"' in admin
    assert 'href="/admin/workrequests/workrequest/"' in admin


def test_the_preview_rounds_floats_for_reading_only():
    from workrequests.views import _cell

    assert _cell(78.11399999999999) == "78.114"
    assert _cell(-0.0014000000000000123) == "-0.0014"
    assert _cell(3) == "3"
    assert _cell(None) == ""


def test_a_mangled_confirm_step_asks_to_preview_again(client, db):
    from tests.factories import ModelFactory

    ModelFactory(id="describe")
    inputs = "[" * 100_000 + "]" * 100_000

    response = client.post(
        "/requests/new/", {"confirm": "1", "model": "describe", "inputs": inputs}
    )

    assert response.status_code == 400
    assert "preview the inputs again" in response.content.decode()
