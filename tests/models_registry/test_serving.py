"""The built-in model server, over real HTTP on 127.0.0.1."""

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from django.conf import settings

from instances.client import ModelClient, ModelFailed
from models_registry.serving.app import ModelApp, load_app
from models_registry.serving.server import (
    MODEL_FAILED,
    SERVER_FAILED,
    make_server,
    write_port_file,
)


def echo(inputs: list[str]) -> list[dict[str, Any]]:
    return [{"input": text, "length": len(text)} for text in inputs]


@contextmanager
def serving(app: ModelApp, **options: Any) -> Iterator[str]:
    server = make_server(app, host="127.0.0.1", port=0, **options)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        app.close()
        thread.join(timeout=5)


@pytest.fixture
def echo_url() -> Iterator[str]:
    app = ModelApp(
        model_id="echo",
        version="3.1",
        predict=echo,
        output_columns=["input", "length"],
        card={"title": "Echo"},
    )
    with serving(app) as url:
        yield url


def wait_for(condition, *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("The condition did not become true in time.")
        time.sleep(0.01)


# --- Endpoints ------------------------------------------------------------


def test_it_answers_healthz(echo_url):
    response = httpx.get(f"{echo_url}/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["content-type"] == "application/json"


def test_it_reports_the_model_and_its_version(echo_url):
    response = httpx.get(f"{echo_url}/models/status")

    assert response.json() == [{"modelName": "echo", "modelVersion": "3.1"}]
    assert ModelClient(echo_url, timeout=2).version("echo") == "3.1"


def test_it_runs_inputs_in_order(echo_url):
    response = httpx.post(
        f"{echo_url}/run", params={"orient": "records"}, json=["CCO", "", "c1ccccc1"]
    )

    assert response.status_code == 200
    assert response.json() == [
        {"input": "CCO", "length": 3},
        {"input": "", "length": 0},
        {"input": "c1ccccc1", "length": 8},
    ]


def test_it_accepts_the_query_parameters_ersilia_clients_send(echo_url):
    params = {"orient": "records", "min_workers": "1", "max_workers": "12"}

    response = httpx.post(f"{echo_url}/run", params=params, json=["C"])

    assert response.json() == [{"input": "C", "length": 1}]


def test_it_answers_an_empty_list_with_an_empty_list(echo_url):
    response = httpx.post(f"{echo_url}/run", json=[])

    assert response.status_code == 200
    assert response.json() == []


def test_it_serves_the_card(echo_url):
    response = httpx.get(f"{echo_url}/card")

    assert response.json() == {
        "title": "Echo",
        "id": "echo",
        "version": "3.1",
        "output_columns": ["input", "length"],
    }


def test_it_speaks_the_protocol_of_the_hubs_own_client(echo_url):
    client = ModelClient(echo_url, timeout=2)

    assert client.healthy()
    assert client.run(["CC", "N"], timeout=2) == [
        {"input": "CC", "length": 2},
        {"input": "N", "length": 1},
    ]
    assert client.run_job(["O"], timeout=5, poll_interval=0.01) == [
        {"input": "O", "length": 1}
    ]


# --- Background jobs ------------------------------------------------------


def test_it_runs_a_job_in_the_background_until_it_completes():
    release = threading.Event()

    def gated(inputs):
        release.wait(5)
        return echo(inputs)

    with serving(ModelApp(model_id="gated", predict=gated)) as url:
        submitted = httpx.post(f"{url}/job/submit", json=["CO", "CN"]).json()
        job_id = submitted["job_id"]
        pending = httpx.get(f"{url}/job/status/{job_id}").json()
        early = httpx.get(f"{url}/job/result/{job_id}")
        release.set()
        wait_for(
            lambda: (
                httpx.get(f"{url}/job/status/{job_id}").json()["status"] == "completed"
            )
        )
        result = httpx.get(f"{url}/job/result/{job_id}")

    assert submitted["message"] == "Job submitted with 2 inputs."
    assert pending == {"job_id": job_id, "status": "pending"}
    assert early.status_code == 409
    assert early.json() == {"detail": "The job has not finished yet."}
    assert result.json() == [{"input": "CO", "length": 2}, {"input": "CN", "length": 2}]


def test_it_reports_a_job_whose_model_raised_as_failed():
    def broken(inputs):
        raise RuntimeError("secret internal detail")

    with serving(ModelApp(model_id="broken", predict=broken)) as url:
        job_id = httpx.post(f"{url}/job/submit", json=["C"]).json()["job_id"]
        wait_for(
            lambda: httpx.get(f"{url}/job/status/{job_id}").json()["status"] == "failed"
        )
        result = httpx.get(f"{url}/job/result/{job_id}")
        with pytest.raises(ModelFailed, match="job failed"):
            ModelClient(url, timeout=2).run_job(["C"], timeout=5, poll_interval=0.01)

    assert result.status_code == 409
    assert result.json() == {"detail": "The job failed; it has no result."}


def test_it_answers_404_for_unknown_jobs(echo_url):
    status = httpx.get(f"{echo_url}/job/status/nope")
    result = httpx.get(f"{echo_url}/job/result/nope")

    assert status.status_code == 404
    assert result.status_code == 404
    assert "no job with this id" in status.json()["detail"]


def test_it_forgets_the_oldest_finished_jobs_past_its_bound():
    app = ModelApp(model_id="echo", predict=echo, max_finished_jobs=2)
    with serving(app) as url:
        ids = [
            httpx.post(f"{url}/job/submit", json=[str(n)]).json()["job_id"]
            for n in range(4)
        ]
        wait_for(lambda: httpx.get(f"{url}/job/status/{ids[-1]}").status_code == 200)
        wait_for(
            lambda: (
                httpx.get(f"{url}/job/status/{ids[-1]}").json()["status"] == "completed"
            )
        )
        codes = [httpx.get(f"{url}/job/result/{job_id}").status_code for job_id in ids]

    assert codes == [404, 404, 200, 200]


def test_it_refuses_jobs_past_its_queue_bound():
    release = threading.Event()

    def gated(inputs):
        release.wait(5)
        return echo(inputs)

    app = ModelApp(model_id="gated", predict=gated, max_pending_jobs=2)
    with serving(app) as url:
        first = httpx.post(f"{url}/job/submit", json=["C"])
        second = httpx.post(f"{url}/job/submit", json=["C"])
        third = httpx.post(f"{url}/job/submit", json=["C"])
        release.set()

    assert [first.status_code, second.status_code] == [200, 200]
    assert third.status_code == 503
    assert third.headers["retry-after"] == "5"
    assert third.json() == {
        "detail": "Too many jobs are waiting already; submit again later."
    }


# --- Bad requests ---------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (
            b"not json",
            'The body is not valid JSON; send a JSON list of strings, such as ["CCO"].',
        ),
        (
            b"",
            'The body is not valid JSON; send a JSON list of strings, such as ["CCO"].',
        ),
        (
            b"\xff\xfe[]",
            'The body is not valid JSON; send a JSON list of strings, such as ["CCO"].',
        ),
        (
            b'{"inputs": ["CCO"]}',
            'The body must be a JSON list of strings, such as ["CCO"].',
        ),
        (b'"CCO"', 'The body must be a JSON list of strings, such as ["CCO"].'),
        (b'["CCO", 5]', "Input 2 is not a string; every input must be a string."),
        (b"[null]", "Input 1 is not a string; every input must be a string."),
        (b'[["CCO"]]', "Input 1 is not a string; every input must be a string."),
    ],
)
@pytest.mark.parametrize("path", ["/run", "/job/submit"])
def test_it_rejects_bodies_that_are_not_a_list_of_strings(echo_url, path, body, detail):
    response = httpx.post(f"{echo_url}{path}", content=body)

    assert response.status_code == 400
    assert response.json() == {"detail": detail}


