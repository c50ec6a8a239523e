"""The admin listener of a long-running process: `/metrics` (Prometheus), `/healthz` (the process
answers) and `/readyz` (it can do its work: the process says what that means), on a port apart
from any traffic it serves. A thread, so it answers while the event loop is busy."""

import json
import logging
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

log = logging.getLogger(__name__)

Readiness = Callable[[], str | None]
"""Why the process is not ready, or None when it is."""


def always_ready() -> str | None:
    return None


Answer = tuple[int, str, bytes]  # status, content type, body


def _json(status: int, body: dict[str, str | None]) -> Answer:
    return status, "application/json", json.dumps(body).encode()


def _readiness(ready: Readiness) -> Answer:
    try:
        why = ready()
    except Exception as exc:  # a probe must get an answer, whatever the check raised
        why = f"readiness check failed: {type(exc).__name__}"
    return _json(503, {"status": "not ready", "detail": why}) if why else _json(200, {"status": "ready"})


def _routes(ready: Readiness) -> dict[str, Callable[[], Answer]]:
    return {
        "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest()),
        "/healthz": lambda: _json(200, {"status": "ok"}),
        "/readyz": lambda: _readiness(ready),
    }


def _handler(ready: Readiness) -> type[BaseHTTPRequestHandler]:
    routes = _routes(ready)
    missing = _json(404, {"detail": "not found: /metrics, /healthz, /readyz"})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            status, content_type, body = route() if route else missing
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # probes every few seconds: quiet
            log.debug(format, *args)

    return Handler


def start_admin_listener(host: str, port: int, ready: Readiness = always_ready) -> ThreadingHTTPServer:
    """Serve in a daemon thread until the process ends; OSError when the port is taken."""
    server = ThreadingHTTPServer((host, port), _handler(ready))
    server.daemon_threads = True
    Thread(target=server.serve_forever, name=f"admin-listener-{port}", daemon=True).start()
    return server
