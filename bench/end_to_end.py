"""The main job, end to end, on PostgreSQL + Redis.

Prints, for the 100 SMILES of the shared sample (or the repository's example
drugs when that file is absent):

- the time from submission to completion with a cold instance (none running,
  so one is started) and with a warm one (idle and ready), from the
  request's own timestamps;
- the hub's own overhead: that total minus the time the model spent
  answering its chunks;
- how many requests per second `POST /api/work-requests/` and
  `GET /api/work-requests/{id}/` sustain under gunicorn, beside a bare DRF
  create/retrieve endpoint on the same database, in the same run.

A real Celery worker and the instance agent run as child processes; the
load generator is a few threads of this process on loopback.
"""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import (
    DATABASE_URL,
    REDIS_URL,
    ROOT,
    bench_environment,
    report,
    setup_django,
)

# The 100 SMILES of the shared sample when the checkout sits beside it;
# BENCH_SMILES_FILE names another file.
SMILES_FILE = Path(
    os.environ.get(
        "BENCH_SMILES_FILE", ROOT.parent / "shared" / "data" / "smiles_100.csv"
    )
)
MODEL_ID = "rdkit-descriptors"
WARM_RUNS = 5
LOAD_THREADS = 4
LOAD_REQUESTS_PER_THREAD = 150
# A database of its own, made anew each run (queued rows left by other
# benchmarks would be served first, first in first out), next to the
# benchmark database that BENCH_DATABASE_URL names.
E2E_DATABASE_URL = DATABASE_URL + "_e2e"


def main() -> None:
    setup_django(database_url=E2E_DATABASE_URL, redis_url=REDIS_URL, fresh=True)
    import redis
    from django.conf import settings

    from models_registry.models import Model
    from models_registry.services import models_register_builtin
    from tests.stack import running_stack, stack_logs

    _empty_the_queue(redis.Redis.from_url(settings.REDIS_URL))
    models_register_builtin()
    # Every run computes: the result cache would answer repeated inputs.
    Model.objects.filter(pk=MODEL_ID).update(
        cache_enabled=False, max_instances=1, min_instances=0, idle_timeout=600
    )
    source = SMILES_FILE if SMILES_FILE.exists() else ROOT / "examples" / "drugs.csv"
    data = source.read_bytes()
    env = {
        **os.environ,
        **bench_environment(E2E_DATABASE_URL, REDIS_URL),
        "LOG_LEVEL": "WARNING",
    }
    log_dir = ROOT / "var" / "bench" / "logs"

    with running_stack(env, log_dir):
        try:
            cold = _run_once(data)
            warm = [_run_once(data) for _ in range(WARM_RUNS)]
        except Exception:
            print(stack_logs(log_dir))
            raise

    warm_total = statistics.median(run["total_ms"] for run in warm)
    warm_overhead = statistics.median(run["overhead_ms"] for run in warm)
    report(
        f"End to end, {cold['inputs']} SMILES from {source.name}",
        [
            ("cold: total", f"{cold['total_ms']:.0f} ms"),
            ("cold: instance start (scheduled -> ready)", f"{cold['start_ms']:.0f} ms"),
            ("cold: model compute", f"{cold['compute_ms']:.0f} ms"),
            ("cold: hub overhead (total - compute)", f"{cold['overhead_ms']:.0f} ms"),
            (f"warm: total (median of {WARM_RUNS})", f"{warm_total:.0f} ms"),
            (
                "warm: model compute (median)",
                f"{statistics.median(r['compute_ms'] for r in warm):.0f} ms",
            ),
            ("warm: hub overhead (median)", f"{warm_overhead:.0f} ms"),
            ("results equal RDKit's own (max abs diff)", f"{cold['max_diff']:.2e}"),
        ],
    )
    _throughput(env)


def _empty_the_queue(connection: object) -> None:
    """Drop task messages left from an earlier run; keep everything else."""
    for key in ("celery", "unacked", "unacked_index", "unacked_mutex"):
        connection.delete(key)  # type: ignore[attr-defined]


def _run_once(data: bytes) -> dict[str, float]:
    from accounts.identity import Owner
    from accounts.models import AnonymousIdentity
    from workrequests.models import ResultChunk, WorkRequest
    from workrequests.services import work_request_submit

    owner = Owner(anonymous=AnonymousIdentity.objects.create())
    work_request = work_request_submit(owner=owner, model_id=MODEL_ID, upload=data)
    deadline = time.monotonic() + 180
    while work_request.status not in WorkRequest.TERMINAL_STATUSES:
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"Request {work_request.pk} is still {work_request.status}"
            )
        time.sleep(0.02)
        work_request.refresh_from_db()
    if work_request.status != WorkRequest.Status.COMPLETED:
        raise RuntimeError(f"Request {work_request.pk} failed: {work_request.reason}")

    assert work_request.finished_at and work_request.scheduled_at
    compute = sum(
        ResultChunk.objects.filter(work_request=work_request).values_list(
            "duration_ms", flat=True
        )
    )
    total = (
        work_request.finished_at - work_request.submitted_at
    ).total_seconds() * 1000
    ready = work_request.instance_ready_at or work_request.scheduled_at
    start = (ready - work_request.scheduled_at).total_seconds() * 1000
    return {
        "inputs": work_request.input_count,
        "total_ms": total,
        "compute_ms": compute,
        "overhead_ms": total - compute,
        "start_ms": max(0.0, start),
        "max_diff": _max_difference(work_request),
    }


