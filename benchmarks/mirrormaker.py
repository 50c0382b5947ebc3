"""MirrorMaker 2, the replicator a ksync user would pick instead, on the same brokers.

Dedicated mode (`org.apache.kafka.connect.mirror.MirrorMaker`, connect-mirror 4.3.1: the
newest Maven Central serves here; it speaks to 4.4.0 brokers) from the jars
`scripts/fetch-kafka --mirror` puts in .cache/kafka/mirror-libs, with an mm2.properties
written per run. One JVM per run, so every run starts cold alike and pays its own start.

Settings, as a careful operator would set them (MIRROR_SETTINGS below):
* one flow src->dst for the one topic; checkpoints, heartbeats, group-offset
  sync and ACL sync off (the bench measures the copy, nothing else);
* the target producer `acks=all`, idempotent, `max.in.flight.requests.per.connection=5`
  (ordered with idempotence), `linger.ms=10` and `batch.size=1 MB` like ksync's producer,
  `buffer.memory=256 MB`, compression per case (none by default);
* the source consumer `fetch.max.bytes=50 MB`, `max.partition.fetch.bytes=8 MB`,
  `max.poll.records=10000`, `fetch.max.wait.ms=100` (ksync's fetch settings);
* DefaultReplicationPolicy: the target topic is `<alias>.<topic>`, with a fresh source
  alias per run (`m1`, `m2`, ...) so every run copies into a new topic with new internal
  topics (nothing resumes from an earlier run's offsets).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from harness import BenchError, CpuMeter, Result, delete_topic, partition_counts, wait_on_target

from ksync.devkafka.kafka import java_binary
from ksync.devkafka.processes import spawn

MIRROR_VERSION = "4.3.1"
MIRROR_HEAP_MB = 1024
TARGET_ALIAS = "dst"

MIRROR_SETTINGS: dict[str, str] = {
    "emit.checkpoints.enabled": "false",
    "emit.heartbeats.enabled": "false",
    "sync.group.offsets.enabled": "false",
    "sync.topic.acls.enabled": "false",
    "refresh.groups.enabled": "false",
    "replication.factor": "1",
    "offset-syncs.topic.replication.factor": "1",
    "heartbeats.topic.replication.factor": "1",
    "checkpoints.topic.replication.factor": "1",
    "offset.storage.replication.factor": "1",
    "status.storage.replication.factor": "1",
    "config.storage.replication.factor": "1",
}
PRODUCER_SETTINGS: dict[str, str] = {
    "acks": "all",
    "enable.idempotence": "true",
    "max.in.flight.requests.per.connection": "5",
    "linger.ms": "10",
    "batch.size": "1048576",
    "buffer.memory": "268435456",
    "max.request.size": "10485760",
}
CONSUMER_SETTINGS: dict[str, str] = {
    "fetch.max.bytes": "52428800",
    "max.partition.fetch.bytes": "8388608",
    "max.poll.records": "10000",
    "fetch.max.wait.ms": "100",
}


def mirror_libs() -> Path:
    """connect-mirror's classpath, fetched by `make bench` (scripts/fetch-kafka --mirror)."""
    value = os.environ.get("KSYNC_MIRROR_LIBS")
    libs = Path(value) if value else Path(__file__).resolve().parent.parent / ".cache/kafka/mirror-libs"
    if not (libs / f"connect-mirror-{MIRROR_VERSION}.jar").is_file():
        raise BenchError(f"{libs} holds no connect-mirror-{MIRROR_VERSION}.jar: run "
                         "`bash scripts/fetch-kafka --mirror` (make bench does)")
    return libs


def settings_text() -> str:
    """The operator settings, for the bench's header."""
    return ("producer " + " ".join(f"{k}={v}" for k, v in PRODUCER_SETTINGS.items())
            + "; consumer " + " ".join(f"{k}={v}" for k, v in CONSUMER_SETTINGS.items()))


