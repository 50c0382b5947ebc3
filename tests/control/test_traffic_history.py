"""Sync traffic through an instance over time (`instances.traffic_history`) and until when
a paused task keeps its progress (`lifecycle.progress_kept_until`), over a real store and
no broker: the tasks' 10 s history points are written as the controller writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from ksync.api.app import create_app
from ksync.control import instances, lifecycle
from ksync.domain.errors import NotFound
from ksync.domain.status import Desired, TaskStatus
from ksync.domain.task import TaskChange
from ksync.settings import Settings
from ksync.spec import InstanceSpec, TaskSpec
from ksync.store.repo import Store, utcnow


def instance(store: Store, name: str, quota: float | None = None) -> str:
    spec = InstanceSpec(name=name, bootstrap_servers="127.0.0.1:9", sync_quota_mb_s=quota)
    return store.instances.add(spec, f"cluster-{name}", 1).id


def task(store: Store, name: str, source: str, target: str) -> str:
    spec = TaskSpec.model_validate(
        {"name": name, "source": {"instance_id": source, "topics": ["t"]}, "target": {"instance_id": target}}
    )
    return store.tasks.add(spec, []).id


def point(store: Store, task_id: str, at: datetime, records: int, nbytes: int) -> None:
    """One 10 s step of a task's history: `records` and `nbytes` copied in it."""
    store.metrics.add_point(
        task_id, at, {"dt": 10.0, "records": records, "bytes": nbytes, "lag": 0, "partitions": [["t", 0, records, nbytes, 0]]}
    )


def test_traffic_sums_the_tasks_reading_from_and_writing_to_the_instance_per_step(store: Store) -> None:
    hub, a, b = instance(store, "hub", quota=5.0), instance(store, "a"), instance(store, "b")
    out_of_hub = task(store, "out", hub, a)
    into_hub = task(store, "in", b, hub)
    elsewhere = task(store, "elsewhere", a, b)
    since = utcnow().replace(microsecond=0) - timedelta(seconds=120)
    for i in range(6):  # the first minute: 6 points of 10 s
        at = since + timedelta(seconds=10 * i)
        point(store, out_of_hub, at, 100, 10_000)   # 10 records/s, 1000 B/s read from hub
        point(store, into_hub, at, 50, 20_000)      # 5 records/s, 2000 B/s written to hub
        point(store, elsewhere, at, 999, 999_999)   # not through hub
    point(store, out_of_hub, since + timedelta(seconds=60), 300, 30_000)  # the second minute

    view, points = instances.traffic_history(store, hub, since, 60)
    assert view.sync_quota_mb_s == 5.0
    assert [p.at for p in points[:3]] == [since, since + timedelta(seconds=60), since + timedelta(seconds=120)]
    first, second = points[0], points[1]
    assert (first.read_records_per_s, first.read_bytes_per_s) == (10.0, 1000.0)
    assert (first.written_records_per_s, first.written_bytes_per_s) == (5.0, 2000.0)
    assert (second.read_bytes_per_s, second.written_bytes_per_s) == (3000.0, 0.0)
    # Every step up to now is there, 0 where nothing moved.
    assert all(p.read_bytes_per_s == p.written_bytes_per_s == 0.0 for p in points[2:])

    with pytest.raises(NotFound):
        instances.traffic_history(store, "ins-zzzzzzzz", since, 60)


def test_a_task_within_one_instance_counts_both_ways(store: Store) -> None:
    solo = instance(store, "solo")
    both = task(store, "loopless", solo, solo)
    since = utcnow().replace(microsecond=0) - timedelta(seconds=60)
    point(store, both, since, 100, 5_000)
    _, points = instances.traffic_history(store, solo, since, 60)
    assert (points[0].read_bytes_per_s, points[0].written_bytes_per_s) == (500.0, 500.0)


def test_progress_is_kept_until_the_retention_ends_and_the_api_dates_it(store: Store) -> None:
    paused = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    day = timedelta(hours=24)
    assert lifecycle.progress_kept_until(paused, day) == paused + day
    assert lifecycle.progress_kept_until(None, day) is None
    assert lifecycle.progress_kept_until(paused, lifecycle.NEVER_EXPIRES) is None
    assert lifecycle.retention_expired(paused, day, paused + day + timedelta(seconds=1))
    assert not lifecycle.retention_expired(paused, day, paused + day)
    assert not lifecycle.retention_expired(paused, lifecycle.NEVER_EXPIRES, paused + 1000 * day)

    src, dst = instance(store, "src"), instance(store, "dst")
    tid = task(store, "paused", src, dst)
    store.tasks.change(tid, lambda _: TaskChange(desired=Desired.PAUSED, paused_at=paused, status=TaskStatus.PAUSED))
    settings = Settings(allowed_hosts=("testserver",), pause_retention_s=3600)
    with TestClient(create_app(store, settings)) as client:
        body = client.get(f"/api/v1/tasks/{tid}").json()
        assert body["progress_kept_until"] == "2026-01-01T13:00:00Z"
        listed = client.get("/api/v1/tasks").json()["tasks"]
        assert [t["progress_kept_until"] for t in listed] == ["2026-01-01T13:00:00Z"]
        r = client.get(f"/api/v1/instances/{src}/traffic/history?since=600&step=60")
        assert r.status_code == 200, r.text
        assert r.json()["sync_quota_mb_s"] is None and len(r.json()["points"]) in (10, 11)
        assert client.get(f"/api/v1/instances/{src}/traffic/history?step=15").status_code == 422
        assert client.get("/api/v1/instances/ins-zzzzzzzz/traffic/history").status_code == 404
