"""A 1,000-input request answered entirely from the result cache.

Such a request completes inside its submission, with no instance. Times the
submission service (parse, hash, one cache lookup, the writes) and the whole
`POST /api/work-requests/` through Django's test client, which adds
authentication, DRF parsing and the response; target under 300 ms. For
comparison, the same submission with nothing cached, which only queues.
"""

from common import REDIS_URL, ROOT, report, setup_django, timed

MODEL = "bench-cache"
INPUTS = 1000
TARGET_MS = 300


def _inputs() -> list[str]:
    # SMILES-like strings of realistic length, all different.
    return [f"CC(=O)Nc1ccc(O)cc1C{'C' * (n % 17)}N{n}" for n in range(INPUTS)]


def main() -> None:
    # Whitenoise wants the static folder to exist, even empty.
    (ROOT / "var" / "bench" / "static").mkdir(parents=True, exist_ok=True)
    setup_django()
    import redis
    from django.test import Client

    from accounts.identity import Owner
    from accounts.models import User
    from models_registry.models import Model
    from workrequests.cache import input_hash
    from workrequests.models import CachedResult, WorkRequest
    from workrequests.services import work_request_submit

    model, _ = Model.objects.update_or_create(
        id=MODEL,
        defaults={
            "title": MODEL,
            "image": "modelhub/bench",
            "tag": "1.0",
            "version": "",
            "cache_enabled": True,
            "input_limit": INPUTS,
            "output_columns": ["molecular_weight", "logp"],
        },
    )
    inputs = _inputs()
    CachedResult.objects.filter(model=model).delete()
    CachedResult.objects.bulk_create(
        CachedResult(
            model=model,
            model_version=model.cache_version,
            input_hash=input_hash(value),
            record={"molecular_weight": 151.16 + n, "logp": 0.46, "error": None},
        )
        for n, value in enumerate(inputs)
    )
    user, _ = User.objects.get_or_create(
        username="bench-cache-user", defaults={"email": "bench-cache@example.org"}
    )
    owner = Owner(user=user)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)

    def submit_service() -> None:
        work_request = work_request_submit(owner=owner, model_id=MODEL, inputs=inputs)
        assert work_request.status == WorkRequest.Status.COMPLETED

    def submit_api() -> None:
        response = client.post(
            "/api/work-requests/",
            {"model": MODEL, "inputs": inputs},
            content_type="application/json",
        )
        assert response.status_code == 201, response.content
        assert response.json()["status"] == "COMPLETED"

    submit_service()
    service = timed(submit_service, repeat=15)
    api = timed(submit_api, repeat=15)

    CachedResult.objects.filter(model=model).delete()
    queued = timed(
        lambda: work_request_submit(owner=owner, model_id=MODEL, inputs=inputs),
        repeat=5,
    )

    WorkRequest.objects.filter(model=model).delete()
    redis.Redis.from_url(REDIS_URL).delete("celery")
    report(
        f"A {INPUTS}-input request, every input cached",
        [
            (
                "submission service",
                f"{service['median_ms']:.1f} ms median, {service['best_ms']:.1f} best",
            ),
            (
                "POST /api/work-requests/",
                f"{api['median_ms']:.1f} ms median, {api['best_ms']:.1f} best "
                f"(target under {TARGET_MS} ms: "
                f"{'met' if api['median_ms'] < TARGET_MS else 'NOT met'})",
            ),
            (
                "same inputs, none cached (queued)",
                f"{queued['median_ms']:.1f} ms median",
            ),
        ],
    )


if __name__ == "__main__":
    main()