def test_it_rejects_other_orients(echo_url):
    response = httpx.post(f"{echo_url}/run", params={"orient": "columns"}, json=["C"])

    assert response.status_code == 400
    assert response.json() == {"detail": "Only orient=records is supported."}


def test_it_rejects_a_body_over_its_size_cap():
    with serving(ModelApp(model_id="echo", predict=echo), max_body_bytes=100) as url:
        small = httpx.post(f"{url}/run", content=b'["' + b"C" * 96 + b'"]')
        large = httpx.post(f"{url}/run", content=b'["' + b"C" * 97 + b'"]')
        after = httpx.get(f"{url}/healthz")

    assert small.status_code == 200
    assert large.status_code == 413
    assert large.json() == {
        "detail": "The body is 101 bytes; this server accepts at most 100."
    }
    assert after.status_code == 200


def test_it_rejects_a_chunked_body(echo_url):
    def chunks():
        yield b'["C"]'

    response = httpx.post(f"{echo_url}/run", content=chunks())

    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/", "/nope", "/healthz/", "/job/status/", "/job/status/a/b"]
)
def test_it_answers_404_for_unknown_paths(echo_url, path):
    response = httpx.get(f"{echo_url}{path}")

    assert response.status_code == 404
    assert response.json() == {"detail": f"There is no endpoint at {path}."}


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", "/healthz", "GET"),
        ("DELETE", "/models/status", "GET"),
        ("GET", "/run", "POST"),
        ("PUT", "/job/submit", "POST"),
        ("POST", "/job/status/abc", "GET"),
    ],
)
def test_it_answers_405_for_the_wrong_method(echo_url, method, path, allowed):
    response = httpx.request(method, f"{echo_url}{path}", content=b'["C"]')

    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {
        "detail": f"{path} does not accept {method}; use {allowed}."
    }


