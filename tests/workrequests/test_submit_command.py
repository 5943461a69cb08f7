"""`manage.py submit`: the command line's way in, with the same rules."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AnonymousIdentity
from workrequests.models import WorkRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def inputs(tmp_path):
    path = tmp_path / "inputs.csv"
    path.write_text("smiles\nCCO\nO\n")
    return path


def test_it_submits_as_a_new_anonymous_identity(model, inputs, capsys):
    call_command("submit", model.id, str(inputs))

    work_request = WorkRequest.objects.get()
    assert work_request.anonymous is not None
    assert work_request.payload.inputs == ["CCO", "O"]
    err = capsys.readouterr().err
    assert f"Created anonymous identity {work_request.anonymous_id}." in err
    assert f"Submitted work request {work_request.pk} (2 inputs)" in err


def test_it_submits_as_a_user_named_in_any_case(model, inputs, owner):
    call_command("submit", model.id, str(inputs), "--user", "OWNER")

    assert WorkRequest.objects.get().user == owner


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["nope", "{inputs}"], "There is no model called 'nope'."),
        (["describe", "{missing}"], "Cannot read"),
        (["describe", "{folder}"], "Cannot read"),
        (
            ["describe", "{inputs}", "--user", "ghost"],
            "There is no user called 'ghost'.",
        ),
        (
            ["describe", "{inputs}", "--output", "{out}"],
            "--output writes the results, so it needs --wait.",
        ),
        (
            ["describe", "{inputs}", "--wait", "--output", "{folder}"],
            "give a file in a folder that exists",
        ),
        (
            ["describe", "{inputs}", "--wait", "--output", "{nowhere}"],
            "give a file in a folder that exists",
        ),
        (
            ["describe", "{inputs}", "--wait", "--timeout", "-5"],
            "--timeout must be more than zero seconds.",
        ),
    ],
)
def test_it_refuses_bad_arguments_and_leaves_nothing_behind(
    model, inputs, tmp_path, arguments, message
):
    places = {
        "inputs": inputs,
        "missing": tmp_path / "missing.csv",
        "folder": tmp_path,
        "out": tmp_path / "out.csv",
        "nowhere": tmp_path / "no" / "such" / "out.csv",
    }
    arguments = [argument.format(**places) for argument in arguments]

    with pytest.raises(
        CommandError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        call_command("submit", *arguments)

    assert not WorkRequest.objects.exists()
    assert not AnonymousIdentity.objects.exists()


def test_a_binary_file_is_refused_naming_the_line(model, tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"CCO\n\x00\x01")

    with pytest.raises(CommandError, match="Line 2: the file holds binary data"):
        call_command("submit", model.id, str(junk))


def test_waiting_stops_at_the_timeout_and_the_request_goes_on(model, inputs):
    with pytest.raises(CommandError, match="Stopped waiting after 1 s"):
        call_command("submit", model.id, str(inputs), "--wait", "--timeout", "1")

    assert WorkRequest.objects.get().status == WorkRequest.Status.QUEUED
