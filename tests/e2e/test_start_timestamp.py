"""Start point `timestamp` end to end, with the broker's real timestamp lookup.

Records carry explicit CreateTimes around T (an hour ago: recent enough for the broker's
timestamp checks). A task starting at T copies each partition from its first record at or
after T, and a partition with nothing at or after T from its end. The start is a position,
not a filter: a record produced after the start is copied whatever its timestamp.
`earliest` and `latest` are covered end to end in test_start_points.py.
"""

from __future__ import annotations

import time

from helpers import wait_status, wait_until

from .topics_support import committed, create_topic, produce, read_now, start_task, tagged


def test_a_timestamp_start_copies_the_records_at_or_after_it_and_everything_produced_later(
    brokers, server, unique
):
    source, target = brokers
    topic = f"ts-{unique}"
    create_topic(source, topic, 4)
    t = int(time.time() * 1000) - 3_600_000
    before = [t - 50_000 + i * 1000 for i in range(5)]  # all < T
    after = [t + 1 + i * 1000 for i in range(5)]  # all > T
    old = [f"old-{i}" for i in range(5)]
    new = [f"new-{i}" for i in range(5)]
    layout = {
        0: ([*old, "at-T", *new], [*before, t, *after]),
        1: (old, before),  # nothing at or after T: starts at its end
        2: (new, after),  # everything at or after T
        # 3: empty
    }
    produce(
        source,
        topic,
        {p: [f"p{p}-{v}".encode() for v in values] for p, (values, _) in layout.items()},
        {p: stamps for p, (_, stamps) in layout.items()},
    )

    client = server.client()
    task_id = start_task(
        client, source, target, topics=[topic], start={"type": "timestamp", "timestamp_ms": t}
    )
    wait_status(client, task_id, "Running", timeout_s=90)
    # Running means every partition was assigned, so its start was resolved and committed;
    # the members may already have copied past it, so the starts are checked through what
    # reaches the target below, not through the progress at this instant.

    live = tagged("live", range(4), 3)
    late = {1: [b"p1-late-old-timestamp"]}  # produced after the start, stamped before T
    produce(source, topic, live)
    produce(source, topic, late, {1: [t - 1]})

    expected = {
        0: [b"p0-at-T", *(b"p0-new-%d" % i for i in range(5)), *live[0]],
        1: [*live[1], *late[1]],
        2: [*(b"p2-new-%d" % i for i in range(5)), *live[2]],
        3: live[3],
    }
    want = sum(map(len, expected.values()))

    def copied() -> dict[int, list[object]] | None:
        got = read_now(target, topic, 4)
        return got if sum(map(len, got.values())) >= want else None

    got = wait_until(copied, timeout_s=90, interval_s=0.5, what=f"{want} records on the target")
    assert {p: [m.value() for m in msgs] for p, msgs in got.items()} == expected
    # The CreateTimes travel with the records: what was copied is what was selected.
    assert [m.timestamp()[1] for m in got[0][:6]] == [t, *after]
    wait_until(
        lambda: (
            committed(client, task_id)
            == {(topic, 0): 14, (topic, 1): 9, (topic, 2): 8, (topic, 3): 3}
        ),
        what="progress at the end of every partition",
    )
