"""Controller takeover (issue 3, points 4 and 5): two servers on one PostgreSQL database
elect one active controller through the `controller` lease; when that server is SIGKILLed
the other takes over within the worker timeout (the lease's TTL) and every operation keeps
working through it.
"""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import add_instance, create_topic, task_body, wait_status, wait_until
from lifecycle.support import (
    IN_FLIGHT_BATCH,
    Follow,
    check_order_and_dups,
    create_task,
    merge,
    produce_now,
)

from .support import WORKER_TIMEOUT_S, query

pytestmark = pytest.mark.postgres

ROLE = re.compile(r"controller (\S+) (is active|stands by)")


def _active(server) -> str | None:
    """The server's controller holder id while its log's latest role line says active."""
    found = ROLE.findall(server.log())
    return found[-1][0] if found and found[-1][1] == "is active" else None


def _lease_holder(db_url: str) -> str | None:
    rows = query(db_url, "SELECT holder FROM leases WHERE name = 'controller'")
    return rows[0][0] if rows else None


def _the_one_active(db_url: str, *servers):
    """(active, standby) when exactly one server's log says active and it holds the lease."""
    active = [s for s in servers if _active(s)]
    if len(active) != 1 or _active(active[0]) != _lease_holder(db_url):
        return None
    return active[0], next(s for s in servers if s is not active[0])


def test_second_server_takes_over_the_controller_and_operations_keep_working(
    brokers, db_url, start_server
):
    source, target = brokers
    topic, partitions = f"takeover.data-{uuid.uuid4().hex[:6]}", 2
    create_topic(source, topic, partitions)
    with ThreadPoolExecutor(2) as pool:  # both start at once: each waits on its own health
        first, second = pool.map(lambda worker: start_server("--worker-id", worker), ["server-a", "server-b"])
    # Each log's latest word is a server's view at its last tick: on a starved machine a
    # first holder can lose its lease to the other before it next looks (and it stops
    # acting then, see `Controller._still_holds`). So wait for the views to settle, and
    # fail if both keep saying active: two controllers acting at once.
    active, standby = wait_until(
        lambda: _the_one_active(db_url, first, second),
        what="exactly one controller active, the holder of the lease",
    )
    holder = _active(active)
    assert f":{active.process.pid}:" in holder
    assert _lease_holder(db_url) == holder

    # Registered through the server that is about to die: the store is shared.
    client = active.client()
    src, dst = add_instance(client, source), add_instance(client, target)

    killed_at = time.monotonic()
    active.kill()
    wait_until(
        lambda: _active(standby), timeout_s=WORKER_TIMEOUT_S + 10, interval_s=0.1,
        what="the second server's controller to take over",
    )
    took = time.monotonic() - killed_at
    print(f"\ncontroller taken over {took:.1f}s after the kill (lease TTL {WORKER_TIMEOUT_S}s)")
    # The lease expires TTL after its last renewal (at most a 1 s tick before the kill) and
    # the standby looks once per tick: TTL + a tick, plus the log poll and a second for a
    # loaded machine.
    assert took <= WORKER_TIMEOUT_S + 3.0
    assert f":{standby.process.pid}:" in _active(standby)
    assert _lease_holder(db_url) == _active(standby)

    client = standby.client()
    assert {i["id"] for i in client.get("/api/v1/instances").json()["instances"]} >= {src, dst}
    task_id = create_task(client, task_body(src, dst, topics=[topic]))
    first_batch = produce_now(source, topic, partitions, "first", 200)
    running = wait_status(client, task_id, "Running", timeout_s=60)
    assert running["error"] is None
    # The dead server's worker leaves the list once its heartbeat is older than the worker
    # timeout (it may still be listed when the task already runs on the other one).
    survivor = "server-a" if standby is first else "server-b"
    wait_until(
        lambda: {w["id"] for w in client.get("/api/v1/workers").json()["workers"]} == {survivor},
        timeout_s=WORKER_TIMEOUT_S + 10, what=f"only {survivor}'s worker to be listed",
    )

    url = f"/api/v1/tasks/{task_id}"
    with Follow(target, topic, partitions) as follow:
        follow.wait_for(first_batch)
        assert client.post(f"{url}/pause").status_code == 202
        assert wait_status(client, task_id, "Paused", timeout_s=30)["paused_at"] is not None
        while_paused = produce_now(source, topic, partitions, "paused", 100)
        assert client.post(f"{url}/start").status_code == 202
        wait_status(client, task_id, "Running", timeout_s=60)
        last = produce_now(source, topic, partitions, "last", 100)
        sent = merge(first_batch, while_paused, last)
        follow.wait_for(sent)
        follow.poll(1.0)
        check_order_and_dups(follow.values, sent, bound=IN_FLIGHT_BATCH)