def test_it_keeps_the_connection_usable_after_an_error(echo_url):
    with httpx.Client(base_url=echo_url) as client:
        refused = client.post("/healthz", content=b'["C"]')
        bad = client.post("/run", content=b"[1]")
        good = client.post("/run", json=["CC"])

    assert refused.status_code == 405
    assert bad.status_code == 400
    assert good.json() == [{"input": "CC", "length": 2}]


def test_it_answers_a_malformed_request_line_with_json(echo_url):
    port = int(echo_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(b"GARBAGE\r\n\r\n")
        answer = b""
        while chunk := connection.recv(4096):
            answer += chunk

    head, _, body = answer.decode().partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400")
    assert json.loads(body) == {"detail": "Bad request syntax ('GARBAGE')"}


# --- A model that breaks its contract -------------------------------------


def raises(inputs):
    raise ValueError("secret internal detail")


def one_short(inputs):
    return echo(inputs)[:-1]


def not_a_list(inputs):
    return {"records": echo(inputs)}


def not_records(inputs):
    return [text for text in inputs]


def not_json(inputs):
    return [{"value": object()} for _ in inputs]


@pytest.mark.parametrize(
    "predict", [raises, one_short, not_a_list, not_records, not_json]
)
def test_it_answers_500_with_a_generic_message_when_the_model_fails(predict, caplog):
    with serving(ModelApp(model_id="broken", predict=predict)) as url:
        response = httpx.post(f"{url}/run", json=["C", "CC"])
        health = httpx.get(f"{url}/healthz")

    assert response.status_code == 500
    assert response.json() == {"detail": MODEL_FAILED}
    assert "secret" not in response.text
    assert health.status_code == 200
    assert any(record.levelname == "ERROR" for record in caplog.records)


def test_it_keeps_the_traceback_for_the_log(caplog):
    with serving(ModelApp(model_id="broken", predict=raises)) as url:
        httpx.post(f"{url}/run", json=["C"])

    failures = [record for record in caplog.records if record.exc_info]
    assert failures
    assert "secret internal detail" in str(failures[0].exc_info[1])


def test_it_writes_non_finite_floats_as_null():
    def odd(inputs):
        return [{"a": math.nan, "b": [math.inf], "c": 1.5} for _ in inputs]

    with serving(ModelApp(model_id="odd", predict=odd)) as url:
        response = httpx.post(f"{url}/run", json=["C"])

    assert response.text == '[{"a": null, "b": [null], "c": 1.5}]'


def test_it_serialises_calls_into_the_model():
    active = []
    overlap = []

    def careful(inputs):
        active.append(1)
        overlap.append(len(active))
        time.sleep(0.05)
        active.pop()
        return echo(inputs)

    with serving(ModelApp(model_id="careful", predict=careful)) as url:
        threads = [
            threading.Thread(
                target=httpx.post, args=(f"{url}/run",), kwargs={"json": ["C"]}
            )
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)

    assert overlap == [1, 1, 1, 1]


# --- Loading and the command line ----------------------------------------


def test_it_loads_the_modules_output_columns_card_and_version():
    app = load_app(
        entrypoint="models_registry.builtin.rdkit_descriptors:predict",
        model_id="rdkit-descriptors",
    )

    assert app.output_columns[0] == "molecular_weight"
    assert app.version.startswith("1.0.0+rdkit.")
    assert app.card["input"] == "SMILES"


def test_it_writes_the_port_file_whole(tmp_path):
    target = tmp_path / "port"

    write_port_file(target, 43210)

    assert target.read_text() == "43210"
    assert [path.name for path in tmp_path.iterdir()] == ["port"]


_started: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _kill_leftover_processes():
    """A test that fails half-way must not leave a server running."""
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def run_server_process(*arguments: str, **options: Any) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "models_registry.serving", *arguments],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **options,
    )
    _started.append(process)
    return process


