"""The model protocol, served over HTTP for one Python callable.

The callable takes a list of input strings and returns one record (a dict)
per input, in the same order (see `models_registry.serving.app`).

Endpoints, compatible with Ersilia's model images (ersilia-pack):

- `GET /healthz` → `{"status": "ok"}`
- `GET /models/status` → `[{"modelName": id, "modelVersion": version}]`
- `POST /run?orient=records` with a JSON list of strings → the records
- `POST /job/submit` (same body) → `{"job_id", "message"}`; the job runs in
  the background; `GET /job/status/{id}` → `{"job_id", "status"}` with
  `pending`, `completed` or `failed`; `GET /job/result/{id}` → the records
- `GET /card` → the module's `CARD` with `id`, `version`, `output_columns`

Errors are `{"detail": "..."}`. A caller's mistake gets a 4xx that says what
to fix; a failure of the model gets a 500 with a generic sentence, and its
traceback goes to stderr only, so no internal text reaches the hub's users.
"""

import argparse
import json
import logging
import os
import signal
import socket
import socketserver
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from models_registry.serving.app import (
    FAILED,
    PENDING,
    EntrypointError,
    Job,
    ModelApp,
    ModelFailure,
    load_app,
)

logger = logging.getLogger("models_registry.serving")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# How long a SIGTERM waits for requests already being answered.
SHUTDOWN_GRACE_SECONDS = 10.0
# A client that stops sending mid-request frees its thread after this long.
SOCKET_TIMEOUT_SECONDS = 60.0

MODEL_FAILED = "The model failed on these inputs; the model server's log has details."
SERVER_FAILED = "The model server failed to answer; its log has details."


Answer = tuple[HTTPStatus, bytes, dict[str, str]]
Query = dict[str, list[str]]
# An endpoint takes what follows its path prefix (a job id) and the query.
Endpoint = Callable[[str, Query], Answer]


