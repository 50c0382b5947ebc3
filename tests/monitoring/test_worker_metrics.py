"""`ksync worker --metrics-port`: a standalone worker exposes its own members' metrics."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import (
    KsyncServer,
    add_instance,
    create_topic,
    producer,
    read_all,
    running_server,
    task_body,
    wait_status,
    wait_until,
)
from prometheus_client.parser import text_string_to_metric_families

from ksync.devkafka import KafkaCluster, free_port, stop_process, wait_for_port


@pytest.fixture
def server_and_worker(
    kafka_pair: tuple[KafkaCluster, KafkaCluster], tmp_path: Path
) -> Iterator[tuple[KsyncServer, int]]:
    """A server and a worker sharing one SQLite store (same machine), the worker with a
    Prometheus port. The clusters come first so that they outlive both processes."""
    port = free_port()
    with running_server(str(tmp_path)) as srv:
        log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [sys.executable, "-m", "ksync", "worker", "--data-dir", str(tmp_path), "--id", "metrics-worker",
             "--metrics-port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # As generous as a server's start (helpers.KsyncServer): on a loaded machine the
            # imports alone took over 30 s; a worker that dies ends the wait at once.
            wait_for_port(port, timeout_s=120, proc=worker)
            yield srv, port
        finally:
            stop_process(worker)
            log.close()


def test_a_standalone_worker_serves_its_members_metrics(
    brokers: tuple[KafkaCluster, KafkaCluster], server_and_worker: tuple[KsyncServer, int], unique: str
) -> None:
    src, dst = brokers
    server, port = server_and_worker
    with server.client() as client:
        wait_until(
            lambda: {w["id"] for w in client.get("/api/v1/workers").json()["workers"]} >= {"metrics-worker"},
            what="the standalone worker to heartbeat",
        )
        a, b = add_instance(client, src), add_instance(client, dst)
        wm1, wm2 = f"wm1-{unique}", f"wm2-{unique}"
        for topic in (wm1, wm2):  # two one-member tasks: one lands on each worker
            create_topic(src, topic, 1)
            p = producer(src)
            for _ in range(300):
                p.produce(topic, b"w" * 50, partition=0)
            assert p.flush(30) == 0
            task = client.post("/api/v1/tasks", json=task_body(a, b, topics=[topic])).json()
            wait_status(client, task["id"], "Running")
        read_all(dst, wm1, 1, 300)
        read_all(dst, wm2, 1, 300)
        on_worker = {
            m["task_id"]
            for w in client.get("/api/v1/workers").json()["workers"]
            if w["id"] == "metrics-worker"
            for m in w["members"]
        }
        assert len(on_worker) == 1, on_worker
        mine = on_worker.pop()

    def scrape() -> dict[str, list]:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        return {f.name: f.samples for f in text_string_to_metric_families(text)}

    def counted() -> object:
        fams = scrape()
        records = [s for s in fams.get("ksync_records", []) if s.name == "ksync_records_total"]
        return sum(s.value for s in records if s.labels["task"] == mine) == 300 and fams

    fams = wait_until(counted, timeout_s=30, what="the worker's ksync_records_total to reach 300")
    # Only its own members: the other task runs in the server's embedded worker.
    assert {s.labels["task"] for s in fams["ksync_records"]} == {mine}
    assert [s.value for s in fams["ksync_worker_members"] if s.labels["worker"] == "metrics-worker"] == [1]
    assert any(s.labels["task"] == mine for s in fams["ksync_replication_latency_seconds"])
    assert "ksync_task_status" not in fams  # statuses come from servers, which see every task
