"""Real consumer-group rebalancing on Apache Kafka: three members (`task_max: 3`) of one
task, one per process (a server and two `ksync worker`s on one PostgreSQL database), over
12 partitions.

* Spread: Kafka's coordinator gives each member a third (4 partitions) within a few
  seconds of the task's creation, as the REST API reports it.
* A member's worker SIGKILLed mid-stream: nothing leaves the group, so the coordinator
  notices only when the member's session expires (`session.timeout.ms`, 6 s here), then
  moves its partitions to live members in one rebalance. Meanwhile the controller has
  given the dead worker's slot to a live process (`--worker-timeout`, 5 s), so they go to
  that member, on a live worker. The REST API shows live members owning all 12 within
  that bound, and every source record ends up on the target (records after the dead
  member's last commit are copied again: repeats, never loss).
"""

from __future__ import annotations

import time

import pytest
from helpers import (
    TEST_SESSION_TIMEOUT_MS,
    add_instance,
    create_topic,
    task_body,
    wait_status,
    wait_until,
)
from lifecycle.support import Follow, SteadyProducer, check_order_and_dups, create_task

from .rebalance_support import MemberWatch, owned_without, spread_evenly, warm_group_coordinator

pytestmark = pytest.mark.postgres

PARTITIONS, MEMBERS = 12, 3
SESSION_S = TEST_SESSION_TIMEOUT_MS / 1000
# From the task's creation: a controller tick and the topic resolution (about a second),
# the workers' next reconcile (heartbeat 1 s), then members joining the group and Kafka's
# cooperative rebalances (two rounds per join), reported with the next heartbeat. About
# 4-5 s measured on a loaded machine; the bound leaves room for one shared with other suites.
SPREAD_BOUND_S = 15.0
# From the kill: the dead member's session expiring, one cooperative rebalance among the
# live members (a heartbeat, SESSION_S / 5, to learn of it, then two join rounds), and the
# next heartbeat report; the margin is for a loaded machine.
MOVE_BOUND_S = SESSION_S + 10.0
# The most records the dead member may have copied after its last commit and that its
# successor copies again: a commit interval (1 s) of the whole load, with room to spare.
REPEAT_BOUND = 5_000


def test_three_members_split_twelve_partitions_and_a_killed_members_share_moves(
    brokers, start_server, start_worker, unique
):
    source, target = brokers
    topic = f"rebalance.{unique}"
    create_topic(source, topic, PARTITIONS)
    warm_group_coordinator(source, topic)
    server = start_server("--worker-id", "server-0")
    workers = {w: start_worker(w) for w in ("worker-1", "worker-2")}
    client = server.client()
    wait_until(
        lambda: {w["id"] for w in client.get("/api/v1/workers").json()["workers"]}
        == {"server-0", *workers},
        timeout_s=60,
        what="the server and both workers to heartbeat",
    )
    src, dst = add_instance(client, source), add_instance(client, target)

    load = SteadyProducer(source, topic, PARTITIONS, rate=1_500)
    load.start()
    created = time.monotonic()
    task = create_task(client, task_body(src, dst, topics=[topic], options={"task_max": MEMBERS}))
    with MemberWatch(server.url, task) as watch, Follow(target, topic, PARTITIONS) as follow:
        spread_at = watch.wait_for(
            lambda v: spread_evenly(v, MEMBERS, PARTITIONS),
            since=created,
            timeout_s=90,
            what="three running members owning 4 partitions each",
        )
        print(f"\nmembers after creation: {watch.history(created)}")
        print(f"spread 4/4/4 {spread_at - created:.1f}s after the task was created")
        assert {m.worker for m in watch.latest()} == {"server-0", *workers}, "one member per process"
        assert spread_at - created <= SPREAD_BOUND_S, (
            f"4/4/4 only {spread_at - created:.1f}s after creation (bound {SPREAD_BOUND_S}s)"
        )
        wait_until(lambda: follow.poll(0.2) >= 3_000, timeout_s=60, what="records flowing")

        doomed = "worker-1"
        owned_before = next(m.partitions for m in watch.latest() if m.worker == doomed)
        killed_at = time.monotonic()
        workers[doomed].kill()
        moved_at = watch.wait_for(
            lambda v: owned_without(v, doomed) == PARTITIONS,
            since=killed_at,
            timeout_s=90,
            what=f"the live members to own all {PARTITIONS} partitions",
        )
        print(f"members after the kill: {watch.history(killed_at)}")
        print(f"{owned_before} partitions moved {moved_at - killed_at:.1f}s after the kill")
        assert moved_at - killed_at <= MOVE_BOUND_S, (
            f"the dead member's partitions moved {moved_at - killed_at:.1f}s after the kill "
            f"(bound: session {SESSION_S}s + a rebalance = {MOVE_BOUND_S}s)"
        )

        # The controller gives the dead worker's slot to a live one: three members again.
        wait_status(client, task, "Running", timeout_s=90)
        watch.wait_for(
            lambda v: spread_evenly(v, MEMBERS, PARTITIONS) and doomed not in {m.worker for m in v},
            since=killed_at,
            timeout_s=90,
            what="three members on the live processes, 4 partitions each",
        )
        copied = follow.poll(0.2)
        wait_until(lambda: follow.poll(0.2) >= copied + 1_500, timeout_s=60, what="records flowing after the move")
        sent = load.finish()
        follow.wait_for(sent, timeout_s=120)
        follow.poll(1.0)
        check_order_and_dups(follow.values, sent, bound=REPEAT_BOUND)
