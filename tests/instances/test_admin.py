from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from instances.models import InstanceEvent, InstanceMetrics, ModelInstance
from instances.services import instance_record_event
from tests.instances.conftest import make_model

State = ModelInstance.State
Kind = InstanceEvent.Kind
MEBIBYTE = 2**20

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:instances_modelinstance_changelist"


@pytest.fixture
def superuser_client(client):
    user = User.objects.create_superuser("root", "root@example.org", "a-long-Pass-42")
    client.force_login(user)
    return client


@pytest.fixture
def ready_instance(log_dir):
    model = make_model()
    log_dir.mkdir(parents=True)
    log_path = log_dir / "echo-admin.log"
    log_path.write_text(
        "".join(f"line {number} <b>not bold</b>\n" for number in range(150))
    )
    instance = ModelInstance.objects.create(
        model=model,
        name="echo-admin",
        backend="local",
        state=State.READY,
        started_at=timezone.now(),
        ready_at=timezone.now(),
        endpoint="http://127.0.0.1:40000",
        allocation=model.k8s_resources,
        handle={"name": "echo-admin", "pid": 1, "log_path": str(log_path)},
        jobs_run=4,
    )
    instance_record_event(instance=instance, kind=Kind.REQUESTED, message="first")
    instance_record_event(
        instance=instance,
        kind=Kind.READY,
        message="second",
        details={"process": {"pid": 1, "cmdline": ["python", "-m", "x"]}},
    )
    InstanceMetrics.objects.create(
        instance=instance,
        model=model,
        allocation=model.k8s_resources,
        sample_count=12,
        cpu_min=Decimal("10"),
        cpu_mean=Decimal("250.5"),
        cpu_p95=Decimal("900"),
        cpu_max=Decimal("1000"),
        memory_min=64 * MEBIBYTE,
        memory_mean=100 * MEBIBYTE,
        memory_p95=120 * MEBIBYTE,
        memory_max=128 * MEBIBYTE,
    )
    return instance


def sign_in(client, user):
    # The factory sets a password the session would not match until saved.
    user.save()
    client.force_login(user)


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_changelist_shows_instances_with_their_state(
    superuser_client, ready_instance
):
    response = superuser_client.get(reverse(CHANGELIST), {"state__exact": "READY"})

    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows == [ready_instance]
    content = response.content.decode()
    assert "echo-admin" in content
    assert "Stop selected instances" in content


def test_the_changelist_reads_models_in_the_same_query(
    superuser_client, ready_instance, django_assert_max_num_queries
):
    for number in range(5):
        ModelInstance.objects.create(
            model=ready_instance.model, name=f"more-{number}", backend="local"
        )

    with django_assert_max_num_queries(12):
        response = superuser_client.get(reverse(CHANGELIST))

    assert len(response.context["cl"].result_list) == 6


def test_the_change_page_shows_events_metrics_and_log(superuser_client, ready_instance):
    url = reverse("admin:instances_modelinstance_change", args=[ready_instance.pk])

    response = superuser_client.get(url)

    assert response.status_code == 200
    content = response.content.decode()
    assert content.index(">first<") < content.index(">second<")
    assert "&quot;cmdline&quot;: [" in content
    assert "CPU (millicores)" in content
    assert "<td>250</td>" in content or "<td>251</td>" in content
    assert "<td>1000</td>" in content
    assert "Memory (MiB)" in content
    assert "<td>128.0</td>" in content
    assert "12 samples (live, still running)" in content
    assert "line 149 &lt;b&gt;not bold&lt;/b&gt;" in content
    assert "line 50 " in content
    assert "line 49 " not in content
    assert 'name="_save"' not in content


def test_the_change_page_survives_an_unreadable_log(superuser_client, ready_instance):
    url = reverse("admin:instances_modelinstance_change", args=[ready_instance.pk])

    with mock.patch(
        "instances.backends.local.LocalBackend.logs", side_effect=OSError("disk gone")
    ):
        response = superuser_client.get(url)

    assert response.status_code == 200
    content = response.content.decode()
    assert "The log could not be read." in content
    assert "disk gone" not in content


def test_the_change_page_of_an_unstarted_instance_says_so(superuser_client, db):
    instance = ModelInstance.objects.create(
        model=make_model(), name="never", backend="local"
    )

    response = superuser_client.get(
        reverse("admin:instances_modelinstance_change", args=[instance.pk])
    )

    content = response.content.decode()
    assert "No usage recorded yet." in content
    assert "No log: it was never started." in content


