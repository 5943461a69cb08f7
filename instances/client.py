"""A client for the model protocol that every instance serves.

The protocol is the one Ersilia's model images speak, so their images run
unchanged: `GET /healthz`; `GET /models/status` giving
`[{"modelName", "modelVersion"}]`; for synchronous models `POST /run` with a
JSON list of inputs, answered with one record per input in the same order;
for asynchronous ones `POST /job/submit` → `{"job_id"}`, then
`GET /job/status/{id}` until `completed` or `failed`, then
`GET /job/result/{id}`.
"""

import time
from typing import Any

import httpx


class ModelCallError(Exception):
    """A call to an instance failed. `transient` errors are worth retrying."""

    transient = False


class ModelUnreachable(ModelCallError):
    transient = True


class ModelTimedOut(ModelCallError):
    pass


class ModelFailed(ModelCallError):
    """The model answered with an error status, or said the job failed."""


class ModelProtocolError(ModelCallError):
    """The model answered, but not in the shape the protocol requires."""


_RECORDS = {"orient": "records"}


class ModelClient:
    """Calls to one instance, over one kept-alive connection.

    Use it as a context manager, or call `close`, so the connection is not
    left open; setting up a new connection per call costs more than a small
    model takes to answer.
    """

    def __init__(self, endpoint: str, *, timeout: float) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(timeout=timeout)

    def __enter__(self) -> "ModelClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def healthy(self) -> bool:
        try:
            response = self._http.get(f"{self.endpoint}/healthz")
        except httpx.HTTPError:
            return False
        return response.is_success

    def version(self, model_id: str) -> str | None:
        """The version the instance reports for `model_id`, if it reports one."""
        try:
            statuses = self._call("GET", "/models/status", timeout=self.timeout)
        except ModelCallError:
            return None
        if not isinstance(statuses, list):
            return None
        for status in statuses:
            if isinstance(status, dict) and status.get("modelName") == model_id:
                version = status.get("modelVersion")
                return str(version) if version else None
        return None

    def run(self, inputs: list[str], *, timeout: float) -> list[dict[str, Any]]:
        """Run a synchronous model on `inputs` in one call."""
        records = self._call(
            "POST", "/run", json=inputs, params=_RECORDS, timeout=timeout
        )
        return _checked_records(records, len(inputs))

    def run_job(
        self, inputs: list[str], *, timeout: float, poll_interval: float
    ) -> list[dict[str, Any]]:
        """Run an asynchronous model: submit, poll until done, fetch the result."""
        deadline = time.monotonic() + timeout
        submitted = self._call(
            "POST", "/job/submit", json=inputs, params=_RECORDS, timeout=self.timeout
        )
        if not isinstance(submitted, dict) or not submitted.get("job_id"):
            raise ModelProtocolError("The model did not return a job id.")
        job_id = str(submitted["job_id"])

        while True:
            status = self._call("GET", f"/job/status/{job_id}", timeout=self.timeout)
            state = status.get("status") if isinstance(status, dict) else None
            if state == "completed":
                break
            if state == "failed":
                raise ModelFailed("The model reported that the job failed.")
            if state != "pending":
                raise ModelProtocolError(
                    f"The model reported an unknown job status {state!r}."
                )
            if time.monotonic() + poll_interval > deadline:
                raise ModelTimedOut(f"The job did not finish within {timeout:.0f} s.")
            time.sleep(poll_interval)

        records = self._call("GET", f"/job/result/{job_id}", timeout=self.timeout)
        return _checked_records(records, len(inputs))

    def _call(self, method: str, path: str, *, timeout: float, **kwargs: Any) -> Any:
        try:
            response = self._http.request(
                method, f"{self.endpoint}{path}", timeout=timeout, **kwargs
            )
        except httpx.TimeoutException:
            raise ModelTimedOut(
                f"The model did not answer {path} within {timeout:.0f} s."
            )
        except httpx.TransportError:
            raise ModelUnreachable("The model instance could not be reached.")

        if response.status_code >= 500:
            raise ModelFailed(f"The model failed (HTTP {response.status_code}).")
        if not response.is_success:
            raise ModelFailed(
                f"The model refused the call (HTTP {response.status_code})."
            )
        try:
            return response.json()
        except ValueError:
            raise ModelProtocolError(
                "The model answered with something other than JSON."
            )


def _checked_records(records: Any, expected: int) -> list[dict[str, Any]]:
    if not isinstance(records, list):
        raise ModelProtocolError("The model did not return a list of results.")
    if len(records) != expected:
        raise ModelProtocolError(
            f"The model returned {len(records)} results for {expected} inputs."
        )
    if not all(isinstance(record, dict) for record in records):
        raise ModelProtocolError("The model returned a result that is not a record.")
    return records
