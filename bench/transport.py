"""Client-side cost of the HTTP transports cdc-sync could deliver with: CPU µs per request and
requests/s, against a local vendor stand-in that is not the limit (bench/transport_server.py,
uvloop + httptools in its own process; its CPU is reported to show the headroom).

Every request is a Mailchimp member PUT as cdc-sync sends it (path with the subscriber hash,
Basic auth, Idempotency-Key, JSON body). Each configuration runs in a fresh process; client CPU
is time.process_time() of that process over the timed part (after a warm-up).

    python -m bench.transport      (writes bench/results/transport.json)
"""

import asyncio
import base64
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson

from bench.cpu import CpuMeter, fixed
from bench.processes import ROOT

RESULTS = Path(__file__).parent / "results" / "transport.json"
PORT = int(os.environ.get("BENCH_TRANSPORT_PORT", "9199"))
URL = f"http://127.0.0.1:{PORT}"
SECONDS = float(os.environ.get("BENCH_TRANSPORT_SECONDS", "3"))
WARMUP_S = 0.5
PACKAGES = ("httpx", "httpcore", "anyio", "sniffio", "h11", "aiohttp", "httpx-aiohttp", "uvloop")
Send = Callable[[str, bytes, dict[str, str]], Awaitable[bool]]


def _requests(count: int = 4096) -> list[tuple[str, bytes, dict[str, str]]]:
    auth = "Basic " + base64.b64encode(b"cdc-sync:sandbox-mailchimp-key").decode()
    made = []
    for n in range(count):
        email = f"bench-{n}@example.com"
        body = {
            "email_address": email,
            "status_if_new": "transactional",
            "merge_fields": {"FNAME": "Bench", "LNAME": f"Mark {n}", "PHONE": "+4930123456", "COUNTRY": "DE"},
            "language": "de",
        }
        path = f"/3.0/lists/crm-audience/members/{hashlib.md5(email.encode()).hexdigest()}"
        key = hashlib.sha256(email.encode()).hexdigest()[:40]
        headers = {"Authorization": auth, "Idempotency-Key": key, "Content-Type": "application/json"}
        made.append((URL + path, orjson.dumps(body), headers))
    return made


async def _drive(send: Send, concurrency: int) -> dict[str, float]:
    """`concurrency` senders in a loop; counts, CPU and wall time over the part after the warm-up."""
    requests, done, failed, stop = _requests(), [0], [0], asyncio.Event()

    async def sender(first: int) -> None:
        n = first
        while not stop.is_set():
            ok = await send(*requests[n % len(requests)])
            done[0] += 1
            failed[0] += 0 if ok else 1
            n += concurrency

    tasks = [asyncio.create_task(sender(i)) for i in range(concurrency)]
    await asyncio.sleep(WARMUP_S)
    cpu, wall, count = time.process_time(), time.perf_counter(), done[0]
    await asyncio.sleep(SECONDS)
    cpu, wall, count = time.process_time() - cpu, time.perf_counter() - wall, done[0] - count
    stop.set()
    await asyncio.gather(*tasks)
    return {"requests": count, "failed": failed[0], "client_cpu_s": cpu, "wall_s": wall}


async def _httpx(pool: int | None, concurrency: int, aiohttp_transport: bool) -> dict[str, float]:
    import httpx

    limits = (
        httpx.Limits() if pool is None else httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    )
    transport: httpx.AsyncBaseTransport | None = None
    if aiohttp_transport:
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=limits)
    async with httpx.AsyncClient(limits=limits, transport=transport, timeout=30) as client:

        async def send(url: str, body: bytes, headers: dict[str, str]) -> bool:
            return (await client.put(url, content=body, headers=headers)).status_code == 200

        return await _drive(send, concurrency)


async def _aiohttp(pool: int, concurrency: int) -> dict[str, float]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=pool)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:

        async def send(url: str, body: bytes, headers: dict[str, str]) -> bool:
            async with session.put(url, data=body, headers=headers) as response:
                await response.read()
                return response.status == 200

        return await _drive(send, concurrency)


def _one(config: dict[str, Any]) -> dict[str, float]:
    kind, pool, concurrency = config["client"], config["pool"], config["concurrency"]
    if kind == "aiohttp":
        run = _aiohttp(pool, concurrency)
    else:
        run = _httpx(pool, concurrency, aiohttp_transport=kind == "httpx-aiohttp")
    if config["loop"] == "uvloop":
        import uvloop

        return uvloop.run(run)
    return asyncio.run(run)


def configurations() -> list[dict[str, Any]]:
    """(a) httpx pool = concurrency, and its default limits (100, 20 kept alive); (b) small httpx
    pools under more senders; (c) httpx over the httpx-aiohttp transport; (d) plain aiohttp."""
    grid: list[tuple[str, int | None, int]] = []
    for c in (1, 16, 64):
        grid += [("httpx", c, c), ("httpx", None, c), ("httpx-aiohttp", c, c), ("aiohttp", c, c)]
    grid += [("httpx", pool, c) for pool in (4, 8) for c in (16, 64)]
    return [
        {"client": kind, "pool": pool, "concurrency": c, "loop": loop}
        for loop in ("asyncio", "uvloop")
        for kind, pool, c in grid
    ]


def _measure(config: dict[str, Any], meter: CpuMeter) -> dict[str, Any]:
    before = meter.sample()
    child = subprocess.run(
        [sys.executable, "-m", "bench.transport", "--one", json.dumps(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    after = meter.sample()
    raw = json.loads(child.stdout.strip().splitlines()[-1])
    server_cpu = after.seconds["server"] - before.seconds["server"]
    return {
        **config,
        "requests_per_s": round(raw["requests"] / raw["wall_s"], 1),
        "client_cpu_us_per_request": round(raw["client_cpu_s"] * 1e6 / max(raw["requests"], 1), 1),
        "client_cores": round(raw["client_cpu_s"] / raw["wall_s"], 2),
        # The server's share over the child's whole life (start-up included): an upper bound.
        "server_cores": round(server_cpu / (after.at - before.at), 2),
        "failed": raw["failed"],
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def _versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'client':<14} {'pool':>5} {'conc':>5} {'loop':<8} {'req/s':>9} {'µs CPU/req':>11}"
    head += f" {'client':>7} {'server':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        pool = "dflt" if r["pool"] is None else r["pool"]
        lines.append(
            f"{r['client']:<14} {pool:>5} {r['concurrency']:>5} {r['loop']:<8} {r['requests_per_s']:>9,.0f} "
            f"{r['client_cpu_us_per_request']:>11,.1f} {r['client_cores']:>7.2f} {r['server_cores']:>7.2f}"
        )
    return "\n".join(lines)


def main() -> None:
    server = subprocess.Popen([sys.executable, "-m", "bench.transport_server", str(PORT)], cwd=ROOT)
    try:
        time.sleep(1.0)
        meter = CpuMeter({"server": fixed(server.pid)})
        rows = [_measure(config, meter) for config in configurations()]
    finally:
        server.terminate()
        server.wait(timeout=30)
    results = {"seconds_per_config": SECONDS, "cpus": os.cpu_count(), "versions": _versions(), "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(_table(rows))
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(_one(json.loads(sys.argv[2]))))
    else:
        main()
