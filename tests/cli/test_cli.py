"""The `ksync instance …` and `ksync task …` commands, run as subprocesses against a live
server with real brokers: every command, both output formats, and the exit codes scripts
rely on (0 ok, 1 API error, 2 usage, 3 unreachable, 4 not found)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from helpers import KsyncServer, create_topic, producer, read_all, running_server, wait_until

from ksync.devkafka import KafkaCluster, free_port

UNKNOWN_TASK = "task-zzzzzzzz"
UNKNOWN_INSTANCE = "ins-zzzzzzzz"


def ksync(
    url: str, *args: str, key: str | None = None, stdin: str | None = None, timeout_s: float = 90
) -> subprocess.CompletedProcess[str]:
    """`python -m ksync ARGS` with KSYNC_API_URL=url (and KSYNC_API_KEY=key if given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KSYNC_")}
    env["KSYNC_API_URL"] = url
    if key is not None:
        env["KSYNC_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "ksync", *args],
        check=False,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def ksync_each(url: str, cases: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    """`ksync(url, *args)` for each case, a few at a time (each is a Python start-up)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: ksync(url, *args), cases))


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    return result.stdout


def fails(result: subprocess.CompletedProcess[str], code: int) -> str:
    """Assert exit `code`, nothing on stdout; the stderr text."""
    assert result.returncode == code, f"exit {result.returncode}\nstdout:{result.stdout}\nstderr:{result.stderr}"
    assert result.stdout == "", result.stdout
    return result.stderr


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(result))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, brokers: tuple[KafkaCluster, KafkaCluster]) -> Iterator[KsyncServer]:
    # Depends on `brokers` so that it stops before them (see tests/api/conftest.py).
    with running_server(str(tmp_path_factory.mktemp("ksync-cli"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def url(server: KsyncServer) -> str:
    return server.url


@pytest.fixture(scope="module")
def ids(url: str, brokers: tuple[KafkaCluster, KafkaCluster]) -> tuple[str, str]:
    """The source and target brokers registered with `instance add -o json`."""
    src, dst = brokers
    a = as_json(ksync(url, "instance", "add", "cli-src", "--bootstrap-servers", src.bootstrap,
                      "--region", "ap-guangzhou", "--zone", "gz-3", "-o", "json"))
    b = as_json(ksync(url, "instance", "add", "cli-dst", "-b", dst.bootstrap, "--output", "json"))
    assert (a["name"], a["cluster_id"], a["region"], a["zone"]) == ("cli-src", src.cluster_id, "ap-guangzhou", "gz-3")
    assert (b["name"], b["cluster_id"]) == ("cli-dst", dst.cluster_id)
    return a["id"], b["id"]


def task_json(url: str, task_id: str) -> dict[str, Any]:
    return as_json(ksync(url, "task", "show", task_id, "-o", "json"))  # type: ignore[no-any-return]


def wait_task(url: str, task_id: str, status: str, timeout_s: float = 60) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (t := task_json(url, task_id))["status"] == status and t,
        timeout_s=timeout_s, interval_s=0.3, what=f"{task_id} to be {status}",
    )


def wait_gone(url: str, task_id: str) -> None:
    wait_until(lambda: ksync(url, "task", "show", task_id).returncode == 4,
               timeout_s=60, interval_s=0.3, what=f"{task_id} to be gone")


def test_instance_add_list_show_rm(url: str, ids: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, _ = brokers
    out = ok(ksync(url, "instance", "add", "cli-extra", "-b", src.bootstrap))
    m = re.fullmatch(rf"added (ins-[a-z0-9]{{8}}) \(cli-extra\): Kafka cluster {src.cluster_id}, 1 broker\(s\)\n", out)
    assert m, out
    extra = m.group(1)

    table = ok(ksync(url, "instance", "list"))
    header, *rows = table.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "BOOTSTRAP"]
    for iid, name in ((ids[0], "cli-src"), (ids[1], "cli-dst"), (extra, "cli-extra")):
        assert any(r.split()[:2] == [iid, name] for r in rows), table

    listed = {i["id"]: i for i in as_json(ksync(url, "instance", "list", "-o", "json"))["instances"]}
    shown = as_json(ksync(url, "instance", "show", ids[0], "--output", "json"))
    assert shown == listed[ids[0]]
    assert shown["bootstrap_servers"] == src.bootstrap

    human = ok(ksync(url, "instance", "show", ids[0]))
    assert f"bootstrap servers:  {src.bootstrap}" in human
    assert "region:" in human and "ap-guangzhou" in human

    assert ok(ksync(url, "instance", "rm", extra)) == f"removed {extra}\n"
    assert extra in fails(ksync(url, "instance", "show", extra), 4)
    assert extra not in ok(ksync(url, "instance", "list"))


def test_instance_topics(url: str, ids: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, _ = brokers
    create_topic(src, "cli-topics-a", 3)
    table = ok(ksync(url, "instance", "topics", ids[0]))
    assert table.splitlines()[0].split() == ["TOPIC", "PARTITIONS", "REPLICATION"]
    assert any(r.split() == ["cli-topics-a", "3", "1"] for r in table.splitlines()[1:]), table
    topics = as_json(ksync(url, "instance", "topics", ids[0], "-o", "json"))["topics"]
    assert {"name": "cli-topics-a", "partitions": 3, "replication_factor": 1} in topics


def test_task_lifecycle(url: str, ids: tuple[str, str], brokers: tuple[KafkaCluster, KafkaCluster]) -> None:
    src, dst = brokers
    create_topic(src, "cli-orders", 2)
    p = producer(src)
    for i in range(100):
        p.produce("cli-orders", key=str(i).encode(), value=b"v", partition=i % 2)
    p.flush()

    created = as_json(ksync(url, "task", "create", "--name", "cli-copy", "--source", ids[0], "--topic", "cli-orders",
                            "--target", ids[1], "--start", "earliest", "--task-max", "1", "-o", "json"))
    tid = created["id"]
    assert created["status"] == "Unassigned"
    assert created["source"]["topics"] == ["cli-orders"]
    assert created["target"]["instance_id"] == ids[1]

    rows = ok(ksync(url, "task", "list")).splitlines()
    assert rows[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert any(r.split()[:2] == [tid, "cli-copy"] for r in rows[1:]), rows
    assert tid in {t["id"] for t in as_json(ksync(url, "task", "list", "-o", "json"))["tasks"]}

    wait_task(url, tid, "Running")
    read_all(dst, "cli-orders", 2, 100)
    # Progress reaches the end of both partitions: lag 0.
    wait_until(lambda: (t := task_json(url, tid))["progress"] and all(p["lag"] == 0 for p in t["progress"])
               and len(t["progress"]) == 2, timeout_s=60, interval_s=0.5, what="lag 0")

    human = ok(ksync(url, "task", "show", tid))
    assert re.search(r"^status: +Running$", human, re.MULTILINE), human
    assert "progress:" in human and "cli-orders" in human
    assert re.search(r"^lag: +0$", human, re.MULTILINE), human

    watched = ok(ksync(url, "task", "watch", tid, "--count", "2", "--interval", "0.5"))
    assert watched.count(f"{tid}  cli-copy  Running") == 2, watched
    assert "lag: 0" in watched and "RECORDS/S" in watched
    lines = ok(ksync(url, "task", "watch", tid, "--count", "2", "--interval", "0.2", "-o", "json")).splitlines()
    assert [json.loads(line)["id"] for line in lines] == [tid, tid]

    assert ok(ksync(url, "task", "pause", tid)).startswith(f"{tid}: pause requested; status now ")
    paused = wait_task(url, tid, "Paused")
    assert paused["paused_at"] is not None

    assert ok(ksync(url, "task", "start", tid, "--from", "earliest")).startswith(f"{tid}: start requested")
    wait_task(url, tid, "Running")

    restarted = as_json(ksync(url, "task", "restart", tid, "-o", "json"))
    assert restarted["id"] == tid
    wait_task(url, tid, "Running")

    assert ok(ksync(url, "task", "rm", tid)) == f"{tid}: delete requested; status now Terminating\n"
    wait_gone(url, tid)
    assert tid in fails(ksync(url, "task", "show", tid), 4)
    # Deleting the task left the data: every record is still on the target.
    read_all(dst, "cli-orders", 2, 100)


def test_task_create_from_file_and_conflicts(url: str, ids: tuple[str, str], tmp_path: Path) -> None:
    spec = {
        "name": "cli-file",
        "source": {"instance_id": ids[0], "topic_regex": "^cli-file-.*"},
        "target": {"instance_id": ids[1], "topic_prefix": "copy"},
        "options": {"task_max": 2},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    a = as_json(ksync(url, "task", "create", "--file", str(path), "-o", "json"))
    assert (a["name"], a["source"]["topic_regex"], a["target"]["topic_prefix"], a["options"]["task_max"]) == (
        "cli-file", "^cli-file-.*", "copy", 2
    )
    # From stdin, with flags overriding the file.
    b = as_json(ksync(url, "task", "create", "-f", "-", "--name", "cli-file-2", "--task-max", "1",
                      "--no-keep-partition", "--no-sync-configs", "-o", "json", stdin=json.dumps(spec)))
    assert (b["name"], b["options"]["task_max"], b["options"]["sync_topic_configs"], b["target"]["keep_partition"]) == (
        "cli-file-2", 1, False, False
    )

    # The name is taken: 409, exit 1, the API's message.
    err = fails(ksync(url, "task", "create", "--file", str(path)), 1)
    assert "409 conflict" in err and "cli-file" in err, err
    # An instance that a task uses cannot be removed.
    err = fails(ksync(url, "instance", "rm", ids[0]), 1)
    assert "409" in err, err

    for task in (a, b):
        ok(ksync(url, "task", "rm", task["id"]))
    for task in (a, b):
        wait_gone(url, task["id"])


def test_not_found_exits_4(url: str) -> None:
    cases = [
        ("task", "show", UNKNOWN_TASK),
        ("task", "pause", UNKNOWN_TASK),
        ("task", "start", UNKNOWN_TASK),
        ("task", "restart", UNKNOWN_TASK),
        ("task", "rm", UNKNOWN_TASK),
        ("task", "watch", UNKNOWN_TASK, "--count", "1"),
        ("instance", "show", UNKNOWN_INSTANCE),
        ("instance", "topics", UNKNOWN_INSTANCE),
        ("instance", "rm", UNKNOWN_INSTANCE),
    ]
    for args, result in zip(cases, ksync_each(url, cases), strict=True):
        err = fails(result, 4)
        assert err.startswith("error: ") and args[2] in err, (args, err)


def test_bad_input_exits_1_naming_the_field(url: str, ids: tuple[str, str]) -> None:
    base = ("task", "create", "--name", "cli-bad", "--source", ids[0], "--target", ids[1])
    cases = [
        ((*base, "--topic", "bad name!"), "source.topics"),
        ((*base, "--topic", "t", "--task-max", "100"), "options.task_max"),
        ((*base, "--topic-regex", "(unclosed"), "topic_regex"),
        ((*base, "--topic", "t", "--prefix", "no spaces"), "target.topic_prefix"),
        (base, "source"),  # empty selection
        (("task", "create", "--name", "cli-bad", "--source", UNKNOWN_INSTANCE, "--target", ids[1], "--topic", "t"),
         "source.instance_id"),
        (("instance", "add", "x", "-b", "no-port-here"), "bootstrap_servers"),
        (("instance", "add", "x", "-b", "127.0.0.1:9092", "--security-protocol", "SASL_PLAINTEXT"),
         "sasl_mechanism"),
    ]
    for (args, field), result in zip(cases, ksync_each(url, [args for args, _ in cases]), strict=True):
        err = fails(result, 1)
        assert err.startswith("error: 422 invalid_request: ") and field in err, (args, err)
    assert "cli-bad" not in ok(ksync(url, "task", "list"))


def test_usage_errors_exit_2(url: str, ids: tuple[str, str]) -> None:
    cases = [
        ("task", "create", "--topic", "t"),  # no --name, --source, --target
        ("task", "create", "--name", "n", "--source", ids[0], "--target", ids[1], "--topic", "t",
         "--start", "yesterday"),
        ("task", "create", "--name", "n", "--source", ids[0], "--target", ids[1], "--topic", "t",
         "--start", "timestamp"),  # without --timestamp-ms
        ("task", "create", "--file", "/nonexistent/spec.json"),
        ("task", "list", "--output", "xml"),
        ("task", "watch", "task-x", "--interval", "0"),
        ("task", "show"),
        ("task", "frobnicate"),
        ("instance", "add", "x"),  # no --bootstrap-servers
        ("instance", "list", "--api-url", "localhost:8080"),
    ]
    for args, result in zip(cases, ksync_each(url, cases), strict=True):
        assert result.returncode == 2, (args, result.stdout, result.stderr)
    # The codes are documented in the help.
    for group in ("instance", "task"):
        assert "Exit codes" in ok(ksync(url, group, "--help"))


def test_unreachable_server_exits_3() -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (("instance", "list"), ("task", "show", "task-x"), ("task", "watch", "task-x", "--count", "1")):
        err = fails(ksync(dead, *args), 3)
        assert f"cannot reach the ksync server at {dead}: connection refused" in err, err
    # --api-url wins over the environment.
    err = fails(ksync("http://127.0.0.1:1", "task", "list", "--api-url", dead), 3)
    assert dead in err


def test_api_key(tmp_path: Path) -> None:
    secret = "cli-test-secret-0123456789"
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"id": "AKIDcli", "secret": secret}]))
    srv = KsyncServer(str(tmp_path), "--api-keys-file", str(keys)).start()
    try:
        for result in (ksync(srv.url, "instance", "list"), ksync(srv.url, "task", "list", key="wrong-key-123")):
            err = fails(result, 1)
            assert "401 unauthorized" in err and "API key" in err, err
            assert secret not in err
        assert "give --api-key or set KSYNC_API_KEY" in fails(ksync(srv.url, "task", "list"), 1)
        assert ok(ksync(srv.url, "instance", "list", "--api-key", secret)) == "no instances\n"
        assert ok(ksync(srv.url, "task", "list", key=secret)) == "no tasks\n"
        assert as_json(ksync(srv.url, "task", "list", "-o", "json", key=secret)) == {"tasks": []}
        # A wrong key on the command line wins over a right one in the environment.
        fails(ksync(srv.url, "task", "list", "--api-key", "wrong-key-123", key=secret), 1)
    finally:
        srv.stop()
    assert secret not in srv.log()