def _max_difference(work_request: object) -> float:
    from tests.rdkit_reference import rdkit_values
    from workrequests.results import result_table
    from workrequests.selectors import work_request_inputs

    table = result_table(work_request, work_request_inputs(work_request))  # type: ignore[arg-type]
    worst = 0.0
    for row in table["rows"]:
        expected = rdkit_values(row["input"]) or {}
        for name, value in expected.items():
            worst = max(worst, abs(float(row[name]) - value))
    return worst


# --- Throughput -----------------------------------------------------------


def _throughput(env: dict[str, str]) -> None:
    port = _free_port()
    server_env = {
        **env,
        "DJANGO_SETTINGS_MODULE": "bench.bare.settings",
        # The submission throttle would cap the load generator, not the code.
        "THROTTLE_SUBMISSION": "1000000/s",
        "THROTTLE_ANONYMOUS": "1000000/s",
    }
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=server_env,
    )
    base = f"http://127.0.0.1:{port}"
    bare = [httpx.Client(timeout=30) for _ in range(LOAD_THREADS)]
    platform: list[httpx.Client] = []
    try:
        _wait_until_up(base)
        # Each thread is a script with an anonymous identity of its own, as
        # docs/api.md describes, and reads back the requests it created.
        platform = [_anonymous_client(base) for _ in range(LOAD_THREADS)]
        platform_create, ids = _load(
            platform,
            lambda client, _: client.post(
                f"{base}/api/work-requests/",
                json={"model": MODEL_ID, "inputs": ["CCO"]},
            ),
            expect=201,
        )
        bare_create, bare_ids = _load(
            bare, lambda client, _: client.post(f"{base}/bare/", json={}), expect=201
        )
        platform_get, _ = _load(
            platform,
            lambda client, key: client.get(f"{base}/api/work-requests/{key}/"),
            expect=200,
            keys=ids,
        )
        bare_get, _ = _load(
            bare,
            lambda client, key: client.get(f"{base}/bare/{key}/"),
            expect=200,
            keys=bare_ids,
        )
    finally:
        gunicorn.terminate()
        try:
            gunicorn.wait(timeout=30)
        except subprocess.TimeoutExpired:
            gunicorn.kill()
            gunicorn.wait()
        for client in platform + bare:
            client.close()

    requests = LOAD_THREADS * LOAD_REQUESTS_PER_THREAD
    report(
        f"Requests per second under gunicorn (2 workers x 4 threads, "
        f"{LOAD_THREADS} client threads, {requests} requests each)",
        [
            ("POST /api/work-requests/", f"{platform_create:.0f}/s"),
            ("POST bare DRF create", f"{bare_create:.0f}/s"),
            ("  ratio platform / bare", f"{platform_create / bare_create:.2f}"),
            ("GET /api/work-requests/{id}/", f"{platform_get:.0f}/s"),
            ("GET bare DRF retrieve", f"{bare_get:.0f}/s"),
            ("  ratio platform / bare", f"{platform_get / bare_get:.2f}"),
        ],
    )


def _load(clients, call, *, expect: int, keys: list[list[str]] | None = None):
    """Run `call` from every thread; return requests per second and new ids.

    Thread n uses `clients[n]`; `keys[n]` are the ids thread n created.
    """
    created: list[list[str]] = [[] for _ in range(LOAD_THREADS)]
    errors: list[str] = []
    barrier = threading.Barrier(LOAD_THREADS + 1)

    def worker(number: int) -> None:
        client = clients[number]
        barrier.wait()
        for index in range(LOAD_REQUESTS_PER_THREAD):
            key = keys[number][index % len(keys[number])] if keys else None
            response = call(client, key)
            if response.status_code != expect:
                errors.append(f"{response.status_code} {response.text[:200]}")
                return
            if keys is None:
                created[number].append(str(response.json()["id"]))

    threads = [
        threading.Thread(target=worker, args=(number,))
        for number in range(LOAD_THREADS)
    ]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"Unexpected answers: {errors[:3]}")
    return LOAD_THREADS * LOAD_REQUESTS_PER_THREAD / elapsed, created


def _anonymous_client(base: str) -> httpx.Client:
    response = httpx.post(f"{base}/api/auth/anonymous/", timeout=30)
    response.raise_for_status()
    token = response.json()["token"]
    return httpx.Client(timeout=30, headers={"Authorization": f"Token {token}"})


def _wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/api/models/", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
