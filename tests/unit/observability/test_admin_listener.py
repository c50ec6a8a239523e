"""The admin listener answers probes and scrapes on its own port, whatever the process is doing."""

from collections.abc import Callable, Iterator

import httpx
import pytest

from cdc_sync.observability.admin_listener import Readiness, start_admin_listener

Listen = Callable[[Readiness], str]


@pytest.fixture
def listen() -> Iterator[Listen]:
    servers = []

    def start(ready: Readiness) -> str:
        server = start_admin_listener("127.0.0.1", 0, ready)  # any free port
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_metrics_and_health_are_served(listen: Listen) -> None:
    base = listen(lambda: None)
    metrics = httpx.get(f"{base}/metrics", timeout=5)
    assert metrics.status_code == 200 and "python_info" in metrics.text
    assert httpx.get(f"{base}/healthz", timeout=5).json() == {"status": "ok"}
    assert httpx.get(f"{base}/readyz", timeout=5).json() == {"status": "ready"}
    assert httpx.get(f"{base}/nothing", timeout=5).status_code == 404


def test_not_ready_says_why(listen: Listen) -> None:
    base = listen(lambda: "no partitions assigned")
    answer = httpx.get(f"{base}/readyz", timeout=5)
    assert (answer.status_code, answer.json()["detail"]) == (503, "no partitions assigned")


def test_a_readiness_check_that_raises_is_not_ready_not_a_hang(listen: Listen) -> None:
    def broken() -> str | None:
        raise RuntimeError("boom")

    answer = httpx.get(f"{listen(broken)}/readyz", timeout=5)
    assert (answer.status_code, answer.json()["detail"]) == (503, "readiness check failed: RuntimeError")


def test_a_taken_port_is_an_os_error() -> None:
    server = start_admin_listener("127.0.0.1", 0)
    try:
        with pytest.raises(OSError):
            start_admin_listener("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