class RequestError(Exception):
    """The request cannot be answered; the message is for the caller."""

    def __init__(
        self, status: HTTPStatus, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        app: ModelApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._active = 0
        self._active_lock = threading.Condition()
        super().__init__(address, ProtocolHandler)

    def server_bind(self) -> None:
        # HTTPServer would look up the host's fully qualified name here, which
        # can mean a DNS query and a slow start; the bound address is enough.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def port(self) -> int:
        return self.server_port

    def request_started(self) -> None:
        with self._active_lock:
            self._active += 1

    def request_finished(self) -> None:
        with self._active_lock:
            self._active -= 1
            self._active_lock.notify_all()

    def wait_for_requests(self, *, timeout: float) -> bool:
        """Wait for requests being answered; False if some still are."""
        with self._active_lock:
            return self._active_lock.wait_for(lambda: self._active == 0, timeout)


class ProtocolHandler(BaseHTTPRequestHandler):
    server: ModelServer
    protocol_version = "HTTP/1.1"
    server_version = "modelhub-model-server"
    timeout = SOCKET_TIMEOUT_SECONDS
    # Headers and body go out in one buffered write, without Nagle's delay:
    # otherwise a small answer waits for the client's delayed ACK (~40 ms).
    wbufsize = -1
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.monotonic()
        self.server.request_started()
        self._body_read = False
        url = urlsplit(self.path)
        status: int | str = "-"
        try:
            status = self._respond(url.path, parse_qs(url.query))
        except OSError:
            # The client went away or stalled past the socket timeout; there
            # is no one left to answer.
            self.close_connection = True
        finally:
            self.server.request_finished()
            elapsed = (time.monotonic() - started) * 1000
            logger.info("%s %s %s %.1fms", self.command, url.path, status, elapsed)

    def _respond(self, path: str, query: Query) -> int:
        try:
            status, body, headers = self._answer(path, query)
        except RequestError as error:
            status, headers = error.status, error.headers
            body = _json({"detail": error.message})
        except ModelFailure:
            status, headers = HTTPStatus.INTERNAL_SERVER_ERROR, {}
            body = _json({"detail": MODEL_FAILED})
        except OSError:
            raise
        except Exception:
            logger.exception("The model server failed to answer a request")
            status, headers = HTTPStatus.INTERNAL_SERVER_ERROR, {}
            body = _json({"detail": SERVER_FAILED})
        self._send(status, body, headers)
        return int(status)

    def _answer(self, path: str, query: Query) -> Answer:
        routes, argument = self._routes(path)
        if not routes:
            raise RequestError(HTTPStatus.NOT_FOUND, f"There is no endpoint at {path}.")
        if self.command not in routes:
            allowed = ", ".join(sorted(routes))
            raise RequestError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{path} does not accept {self.command}; use {allowed}.",
                headers={"Allow": allowed},
            )
        return routes[self.command](argument, query)

    def _routes(self, path: str) -> tuple[dict[str, Endpoint], str]:
        fixed: dict[str, dict[str, Endpoint]] = {
            "/healthz": {"GET": self._healthz},
            "/models/status": {"GET": self._status},
            "/card": {"GET": self._card},
            "/run": {"POST": self._run},
            "/job/submit": {"POST": self._submit},
        }
        if path in fixed:
            return fixed[path], ""
        by_id: dict[str, dict[str, Endpoint]] = {
            "/job/status/": {"GET": self._job_status},
            "/job/result/": {"GET": self._job_result},
        }
        for prefix, route in by_id.items():
            job_id = path.removeprefix(prefix)
            if job_id != path and job_id and "/" not in job_id:
                return route, job_id
        return {}, ""

    def _healthz(self, _argument: str, _query: Query) -> Answer:
        return HTTPStatus.OK, _json({"status": "ok"}), {}

    def _status(self, _argument: str, _query: Query) -> Answer:
        app = self.server.app
        statuses = [{"modelName": app.model_id, "modelVersion": app.version}]
        return HTTPStatus.OK, _json(statuses), {}

    def _card(self, _argument: str, _query: Query) -> Answer:
        app = self.server.app
        card = {
            **app.card,
            "id": app.model_id,
            "version": app.version,
            "output_columns": app.output_columns,
        }
        return HTTPStatus.OK, _json(card), {}

    def _run(self, _argument: str, query: Query) -> Answer:
        inputs = self._read_inputs(query)
        return HTTPStatus.OK, self.server.app.run(inputs), {}

    def _submit(self, _argument: str, query: Query) -> Answer:
        inputs = self._read_inputs(query)
        job = self.server.app.submit(inputs)
        if job is None:
            raise RequestError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "Too many jobs are waiting already; submit again later.",
                headers={"Retry-After": "5"},
            )
        message = f"Job submitted with {len(inputs)} inputs."
        answer = {"job_id": job.id, "message": message}
        return HTTPStatus.OK, _json(answer), {}

    def _job_status(self, job_id: str, _query: Query) -> Answer:
        job = self._known_job(job_id)
        return HTTPStatus.OK, _json({"job_id": job.id, "status": job.status}), {}

    def _job_result(self, job_id: str, _query: Query) -> Answer:
        job = self._known_job(job_id)
        if job.status == PENDING:
            raise RequestError(HTTPStatus.CONFLICT, "The job has not finished yet.")
        if job.status == FAILED or job.body is None:
            raise RequestError(HTTPStatus.CONFLICT, "The job failed; it has no result.")
        return HTTPStatus.OK, job.body, {}

    def _known_job(self, job_id: str) -> Job:
        job = self.server.app.job(job_id)
        if job is None:
            raise RequestError(
                HTTPStatus.NOT_FOUND,
                "There is no job with this id; finished jobs are kept for a while "
                "only.",
            )
        return job

    def _read_inputs(self, query: Query) -> list[str]:
        orient = query.get("orient", ["records"])[-1]
        if orient != "records":
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "Only orient=records is supported."
            )
        body = self._read_body()
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                "The body is not valid JSON; send a JSON list of strings, "
                'such as ["CCO"].',
            )
        if not isinstance(data, list):
            raise RequestError(
                HTTPStatus.BAD_REQUEST,
                'The body must be a JSON list of strings, such as ["CCO"].',
            )
        for number, item in enumerate(data, start=1):
            if not isinstance(item, str):
                raise RequestError(
                    HTTPStatus.BAD_REQUEST,
                    f"Input {number} is not a string; every input must be a string.",
                )
        return data

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise RequestError(
                HTTPStatus.LENGTH_REQUIRED,
                "Send the body with a Content-Length; chunked bodies are not accepted.",
            )
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if length < 0:
            raise RequestError(
                HTTPStatus.LENGTH_REQUIRED,
                "Send the body with a Content-Length header.",
            )
        limit = self.server.max_body_bytes
        if length > limit:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"The body is {length} bytes; this server accepts at most {limit}.",
            )

        body = self.rfile.read(length)
        self._body_read = True
        if len(body) != length:
            raise RequestError(
                HTTPStatus.BAD_REQUEST, "The body ended before its Content-Length."
            )
        return body

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
        if not self._body_read and self._has_body():
            # The unread body would be taken for the next request on this
            # connection, so the connection ends with this answer.
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _has_body(self) -> bool:
        length = self.headers.get("Content-Length", "0").strip()
        return bool(self.headers.get("Transfer-Encoding")) or length not in ("", "0")

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Answer the errors the base class finds (bad request line, ...) as JSON."""
        status = HTTPStatus(code)
        body = _json({"detail": message or status.phrase})
        self.close_connection = True
        # A request line too broken to name its version would otherwise get
        # an HTTP/0.9 answer: a body with no status line at all.
        self.request_version = "HTTP/1.1"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are logged once, when answered, by `_dispatch`."""

    def log_message(self, format: str, *args: Any) -> None:
        logger.warning("%s %s", self.address_string(), format % args)