class MirrorMaker:
    """One dedicated-mode MirrorMaker 2 JVM copying `topic` from src to dst."""

    def __init__(self, src: str, dst: str, topic: str, alias: str, tasks_max: int,
                 compression: str = "none") -> None:
        self.alias = alias
        self.target_topic = f"{alias}.{topic}"
        self.folder = Path(tempfile.mkdtemp(prefix=f"mm2-{alias}-"))
        props = {
            "clusters": f"{alias}, {TARGET_ALIAS}",
            f"{alias}.bootstrap.servers": src,
            f"{TARGET_ALIAS}.bootstrap.servers": dst,
            f"{alias}->{TARGET_ALIAS}.enabled": "true",
            f"{TARGET_ALIAS}->{alias}.enabled": "false",
            f"{alias}->{TARGET_ALIAS}.topics": topic,
            "tasks.max": str(tasks_max),
            **MIRROR_SETTINGS,
            **{f"{TARGET_ALIAS}.producer.{k}": v for k, v in PRODUCER_SETTINGS.items()},
            f"{TARGET_ALIAS}.producer.compression.type": compression,
            **{f"{alias}.consumer.{k}": v for k, v in CONSUMER_SETTINGS.items()},
        }
        (self.folder / "mm2.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.folder / "log4j2.properties").write_text(
            "rootLogger.level=WARN\nrootLogger.appenderRef.f.ref=F\n"
            "appender.f.type=File\nappender.f.name=F\n"
            f"appender.f.fileName={self.folder / 'mm2.log'}\n"
            "appender.f.layout.type=PatternLayout\n"
            "appender.f.layout.pattern=[%d] %p %m (%c)%n\n"
            "logger.mirror.name=org.apache.kafka.connect.mirror\nlogger.mirror.level=INFO\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.meter: CpuMeter | None = None

    def start(self) -> None:
        libs = mirror_libs()
        with open(self.folder / "stdout.log", "wb") as out:
            self.proc = spawn(
                [java_binary(), f"-Xmx{MIRROR_HEAP_MB}m", "-Xms256m", "-XX:+UseG1GC",
                 "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={self.folder / 'log4j2.properties'}",
                 "-cp", f"{libs}/*", "org.apache.kafka.connect.mirror.MirrorMaker",
                 str(self.folder / "mm2.properties"), "--clusters", TARGET_ALIAS],
                stdout=out, cwd=str(self.folder))
        self.meter = CpuMeter(self.proc.pid).start()

    def tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("stdout.log", "mm2.log"):
            path = self.folder / name
            if path.is_file():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def check(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError(f"MirrorMaker 2 ({self.alias}) exited with status "
                             f"{self.proc.returncode}:\n{self.tail()}")

    def stop(self) -> None:
        if self.meter is not None:
            self.meter.stop()
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def run_mirrormaker(src: str, dst: str, topic: str, records: int, size: int, partitions: int,
                    tasks_max: int, alias: str, deadline_s: float, name: str,
                    compression: str = "none", target: str | None = None,
                    on_arrival: Callable[[str], None] | None = None) -> Result:
    """One timed copy: from the JVM's launch until every record is on the target.

    MirrorMaker 2 dials the target at `target` (default `dst`, where the observer reads);
    `on_arrival(target topic)` runs once every record is there, before the topic goes.
    """
    mm = MirrorMaker(src, target or dst, topic, alias, tasks_max, compression)
    expected = partition_counts(records, partitions)
    marks: dict[str, dict[tuple[int, int], float]] = {}
    t0 = time.perf_counter()
    try:
        mm.start()
        assert mm.meter is not None
        meter = mm.meter
        try:
            arrival = wait_on_target(dst, mm.target_topic, expected, time.monotonic() + deadline_s,
                                     mm.check, name,
                                     on_first=lambda: marks.__setitem__("first", meter.mark()))
        except BenchError as exc:
            raise BenchError(f"{exc}\n  MirrorMaker 2 log tail:\n{mm.tail()}") from None
        after = meter.mark()
        started = meter.since({}, marks.get("first", after))
        if on_arrival is not None:
            on_arrival(mm.target_topic)
    finally:
        mm.stop()
    delete_topic(dst, mm.target_topic)
    procs = meter.since(marks.get("first", {}), after)
    extra = sum(arrival.ends.values()) - records
    start_cpu = sum(p.seconds for p in started)
    note = f"(JVM start to first record: {start_cpu:.1f} CPU s, not counted)"
    if extra > 0:
        note += f" ({extra} duplicates)"
    return Result(name, records, size, arrival.t_done - t0, steady_s=arrival.t_done - arrival.t_first,
                  first_s=arrival.t_first - t0, cpu_s=sum(p.seconds for p in procs),
                  procs=procs, note=note)
