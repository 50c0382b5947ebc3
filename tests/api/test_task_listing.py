"""The kept answer of `GET /api/v1/tasks` (`ksync.api.task_listing`): handed out again
while current, never holding back a write this process made, never older than its
bound. The rule is driven with a clock of the test's own; the wiring through the app
with the real store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from helpers import task_body
from inprocess import add_instance_row, api_client, store_of

from ksync.api.task_listing import TaskListing
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskChange
from ksync.store.base import Revision


class Rig:
    """A listing over a counter of builds, a clock the test moves, and background jobs
    the test runs when it chooses."""

    def __init__(self) -> None:
        self.now = 100.0
        self.builds = 0
        self.revision = Revision()
        self.jobs: list[Callable[[], None]] = []
        self.listing = TaskListing(
            self._build, self.revision, fresh_s=1.0, max_age_s=3.0,
            clock=lambda: self.now, background=self.jobs.append,
        )

    def _build(self) -> bytes:
        self.builds += 1
        return f"build {self.builds}".encode()


def test_a_fresh_build_is_handed_out_again() -> None:
    rig = Rig()
    assert rig.listing.get() == b"build 1"
    rig.now += 0.9
    assert rig.listing.get() == b"build 1"
    assert rig.builds == 1 and rig.jobs == []


def test_a_write_counted_after_the_build_makes_the_next_answer_a_new_build() -> None:
    rig = Rig()
    rig.listing.get()
    rig.revision.bump()
    assert rig.listing.get() == b"build 2"


def test_an_ageing_build_is_handed_out_while_one_rebuild_runs_beside_it() -> None:
    rig = Rig()
    rig.listing.get()
    rig.now += 1.5
    assert rig.listing.get() == b"build 1"
    assert rig.listing.get() == b"build 1"
    assert len(rig.jobs) == 1, "a second request must not start a second rebuild"
    rig.jobs.pop()()
    assert rig.listing.get() == b"build 2"
    assert rig.builds == 2


def test_a_build_past_its_bound_is_never_handed_out() -> None:
    rig = Rig()
    rig.listing.get()
    rig.now += 3.0
    assert rig.listing.get() == b"build 2"
    assert rig.jobs == []


def test_a_failed_rebuild_beside_lets_the_next_request_build_again() -> None:
    rig = Rig()
    rig.listing.get()
    rig.now += 1.5
    failing = True

    def build() -> bytes:
        if failing:
            raise RuntimeError("store down")
        return b"recovered"

    rig.listing._build = build
    rig.listing.get()
    rig.jobs.pop()()  # logs the failure, keeps the old build
    failing = False
    rig.listing.get()
    assert len(rig.jobs) == 1, "the flag must be cleared after a failed rebuild"
    rig.now += 2.0
    assert rig.listing.get() == b"recovered"


def test_the_listing_shows_a_status_the_controller_just_wrote(tmp_path: Path) -> None:
    """A status written into the store by this process (as the controller does) is in
    the very next listing, however fresh the kept one is."""
    with api_client(tmp_path) as api:
        store = store_of(api)
        a, b = add_instance_row(store), add_instance_row(store)
        task_id = api.post("/api/v1/tasks", json=task_body(a, b, topics=["tl-one"])).json()["id"]
        before = {t["id"]: t["status"] for t in api.get("/api/v1/tasks").json()["tasks"]}
        assert before[task_id] == "Unassigned"
        store.tasks.observe(task_id, TaskChange(status=TaskStatus.RUNNING))
        after = {t["id"]: t["status"] for t in api.get("/api/v1/tasks").json()["tasks"]}
        assert after[task_id] == "Running"
        api.delete(f"/api/v1/tasks/{task_id}")
        gone = {t["id"]: t["status"] for t in api.get("/api/v1/tasks").json()["tasks"]}
        assert gone[task_id] == "Terminating"
