"""The processes a benchmark drives: vendor sandboxes and `cdc-sync run`, with a group started at 'now'."""

import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).parents[1]
CLI = str(Path(sys.executable).parent / "cdc-sync")


def bench_config(path: Path, group: str) -> Path:
    """The repo config, unthrottled: benchmarks measure cdc-sync, not the vendor's limits."""
    config: dict[str, Any] = tomllib.loads((ROOT / "config" / "cdc-sync.toml").read_text())
    config["consumer"].update(group_id=group, metrics_port=9128)
    for destination in config["destinations"].values():
        destination.update(rate_limit_per_s=100_000, max_concurrency=64)
    path.write_text(tomli_w.dumps(config))
    return path


def end_offsets(bootstrap: str, topic: str) -> list[TopicPartition]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-probe"})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    ends = [
        TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1])
        for p in partitions
    ]
    consumer.close()
    return ends


def commit_group(bootstrap: str, group: str, offsets: list[TopicPartition]) -> None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    consumer.commit(offsets=offsets, asynchronous=False)
    consumer.close()


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).is_success:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"bench: {url} did not answer in {timeout_s:.0f}s")


@contextmanager
def running(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=out)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