def _json(payload: Any) -> bytes:
    return json.dumps(payload).encode()


def make_server(
    app: ModelApp,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> ModelServer:
    """Bind and listen; port 0 takes any free port (see `ModelServer.port`)."""
    return ModelServer((host, port), app=app, max_body_bytes=max_body_bytes)


def write_port_file(path: Path, port: int) -> None:
    """Write the port so that a reader sees either nothing or all of it."""
    path = path.resolve()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(str(port))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m models_registry.serving",
        description="Serve a Python callable over the model protocol.",
    )
    parser.add_argument("--entrypoint", required=True, help="module:function")
    parser.add_argument("--model-id", required=True)
    parser.add_argument(
        "--version", default="", help="Reported in /models/status; default: VERSION"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 takes any free port")
    parser.add_argument(
        "--port-file", type=Path, help="Write the bound port here once listening"
    )
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )

    try:
        app = load_app(
            entrypoint=args.entrypoint, model_id=args.model_id, version=args.version
        )
    except EntrypointError as error:
        logger.error("%s", error, exc_info=error.__cause__)
        return 2
    try:
        server = make_server(
            app, host=args.host, port=args.port, max_body_bytes=args.max_body_bytes
        )
    except OSError as error:
        logger.error("Cannot listen on %s port %s: %s", args.host, args.port, error)
        return 1

    if args.port_file:
        # The socket is listening already: connections made as soon as the
        # file appears wait in its backlog until the loop below takes them.
        try:
            write_port_file(args.port_file, server.port)
        except OSError as error:
            logger.error("Cannot write the port file %s: %s", args.port_file, error)
            server.server_close()
            return 1

    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    serving = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    serving.start()
    logger.info(
        "Serving model %s version %s on http://%s:%d",
        app.model_id,
        app.version or "-",
        args.host,
        server.port,
    )

    while not stop.wait(0.5) and serving.is_alive():
        pass
    logger.info("Shutting down")
    server.shutdown()
    if not server.wait_for_requests(timeout=SHUTDOWN_GRACE_SECONDS):
        logger.warning("Requests were still being answered at shutdown")
    server.server_close()
    app.close()
    return 0