def test_the_stop_action_asks_selected_instances_to_stop(
    superuser_client, ready_instance
):
    ended = ModelInstance.objects.create(
        model=ready_instance.model, name="ended", backend="local", state=State.STOPPED
    )

    response = superuser_client.post(
        reverse(CHANGELIST),
        {
            "action": "stop_selected",
            "index": 0,
            "_selected_action": [ready_instance.pk, ended.pk],
        },
        follow=True,
    )

    assert response.status_code == 200
    ready_instance.refresh_from_db()
    assert ready_instance.desired_state == ModelInstance.DesiredState.STOPPED
    assert ready_instance.termination_reason == "Requested"
    stop = ready_instance.events.get(kind=Kind.STOP_REQUESTED)
    assert stop.message == "Stop requested from the admin by root."
    ended.refresh_from_db()
    assert ended.events.count() == 0
    assert messages_of(response) == [
        "Asked 1 instance(s) to stop.",
        "1 instance(s) were already stopping or ended, and were left as they are.",
    ]


def test_the_stop_action_needs_a_selection(superuser_client, ready_instance):
    response = superuser_client.post(
        reverse(CHANGELIST), {"action": "stop_selected", "index": 0}, follow=True
    )

    assert response.status_code == 200
    ready_instance.refresh_from_db()
    assert ready_instance.desired_state == ModelInstance.DesiredState.RUNNING
    assert any("Items must be selected" in text for text in messages_of(response))


def test_instances_cannot_be_added_edited_or_deleted(superuser_client, ready_instance):
    change = reverse("admin:instances_modelinstance_change", args=[ready_instance.pk])

    assert (
        superuser_client.get(reverse("admin:instances_modelinstance_add")).status_code
        == 403
    )
    assert superuser_client.post(change, {"state": "FAILED"}).status_code == 403
    delete = reverse("admin:instances_modelinstance_delete", args=[ready_instance.pk])
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    ready_instance.refresh_from_db()
    assert ready_instance.state == State.READY


def test_the_console_is_closed_to_visitors_without_staff_rights(client, ready_instance):
    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_events_and_metrics_have_read_only_pages(superuser_client, ready_instance):
    event = ready_instance.events.last()
    metrics = ready_instance.metrics

    events = superuser_client.get(reverse("admin:instances_instanceevent_changelist"))
    event_page = superuser_client.get(
        reverse("admin:instances_instanceevent_change", args=[event.pk])
    )
    metrics_list = superuser_client.get(
        reverse("admin:instances_instancemetrics_changelist")
    )
    metrics_page = superuser_client.get(
        reverse("admin:instances_instancemetrics_change", args=[metrics.pk])
    )

    assert events.status_code == event_page.status_code == 200
    assert metrics_list.status_code == metrics_page.status_code == 200
    assert "&quot;pid&quot;: 1" in event_page.content.decode()
    assert (
        '<td class="field-cpu_p95_millicores">900</td>' in metrics_list.content.decode()
    )
    assert "128.0" in metrics_list.content.decode()
    for name in ("instanceevent", "instancemetrics"):
        add = reverse(f"admin:instances_{name}_add")
        assert superuser_client.get(add).status_code == 403
    assert (
        superuser_client.post(
            reverse("admin:instances_instanceevent_change", args=[event.pk]),
            {"kind": "CRASHED"},
        ).status_code
        == 403
    )


def test_the_admin_role_can_view_and_stop_instances(client, admin_user, ready_instance):
    sign_in(client, admin_user)

    page = client.get(
        reverse("admin:instances_modelinstance_change", args=[ready_instance.pk])
    )
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "stop_selected",
            "index": 0,
            "_selected_action": [ready_instance.pk],
        },
        follow=True,
    )

    assert page.status_code == 200
    assert messages_of(response) == ["Asked 1 instance(s) to stop."]
    ready_instance.refresh_from_db()
    assert ready_instance.desired_state == ModelInstance.DesiredState.STOPPED


def test_a_signed_in_user_without_the_role_is_refused(
    client, other_user, ready_instance
):
    client.force_login(other_user)

    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "stop_selected",
            "index": 0,
            "_selected_action": [ready_instance.pk],
        },
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    ready_instance.refresh_from_db()
    assert ready_instance.desired_state == ModelInstance.DesiredState.RUNNING