@pytest.mark.slow
def test_it_runs_as_a_process_and_stops_cleanly_on_sigterm(tmp_path):
    port_file = tmp_path / "run" / "port"
    port_file.parent.mkdir()
    process = run_server_process(
        "--entrypoint",
        "models_registry.builtin.rdkit_descriptors:predict",
        "--model-id",
        "rdkit-descriptors",
        "--version",
        "7",
        "--port-file",
        str(port_file),
    )
    try:
        wait_for(port_file.exists, timeout=30)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        client = ModelClient(url, timeout=5)

        healthy = client.healthy()
        version = client.version("rdkit-descriptors")
        records = client.run(["CCO", "not a smiles"], timeout=10)
        job = client.run_job(["CCO"], timeout=10, poll_interval=0.05)
        card = httpx.get(f"{url}/card").json()
        bad = httpx.post(f"{url}/run", content=b"[1]")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)

    assert process.returncode == 0
    assert healthy
    assert version == "7"
    assert records[0]["molecular_weight"] == pytest.approx(46.069, abs=1e-3)
    assert records[1]["error"] == "RDKit could not parse this SMILES."
    assert job == records[:1]
    assert card["output_columns"] == [
        "molecular_weight",
        "logp",
        "tpsa",
        "h_bond_donors",
        "h_bond_acceptors",
        "qed",
    ]
    assert bad.status_code == 400
    assert "POST /run 200" in stderr
    assert "Shutting down" in stderr
    assert "CCO" not in stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        ("no_colon", "must look like package.module:function"),
        ("no_such_module_here:predict", "Cannot import no_such_module_here"),
        (
            "models_registry.builtin.rdkit_descriptors:nope",
            "has no function named nope",
        ),
    ],
)
def test_it_exits_with_a_clear_message_for_a_bad_entrypoint(entrypoint, message):
    process = run_server_process("--entrypoint", entrypoint, "--model-id", "x")
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert message in stderr


@pytest.mark.slow
def test_it_exits_with_a_clear_message_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = run_server_process(
            "--entrypoint",
            "tests.models_registry.serving_models:echo",
            "--model-id",
            "echo",
            "--port",
            str(port),
        )
        _, stderr = process.communicate(timeout=30)

    assert process.returncode == 1
    assert f"Cannot listen on 127.0.0.1 port {port}" in stderr


def test_it_does_not_import_django():
    code = (
        "import sys, models_registry.serving.server, "
        "models_registry.builtin.rdkit_descriptors; print('django' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            key: value
            for key, value in os.environ.items()
            if key != "DJANGO_SETTINGS_MODULE"
        },
    )

    assert result.stdout.strip() == "False"


@pytest.mark.slow
def test_it_exits_with_a_clear_message_when_the_module_fails_to_import(tmp_path):
    (tmp_path / "exploding_model.py").write_text(
        "raise RuntimeError('boom at import')\n"
    )
    process = run_server_process(
        "--entrypoint",
        "exploding_model:predict",
        "--model-id",
        "x",
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert "exploding_model failed while being imported." in stderr
    assert "RuntimeError: boom at import" in stderr


@pytest.mark.slow
def test_it_exits_when_it_cannot_write_the_port_file(tmp_path):
    process = run_server_process(
        "--entrypoint",
        "tests.models_registry.serving_models:echo",
        "--model-id",
        "echo",
        "--port-file",
        str(tmp_path / "missing" / "port"),
    )
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 1
    assert "Cannot write the port file" in stderr


@pytest.mark.slow
def test_it_finishes_the_request_in_flight_when_terminated(tmp_path):
    port_file = tmp_path / "port"
    process = run_server_process(
        "--entrypoint",
        "tests.models_registry.serving_models:sleepy",
        "--model-id",
        "sleepy",
        "--port-file",
        str(port_file),
    )
    answers = []
    try:
        wait_for(port_file.exists, timeout=30)
        url = f"http://127.0.0.1:{int(port_file.read_text())}"
        caller = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{url}/run", json=["CC"], timeout=10)
            )
        )
        caller.start()
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        caller.join(timeout=10)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()

    assert process.returncode == 0
    assert answers[0].status_code == 200
    assert answers[0].json() == [{"input": "CC", "length": 2}]
    assert stderr.index("Shutting down") < stderr.index("POST /run 200")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/healthz", timeout=2)


def test_it_answers_small_requests_on_a_kept_alive_connection_without_delay(echo_url):
    # Headers and body written apart used to meet the client's delayed ACK:
    # about 40 ms per answer.
    port = int(echo_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    started = time.monotonic()
    for _ in range(20):
        connection.request("POST", "/run", body=b'["CC"]')
        assert connection.getresponse().read() == b'[{"input": "CC", "length": 2}]'
    elapsed = time.monotonic() - started
    connection.close()

    assert elapsed < 0.4


def test_it_answers_500_when_the_server_itself_fails(monkeypatch, caplog):
    app = ModelApp(model_id="echo", predict=echo)

    def lost(job_id):
        raise KeyError("internal")

    monkeypatch.setattr(app, "job", lost)
    with serving(app) as url:
        response = httpx.get(f"{url}/job/status/abc")
        health = httpx.get(f"{url}/healthz")

    assert response.status_code == 500
    assert response.json() == {"detail": SERVER_FAILED}
    assert health.status_code == 200
    assert any(record.exc_info for record in caplog.records)
