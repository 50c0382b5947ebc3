"""The bounds from Kafka's own Java client: `ProducerPerformance` and `ConsumerPerformance`
(org.apache.kafka.tools, kafka-tools 4.4.0, fetched into .cache/kafka/tools-libs by
`scripts/fetch-kafka --tools`).

librdkafka's bounds (reference_clients.py) are driven from a Python loop, one produce()
per record; these are the other best client there is, with no Python at all. The sync's
limit is judged against the faster of the two on each side.

Both tools report their own rates, which exclude the JVM's start and, for the consumer,
the group join (`fetch.nMsg.sec`: records over the time spent fetching). The producer
runs with MirrorMaker 2's producer settings (mirrormaker.py), the settings a sync uses:
acks=all, idempotence, linger 10 ms, 1 MB batches. Its values are the tool's own
payload of `--record-size` bytes, no key, partitions chosen by the client.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from harness import BenchError, Result, create_topic, delete_topic
from mirrormaker import CONSUMER_SETTINGS, PRODUCER_SETTINGS

from ksync.devkafka.kafka import java_binary

TOOLS_HEAP_MB = 1024
JAVA_PRODUCE_TOPIC = "bench-produce-only-java"
_PRODUCED = re.compile(r"(\d+) records sent, ([\d.]+) records/sec")


def tools_libs() -> Path:
    """kafka-tools' classpath, fetched by `make bench` (scripts/fetch-kafka --tools)."""
    value = os.environ.get("KSYNC_TOOLS_LIBS")
    libs = Path(value) if value else Path(__file__).resolve().parent.parent / ".cache/kafka/tools-libs"
    if not any(libs.glob("kafka-tools-*.jar")):
        raise BenchError(f"{libs} holds no kafka-tools jar: run "
                         "`bash scripts/fetch-kafka --tools` (make bench does)")
    return libs


def _run_tool(name: str, main_class: str, args: list[str], deadline_s: float) -> str:
    cmd = [java_binary(), f"-Xmx{TOOLS_HEAP_MB}m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
           "-cp", f"{tools_libs()}/*", main_class, *args]
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True,
                              timeout=deadline_s, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{name}: {main_class} still running after {deadline_s:.0f} s") from None
    if done.returncode != 0:
        raise BenchError(f"{name}: {main_class} exited with status {done.returncode}:\n"
                         f"{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return done.stdout


def java_produce_only(dst: str, records: int, size: int, partitions: int,
                      deadline_s: float) -> Result:
    """ProducerPerformance writing `records` values of `size` bytes into a fresh topic."""
    name = "produce-only (Java)"
    create_topic(dst, JAVA_PRODUCE_TOPIC, partitions)
    try:
        out = _run_tool(name, "org.apache.kafka.tools.ProducerPerformance", [
            "--topic", JAVA_PRODUCE_TOPIC, "--num-records", str(records),
            "--record-size", str(size), "--throughput", "-1",
            "--command-property", f"bootstrap.servers={dst}",
            *[f"{k}={v}" for k, v in PRODUCER_SETTINGS.items()],
        ], deadline_s)
    finally:
        delete_topic(dst, JAVA_PRODUCE_TOPIC)
    found = _PRODUCED.findall(out)
    if not found:
        raise BenchError(f"{name}: no summary line in its output:\n{out[-1500:]}")
    sent, rate = int(found[-1][0]), float(found[-1][1])
    if sent != records:
        raise BenchError(f"{name}: sent {sent} of {records} records")
    return Result(name, records, size, records / rate)


def java_consume_only(src: str, topic: str, records: int, size: int,
                      deadline_s: float) -> Result:
    """ConsumerPerformance reading `records` records of `topic` back (a fresh group)."""
    name = "consume-only (Java)"
    with tempfile.NamedTemporaryFile("w", prefix="consume-only-", suffix=".properties") as config:
        config.write("".join(f"{k}={v}\n" for k, v in CONSUMER_SETTINGS.items()))
        config.flush()
        out = _run_tool(name, "org.apache.kafka.tools.ConsumerPerformance", [
            "--bootstrap-server", src, "--topic", topic, "--num-records", str(records),
            "--timeout", str(int(deadline_s * 1000)), "--command-config", config.name,
            "--group", f"bench-consume-only-{os.getpid()}-{topic}",
        ], deadline_s + 30)
    lines = [line for line in out.splitlines() if line.strip()]
    header = next((i for i, line in enumerate(lines) if line.startswith("start.time")), None)
    if header is None or header + 1 >= len(lines):
        raise BenchError(f"{name}: no summary line in its output:\n{out[-1500:]}")
    row = dict(zip([c.strip() for c in lines[header].split(",")],
                   [c.strip() for c in lines[header + 1].split(",")], strict=False))
    consumed, rate = int(row["data.consumed.in.nMsg"]), float(row["fetch.nMsg.sec"])
    if consumed < records:
        raise BenchError(f"{name}: read {consumed} of {records} records")
    return Result(name, records, size, records / rate)
